"""Fixtures for mirror tests: a registered mirror with its keys and token."""

from dataclasses import dataclass

import pytest
from carhistory_verifier import note

from ledger import mirrors, services
from tests.ledger.factories import EntryFactory

MIRROR_NAME = "registry.example/mirror"


@dataclass(frozen=True)
class RegisteredMirror:
    key: note.CosignatureSigner
    token: str


@pytest.fixture
def mirror_key() -> note.CosignatureSigner:
    return note.CosignatureSigner.generate(MIRROR_NAME)


@pytest.fixture
def registered_mirror(mirror_key, transactional_db) -> RegisteredMirror:
    registered = mirrors.register_mirror(
        name=MIRROR_NAME, verifier_key=mirror_key.verifier().key_string()
    )
    return RegisteredMirror(key=mirror_key, token=registered.token)


def grow_log(count: int, **fields) -> None:
    services.enqueue_entries(entries=EntryFactory.build_batch(count, **fields))
    services.integrate_pending(wait=True)

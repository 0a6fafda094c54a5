"""Fixtures for mirror tests: a registered mirror with its keys and token."""

from dataclasses import dataclass

import pytest
from carhistory_verifier import note
from django.conf import settings

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
    """Grow the log by `count` leaves: entries, and the vin_index entry that ends each of the
    sequencer's batches (SPEC §7)."""
    entries = max(1, count - 1)
    while entries > 1 and entries + -(-entries // settings.LEDGER_BATCH_SIZE) > count:
        entries -= 1
    services.enqueue_entries(entries=EntryFactory.build_batch(entries, **fields))
    services.integrate_pending(wait=True)

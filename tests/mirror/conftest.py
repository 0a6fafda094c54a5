"""Fixtures for mirror tests: a registered mirror with its keys and token."""

import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from carhistory_verifier import note
from carhistory_verifier.tiles import decode_entry_bundle
from django.conf import settings

from ledger import mirrors, services
from ledger.models import Entry
from tests.ledger.factories import EntryFactory

MIRROR_NAME = "registry.example/mirror"
ROOT = Path(__file__).resolve().parents[2]


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


@pytest.fixture
def mirror_files(tmp_path, log_key, registered_mirror):
    files = {
        "log_key": tmp_path / "log.pub",
        "key": tmp_path / "mirror.key",
        "token": tmp_path / "mirror.token",
        "store": tmp_path / "store" / "mirror.sqlite3",
    }
    files["log_key"].write_text(log_key.verifier().key_string() + "\n", encoding="utf-8")
    files["key"].write_text(registered_mirror.key.key_string() + "\n", encoding="utf-8")
    files["token"].write_text(registered_mirror.token + "\n", encoding="utf-8")
    files["store"].parent.mkdir()
    return files


def sync_command(live_server, files) -> list[str]:
    return [
        sys.executable,
        "-m",
        "carhistory_verifier.mirror.cli",
        "sync",
        "--log",
        live_server.url,
        "--token",
        f"@{files['token']}",
        "--key",
        f"@{files['key']}",
        "--log-key",
        f"@{files['log_key']}",
        "--store",
        str(files["store"]),
    ]


@pytest.fixture
def run_mirror(live_server, mirror_files):
    def run() -> subprocess.CompletedProcess:
        return subprocess.run(
            sync_command(live_server, mirror_files),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            cwd=ROOT,
        )

    return run


def stored_entries(store: Path) -> list[bytes]:
    with sqlite3.connect(store) as database:
        rows = database.execute("SELECT data FROM bundles ORDER BY tile")
        return [entry for (data,) in rows for entry in decode_entry_bundle(bytes(data))]


def logged_entries() -> list[bytes]:
    return [bytes(data) for data in Entry.objects.order_by("index").values_list("data", flat=True)]

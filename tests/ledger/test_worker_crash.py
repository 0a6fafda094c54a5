"""A real Celery worker killed in the middle of a batch leaves the old tree or the new one."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from carhistory_verifier import merkle, protocol
from carhistory_verifier.entry import b64encode
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from carhistory.celery import app
from ledger import selectors, services, vin_index
from ledger.models import Checkpoint, Entry, PendingEntry
from tests.ledger.factories import EntryFactory
from tests.ledger.test_sequencer import enqueue_without_integrating, sequencer_lock_held_elsewhere

PENDING = 30_000


def sequencer_lock_holders() -> int:
    # A bigint advisory key shows up split: high half in classid, low half in objid.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = %s AND objid = %s",
            [services.SEQUENCER_LOCK_KEY >> 32, services.SEQUENCER_LOCK_KEY & 0xFFFFFFFF],
        )
        return cursor.fetchone()[0]


def wait_for(condition, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def start_worker(log_key, log_path, *, batch_size: int = PENDING) -> subprocess.Popen:
    database = connection.settings_dict
    environment = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
            f"{database['NAME']}"
        ),
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "LEDGER_SIGNING_KEY": log_key.key_string(),
        "LEDGER_VRF_KEY": settings.LEDGER_VRF_KEY,
        # One batch for everything, so the kill lands inside the sequencer's transaction.
        "LEDGER_BATCH_SIZE": str(batch_size),
    }
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "carhistory",
            "worker",
            "-P",
            "solo",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ],
        cwd=settings.BASE_DIR,
        env=environment,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
    )


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_a_worker_killed_mid_batch_leaves_a_whole_tree(log_key, tmp_path):
    enqueue_without_integrating(1)
    services.integrate_pending()
    # Thousands of VINs, so the killed batch also rewrites thousands of map paths.
    with sequencer_lock_held_elsewhere():
        services.enqueue_entries(
            entries=[
                EntryFactory(vin=f"LSVAU2180N{number % 3000:07d}") for number in range(PENDING)
            ]
        )
    pending_ids = set(PendingEntry.objects.values_list("id", flat=True))
    app.control.purge()
    worker = start_worker(log_key, tmp_path / "worker.log")
    try:
        app.send_task("ledger.tasks.integrate_pending")
        wait_for(lambda: sequencer_lock_holders() == 1, timeout=60, what="the worker's lock")
        time.sleep(0.5)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    # PostgreSQL rolls the dead client's transaction back and frees its lock.
    wait_for(lambda: sequencer_lock_holders() == 0, timeout=60, what="the lock's release")

    # Each batch ends with its vin_index entry: one entry and its own, then PENDING and its.
    size = selectors.tree_size()
    assert size in (2, 2 + PENDING + 1)
    # The audit rebuilds the VIN index from the entries and compares every stored node and
    # every vin_index entry: the map is the old one or the new one, never a mix.
    call_command("verify_ledger")
    assert_map_is_the_last_committed(size)
    stored_leaves = [
        bytes(v) for v in Entry.objects.order_by("index").values_list("leaf_hash", flat=True)
    ]
    assert len(stored_leaves) == size
    assert bytes(selectors.latest_checkpoint().root_hash) == merkle.root_from_leaf_hashes(
        stored_leaves
    )
    integrated = set(
        Entry.objects.filter(index__gte=2, pending_id__isnull=False).values_list(
            "pending_id", flat=True
        )
    )
    still_pending = set(PendingEntry.objects.values_list("id", flat=True))
    assert integrated.isdisjoint(still_pending)
    assert integrated | still_pending == pending_ids

    services.integrate_pending()
    call_command("verify_ledger")
    # Every checkpoint after the first added its own vin_index entry.
    size = selectors.tree_size()
    assert size == 2 + PENDING + Checkpoint.objects.count() - 1
    assert_map_is_the_last_committed(size)
    assert (
        set(
            Entry.objects.filter(index__gte=2, pending_id__isnull=False).values_list(
                "pending_id", flat=True
            )
        )
        == pending_ids
    )
    assert not PendingEntry.objects.exists()


def assert_map_is_the_last_committed(size: int) -> None:
    last = json.loads(bytes(Entry.objects.get(index=size - 1).data))
    assert last["type"] == protocol.VIN_INDEX
    assert last["facts"]["root"] == b64encode(vin_index.map_root())

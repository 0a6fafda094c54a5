"""Integration never waits on one queued task (issue 14 §8): a worker SIGKILLed inside the
sequencer takes its task message with it (acks late: Redis hands it back only after its
visibility timeout, an hour), yet with beat running, as the README's process list says, the
worker that replaces it integrates every pending row within seconds."""

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core.management import call_command

from ledger import selectors
from ledger.models import Checkpoint, Entry, PendingEntry
from tests.ledger.test_sequencer import enqueue_without_integrating
from tests.ledger.test_worker_crash import sequencer_lock_holders, start_worker, wait_for

PENDING = 20_000
# Beat sends the sequencer task every 5 s: a ready worker starts on the pending rows within that
# and a little slack for a loaded machine.
PICKUP_SECONDS = 10
# Several sequencer transactions, so the kill surely lands while rows are still pending.
BATCH_SIZE = 2_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test's own, so no other test's worker takes its messages."""
    port = free_port()
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    wait_for(lambda: _answers(url), timeout=10, what="redis-server")
    yield url
    server.terminate()
    server.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        return redis.Redis.from_url(url).ping()
    except redis.ConnectionError:
        return False


def start_beat(broker_url: str, tmp_path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            # The venv of the running Python, as start_worker: a worktree has no .venv.
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "carhistory",
            "beat",
            "--schedule",
            str(tmp_path / "beat-schedule"),
        ],
        cwd=settings.BASE_DIR,
        env=_environment(broker_url),
        stdout=(tmp_path / "beat.log").open("w"),
        stderr=subprocess.STDOUT,
    )


def _environment(broker_url: str) -> dict[str, str]:
    import os

    return {**os.environ, "REDIS_URL": broker_url, "CELERY_TASK_ALWAYS_EAGER": "0"}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_a_replacement_worker_integrates_everything_within_seconds_of_a_sigkill(
    log_key, tmp_path, own_redis, monkeypatch
):
    enqueue_without_integrating(PENDING)
    monkeypatch.setenv("REDIS_URL", own_redis)
    beat = start_beat(own_redis, tmp_path)
    worker = start_worker(log_key, tmp_path / "worker-1.log", batch_size=BATCH_SIZE)
    replacement = None
    try:
        # Beat's task reaches the worker, which takes the sequencer's lock: kill it in there.
        wait_for(lambda: sequencer_lock_holders() == 1, timeout=60, what="the worker's lock")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        wait_for(lambda: sequencer_lock_holders() == 0, timeout=60, what="the lock's release")
        assert PendingEntry.objects.exists(), "the kill came too late to test anything"

        log = tmp_path / "worker-2.log"
        replacement = start_worker(log_key, log, batch_size=BATCH_SIZE)
        wait_for(lambda: "ready." in log.read_text(), timeout=120, what="the new worker")
        ready = time.monotonic()
        wait_for(
            lambda: sequencer_lock_holders() == 1 or not PendingEntry.objects.exists(),
            timeout=PICKUP_SECONDS + 60,
            what="the new worker to take up the pending rows",
        )
        picked_up_in = time.monotonic() - ready
        wait_for(
            lambda: not PendingEntry.objects.exists(),
            timeout=120,
            what="the pending rows to be integrated",
        )
    finally:
        for process in (worker, replacement, beat):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()

    assert picked_up_in < PICKUP_SECONDS, f"taken up only {picked_up_in:.1f} s after start"
    # Each checkpoint ends with its batch's vin_index entry (SPEC §7), which has no pending id.
    assert selectors.tree_size() == PENDING + Checkpoint.objects.count()
    submitted = Entry.objects.filter(pending_id__isnull=False)
    assert submitted.values("pending_id").distinct().count() == PENDING
    call_command("verify_ledger")

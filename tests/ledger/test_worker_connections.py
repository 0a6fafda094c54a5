"""A real Celery worker keeps its PostgreSQL connection from one task to the next, and a kept
connection that died meanwhile costs no task."""

import time

import pytest
from django.db import connection

from carhistory.celery import app
from carhistory.watch.models import Cursor
from ledger import selectors, services
from ledger.models import PendingEntry
from tests.ledger.factories import EntryFactory
from tests.ledger.test_sequencer import sequencer_lock_held_elsewhere
from tests.ledger.test_worker_crash import start_worker, wait_for


def worker_backends(*, idle: bool = False) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND (state = 'idle' OR NOT %s)",
            [idle],
        )
        return {pid for (pid,) in cursor.fetchall()}


def integrate_one_by_the_worker() -> None:
    size = selectors.tree_size()
    with sequencer_lock_held_elsewhere():
        services.enqueue_entries(entries=EntryFactory.build_batch(1))
    app.send_task("ledger.tasks.integrate_pending")
    wait_for(
        lambda: selectors.tree_size() > size and not PendingEntry.objects.exists(),
        timeout=60,
        what="the worker's sequencer run",
    )
    # The run's announcement queues a watch task after it: let that finish too.
    wait_for(
        lambda: Cursor.objects.filter(next_index=selectors.tree_size()).exists(),
        timeout=60,
        what="the worker's watch task",
    )


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_the_worker_reuses_its_connection_and_survives_losing_it(log_key, tmp_path):
    app.control.purge()
    worker = start_worker(log_key, tmp_path / "worker.log")
    try:
        seen = []
        for _ in range(3):
            integrate_one_by_the_worker()
            wait_for(lambda: worker_backends(idle=True), timeout=10, what="an idle connection")
            seen.append(worker_backends())
        # One backend served every task: none was opened per task and closed after it.
        assert len(seen[0]) == 1
        assert seen == [seen[0]] * 3

        # Between tasks: the watch task's last queries (its deliveries) take milliseconds.
        time.sleep(1)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [next(iter(seen[0]))])
        wait_for(lambda: not worker_backends(), timeout=10, what="the backend's end")
        # The next task's health check finds the connection dead and opens another.
        integrate_one_by_the_worker()
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert "OperationalError" not in (tmp_path / "worker.log").read_text()

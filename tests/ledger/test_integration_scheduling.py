"""Integration is scheduled once for many commits, yet every committed entry is integrated:
a commit queues a sequencer run only when none is due to look after it
(`sequencer.claim_integration_run`), and a run that finds the lock taken leaves that to the
holder, which looks again before it stops. The broker's publish is recorded instead of sent,
so the test decides when a queued run starts; PostgreSQL and Redis are real."""

import threading
import time

import pytest
from django.conf import settings
from django.db import connection

from ledger import selectors, sequencer, services, tasks
from ledger.models import PendingEntry
from tests.ledger.factories import EntryFactory


@pytest.fixture
def queued_runs(monkeypatch) -> list[str]:
    """The sequencer runs queued, in order: each is started by the test (`start_run`)."""
    queued: list[str] = []

    def queue(countdown: float) -> None:
        # A batch interval later: a run finds the commits of that interval too.
        assert countdown == settings.LEDGER_BATCH_INTERVAL_SECONDS
        queued.append("run")

    monkeypatch.setattr(tasks.integrate_pending, "apply_async", queue)
    return queued


def start_run() -> int:
    """A queued run starting in the worker: the task itself, as Celery would call it."""
    return tasks.integrate_pending()


@pytest.mark.django_db(transaction=True)
def test_commits_before_the_queued_run_starts_queue_no_other(queued_runs):
    pending = [services.enqueue_entry(entry=EntryFactory()) for _ in range(50)]
    assert queued_runs == ["run"]
    assert start_run() == 50
    assert all(selectors.entry_for_pending(row.id) is not None for row in pending)
    # The run has looked: the next commit is after its look and queues a run of its own.
    services.enqueue_entry(entry=EntryFactory())
    assert queued_runs == ["run", "run"]
    assert start_run() == 1


@pytest.mark.django_db(transaction=True)
def test_an_entry_committed_while_a_run_holds_the_lock_is_integrated_by_that_run(
    queued_runs, monkeypatch
):
    services.enqueue_entries(entries=EntryFactory.build_batch(3))
    late: list[int] = []
    busy_answers: list[int] = []

    def another_submitter() -> None:
        # Its own connection: it commits after the holder's look, and its queued run starts
        # at once and finds the lock taken.
        try:
            late.append(services.enqueue_entry(entry=EntryFactory()).id)
            busy_answers.append(start_run())
        finally:
            connection.close()

    looked = sequencer._integrate_batch

    def look_with_a_commit_beside_it(batch_size, **options):
        result = looked(batch_size, **options)
        if not late:
            submitter = threading.Thread(target=another_submitter)
            submitter.start()
            submitter.join()
        return result

    monkeypatch.setattr(sequencer, "_integrate_batch", look_with_a_commit_beside_it)
    assert queued_runs == ["run"]
    result = start_run()
    assert queued_runs == ["run", "run"]
    assert busy_answers == [0]  # the second run found the lock taken and left at once
    assert result == 4  # the holder looked again: the three, then the late one
    assert selectors.entry_for_pending(late[0]) is not None
    assert not PendingEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_lost_run_holds_back_scheduling_only_until_the_mark_expires(queued_runs, monkeypatch):
    monkeypatch.setattr(sequencer, "INTEGRATION_QUEUED_SECONDS", 1)
    services.enqueue_entry(entry=EntryFactory())
    assert queued_runs == ["run"]  # ... and its message is lost: that run never starts
    services.enqueue_entry(entry=EntryFactory())
    assert queued_runs == ["run"]
    time.sleep(1.5)
    services.enqueue_entry(entry=EntryFactory())
    assert queued_runs == ["run", "run"]
    assert start_run() == 3


@pytest.mark.django_db(transaction=True)
def test_a_run_that_looks_again_waits_for_the_batch_interval(queued_runs, monkeypatch, settings):
    # Under a stream of single submissions, batches of a few entries each cost the worker a
    # whole batch's CPU: the next look waits, and takes what came meanwhile in one batch.
    settings.LEDGER_BATCH_INTERVAL_SECONDS = 0.5
    services.enqueue_entries(entries=EntryFactory.build_batch(2))
    looks: list[float] = []
    looked = sequencer._integrate_batch

    def timed_look(batch_size, **options):
        looks.append(time.monotonic())
        result = looked(batch_size, **options)
        if len(looks) == 1:
            submitter = threading.Thread(target=commit_from_another_connection)
            submitter.start()
            submitter.join()
        return result

    def commit_from_another_connection() -> None:
        try:
            services.enqueue_entry(entry=EntryFactory())
        finally:
            connection.close()

    monkeypatch.setattr(sequencer, "_integrate_batch", timed_look)
    assert start_run() == 3
    assert len(looks) == 2
    assert looks[1] - looks[0] >= 0.49  # the interval, give or take the clock reads around it


# --- leases: a submission's rate limit and its sequencer look in one round trip ---------------


@pytest.fixture
def leases(settings, monkeypatch) -> list[str]:
    """Submissions take leases, as with a worker; the claims made after commits, recorded."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    claims: list[str] = []
    claim = services.claim_integration_run

    def recorded_claim() -> bool:
        claims.append("claim")
        return claim()

    monkeypatch.setattr(services, "claim_integration_run", recorded_claim)
    return claims


def take_lease(allowed: int = 100) -> tuple[int, int]:
    return services.count_and_lease_integration(
        counter_key="throttle:source:test", window_seconds=60, allowed=allowed
    )


@pytest.mark.django_db(transaction=True)
def test_a_commit_within_its_lease_claims_nothing_and_the_queued_run_finds_it(queued_runs, leases):
    assert take_lease() == (1, 60)
    assert queued_runs == ["run"]  # the lease set the mark: the submission queued the run
    services.enqueue_entry(entry=EntryFactory())
    assert leases == []  # no second round trip after the commit
    assert take_lease() == (2, 60)
    services.enqueue_entry(entry=EntryFactory())
    assert queued_runs == ["run"] and leases == []
    assert start_run() == 2


@pytest.mark.django_db(transaction=True)
def test_a_run_looks_again_until_the_lease_of_a_late_commit_has_ended(
    queued_runs, leases, monkeypatch
):
    # The attack on the protocol: a submission takes its lease, the run it queued looks before
    # the submission commits, and the submission claims nothing after its commit. The run
    # must not stop at a look that found nothing while that lease is alive.
    leased, looked, committed = threading.Event(), threading.Event(), []

    def slow_submitter() -> None:
        try:
            take_lease()
            leased.set()
            looked.wait(5)
            committed.append(services.enqueue_entry(entry=EntryFactory()).id)
        finally:
            connection.close()

    looks = sequencer._integrate_batch

    def first_look_before_the_commit(batch_size, **options):
        result = looks(batch_size, **options)
        looked.set()
        return result

    submitter = threading.Thread(target=slow_submitter)
    submitter.start()
    assert leased.wait(5)
    monkeypatch.setattr(sequencer, "_integrate_batch", first_look_before_the_commit)
    started = time.monotonic()
    assert start_run() == 1
    submitter.join()
    assert leases == []
    assert queued_runs == ["run"]
    assert selectors.entry_for_pending(committed[0]) is not None
    # ... and it stopped once the lease had ended, a look later.
    assert time.monotonic() - started < sequencer.INTEGRATION_LEASE_SECONDS + 1


@pytest.mark.django_db(transaction=True)
def test_a_commit_after_its_lease_has_ended_claims_as_before(queued_runs, leases, monkeypatch):
    monkeypatch.setattr(sequencer, "INTEGRATION_LEASE_SECONDS", 0.3)
    take_lease()
    time.sleep(0.25)  # past the lease less its margin
    services.enqueue_entry(entry=EntryFactory())
    assert leases == ["claim"]
    assert queued_runs == ["run"]  # the lease's mark still stands: the claim queues no other
    assert start_run() == 1


@pytest.mark.django_db(transaction=True)
def test_a_request_over_its_rate_limit_takes_no_lease(queued_runs, leases):
    take_lease(allowed=1)
    assert start_run() == 0  # clears the mark; the lease is still alive
    counted, _seconds_left = take_lease(allowed=1)
    assert counted == 2
    assert not sequencer.lease_covers_now()
    assert queued_runs == ["run"]  # no mark set, no run queued
    services.enqueue_entry(entry=EntryFactory())
    assert leases == ["claim"]
    assert queued_runs == ["run", "run"]


@pytest.mark.django_db(transaction=True)
def test_a_lease_taken_while_a_run_is_under_way_queues_no_other_run(
    queued_runs, leases, monkeypatch
):
    # At hundreds of submissions a second, a run queued after every look only found the lock
    # taken: the run under way looks after these commits anyway.
    take_lease()
    services.enqueue_entry(entry=EntryFactory())
    assert queued_runs == ["run"]
    late: list[int] = []
    looks = sequencer._integrate_batch

    def look_with_submissions_beside_it(batch_size, **options):
        result = looks(batch_size, **options)
        if len(late) < 3:
            submitter = threading.Thread(target=submit_with_a_lease, args=(late,))
            submitter.start()
            submitter.join()
        return result

    monkeypatch.setattr(sequencer, "_integrate_batch", look_with_submissions_beside_it)
    assert start_run() == 4
    assert queued_runs == ["run"] and leases == []
    assert all(selectors.entry_for_pending(pending_id) for pending_id in late)


def submit_with_a_lease(committed: list[int]) -> None:
    try:
        take_lease()
        committed.append(services.enqueue_entry(entry=EntryFactory()).id)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_run_does_not_stop_when_a_lease_was_taken_after_its_last_look_began(
    queued_runs, leases, monkeypatch
):
    # The race on the way out: a submission finds the run under way (so queues nothing),
    # takes its lease after the run's last look began and commits after that look. The run
    # must look again, although that look's step found no lease alive.
    late: list[int] = []
    looks = sequencer._integrate_batch

    def look_then_a_late_submission(batch_size, **options):
        result = looks(batch_size, **options)
        if not late:
            submitter = threading.Thread(target=submit_with_a_lease, args=(late,))
            submitter.start()
            submitter.join()
        return result

    monkeypatch.setattr(sequencer, "_integrate_batch", look_then_a_late_submission)
    assert start_run() == 1  # beat's run, say: nothing pending, no lease alive at its step
    assert queued_runs == [] and leases == []  # the submission found the run under way
    assert selectors.entry_for_pending(late[0]) is not None

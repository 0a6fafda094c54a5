"""Platform entries are only enqueued, yet each keeps its place among a source's events when a
registration or a status change races a submission (SPEC §2: a key's `source_key` entry comes
before anything it signs; a rotated-out key signs nothing after the rotation).

What orders them is the organisation row: `register_signing_key` and `set_source_status` hold it
FOR UPDATE while they enqueue, and a submission takes it FOR SHARE before it reads the current
key and enqueues. So the one that locks second gets the larger pending id, and the sequencer
integrates in pending-id order. Two real connections race here, on PostgreSQL.
"""

import threading
import time

import pytest
from carhistory_verifier import note
from django.db import connection, connections, transaction

from carhistory.sources.selectors import signing_key_index
from carhistory.sources.services import (
    Outcome,
    register_signing_key,
    set_source_status,
    submit_event,
)
from ledger.selectors import entry_for_pending
from ledger.services import integrate_pending
from tests.sources.factories import OrganisationFactory, event_payload, signed_payload

pytestmark = pytest.mark.django_db(transaction=True)

WAIT_SECONDS = 10


class Worker(threading.Thread):
    """Runs `work` on a connection of its own; keeps its result or error."""

    def __init__(self, work):
        super().__init__(daemon=True)
        self.work = work
        self.result = None
        self.error = None

    def run(self):
        try:
            self.result = self.work()
        except Exception as error:  # handed to the test, which re-raises it
            self.error = error
        finally:
            connections.close_all()

    def outcome(self):
        self.join(WAIT_SECONDS)
        assert not self.is_alive(), "the worker never finished"
        if self.error is not None:
            raise self.error
        return self.result


def _held_open(act, acted: threading.Event, release: threading.Event):
    """`act` inside a transaction that stays open, its locks held, until `release`."""

    def work():
        with transaction.atomic():
            result = act()
            acted.set()
            assert release.wait(WAIT_SECONDS)
        return result

    return work


def _wait_until_blocked_on_a_lock() -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.02)
    raise AssertionError("the second transaction never waited for the first one's lock")


def _race(first, second):
    """Run `first` in a transaction held open until `second` is waiting for its lock."""
    acted, release = threading.Event(), threading.Event()
    holder = Worker(_held_open(first, acted, release))
    holder.start()
    assert acted.wait(WAIT_SECONDS)
    waiter = Worker(second)
    waiter.start()
    _wait_until_blocked_on_a_lock()
    release.set()
    return holder.outcome(), waiter.outcome()


def test_an_event_signed_with_a_key_being_registered_is_logged_after_the_key():
    dealer = OrganisationFactory(kind="dealer_4s")
    signer = note.Signer.generate(dealer.slug)

    key, result = _race(
        lambda: register_signing_key(
            organisation=dealer, verifier_key=signer.verifier().key_string()
        ),
        lambda: submit_event(
            organisation=dealer, payload=signed_payload(signer, dealer, event_payload())
        ),
    )

    # The submission waited for the registration to commit, then found the new key.
    assert result.outcome == Outcome.ACCEPTED, result.errors
    integrate_pending(wait=True)
    assert signing_key_index(key) < entry_for_pending(result.submission.pending_id).index


def test_an_event_signed_before_a_rotation_is_logged_before_the_new_key():
    dealer = OrganisationFactory(kind="dealer_4s")
    old = note.Signer.generate(dealer.slug)
    register_signing_key(organisation=dealer, verifier_key=old.verifier().key_string())
    new = note.Signer.generate(dealer.slug)

    result, new_key = _race(
        lambda: submit_event(
            organisation=dealer, payload=signed_payload(old, dealer, event_payload())
        ),
        lambda: register_signing_key(organisation=dealer, verifier_key=new.verifier().key_string()),
    )

    assert result.outcome == Outcome.ACCEPTED, result.errors
    integrate_pending(wait=True)
    # At its index the old key was still the current one: verifiers accept it.
    assert entry_for_pending(result.submission.pending_id).index < signing_key_index(new_key)


def test_an_event_accepted_before_a_suspension_is_logged_before_it():
    dealer = OrganisationFactory(kind="dealer_4s")

    result, suspension = _race(
        lambda: submit_event(organisation=dealer, payload=event_payload()),
        lambda: set_source_status(organisation=dealer, status="suspended", reason="fraud"),
    )

    assert result.outcome == Outcome.ACCEPTED, result.errors
    integrate_pending(wait=True)
    event_index = entry_for_pending(result.submission.pending_id).index
    assert event_index < entry_for_pending(suspension.id).index

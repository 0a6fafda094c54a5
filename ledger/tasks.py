"""Celery tasks: thin wrappers, so the work is tested without a broker and retried safely."""

from celery import shared_task

from . import sequencer


@shared_task(name="ledger.tasks.integrate_pending")
def integrate_pending() -> int:
    # Safe to run twice or concurrently: the sequencer's lock and pending table make it so.
    return sequencer.integrate_pending().integrated

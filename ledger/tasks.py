"""Celery tasks: thin wrappers, so the work is tested without a broker and retried safely."""

from celery import shared_task

from . import sequencer, witnessing


@shared_task(name="ledger.tasks.integrate_pending")
def integrate_pending() -> int:
    # Safe to run twice or concurrently: the sequencer's lock and pending table make it so.
    return sequencer.integrate_pending().integrated


@shared_task(name="ledger.tasks.witness_checkpoint")
def witness_checkpoint() -> None:
    # One task per witness, so a slow or dead witness delays only its own cosignatures.
    for witness_id in witnessing.active_witness_ids():
        push_to_witness.delay(witness_id)


@shared_task(name="ledger.tasks.push_to_witness")
def push_to_witness(witness_id: int) -> str:
    return witnessing.push_to_witness(witness_id=witness_id).outcome

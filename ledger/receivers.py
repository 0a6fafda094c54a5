"""What the ledger does when the log grows (connected in apps.py)."""

from django.conf import settings
from django.dispatch import receiver

from . import tasks, witnessing
from .signals import entries_integrated


@receiver(entries_integrated, dispatch_uid="ledger.witness_new_checkpoint")
def witness_new_checkpoint(sender, *, tree_size: int, **kwargs) -> None:
    # Sent once the sequencer's transaction has committed. One push task per witness, queued
    # straight from here rather than through a fan-out task: one Celery hop, not two, between
    # the commit and the request to each witness, and a slow witness still delays only its own.
    # Not one per checkpoint: a push still queued will read this one or a newer. It starts
    # WITNESS_PUSH_INTERVAL_SECONDS later, so that under a stream of batches (ten a second at
    # 200 single submissions a second) one push carries the checkpoints of that interval
    # instead of each costing a push of its own.
    for witness_id in witnessing.active_witness_ids():
        if witnessing.claim_push(witness_id=witness_id):
            tasks.push_to_witness.apply_async(
                (witness_id,), countdown=settings.WITNESS_PUSH_INTERVAL_SECONDS
            )

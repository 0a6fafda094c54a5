"""What the ledger does when the log grows (connected in apps.py)."""

from django.dispatch import receiver

from . import witnessing
from .signals import entries_integrated


@receiver(entries_integrated, dispatch_uid="ledger.witness_new_checkpoint")
def witness_new_checkpoint(sender, *, tree_size: int, **kwargs) -> None:
    # Sent once the sequencer's transaction has committed. One push task per witness, queued
    # straight from here rather than through a fan-out task: one Celery hop, not two, between
    # the commit and the request to each witness, and a slow witness still delays only its own.
    # Not one per checkpoint: a push queued or under way brings the witness up to this one
    # or a newer (`witnessing.queue_push`, which also paces them).
    for witness_id in witnessing.active_witness_ids():
        witnessing.queue_push(witness_id=witness_id)

"""What the ledger does when the log grows (connected in apps.py)."""

from django.dispatch import receiver

from . import tasks
from .signals import entries_integrated


@receiver(entries_integrated, dispatch_uid="ledger.witness_new_checkpoint")
def witness_new_checkpoint(sender, *, tree_size: int, **kwargs) -> None:
    # A new checkpoint for the witnesses to cosign; the task pushes to each in its own task.
    tasks.witness_checkpoint.delay()

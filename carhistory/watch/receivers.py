"""What the watch app hears from the rest of the site, by signal (no other app calls it)."""

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from carhistory.moderation.models import Dispute
from ledger.signals import entries_integrated


@receiver(entries_integrated)
def _look_for_watched_entries(sender, **kwargs) -> None:
    transaction.on_commit(_queue_a_lookup, robust=True)


def _queue_a_lookup() -> None:
    # One lookup for every batch integrated within LOOKUP_DELAY_SECONDS, not one a batch: at
    # ten batches a second a task each cost the worker more than the lookups found.
    from carhistory.watch.services import LOOKUP_DELAY_SECONDS, claim_lookup
    from carhistory.watch.tasks import notice_new_entries_task

    if claim_lookup():
        notice_new_entries_task.apply_async(countdown=LOOKUP_DELAY_SECONDS)


@receiver(post_save, sender=Dispute)
def _tell_of_a_dispute(sender, instance: Dispute, **kwargs) -> None:
    # A new dispute is the moderators' alone (anyone can raise one in a click); watchers hear
    # of it when it is accepted for review and the report marks the line. Saved again later,
    # it writes no second notice (one per watcher, kind and line).
    if instance.status == Dispute.Status.UNDER_REVIEW:
        from carhistory.watch.services import notice_dispute

        notice_dispute(vin=instance.vin, entry_index=instance.entry_index)

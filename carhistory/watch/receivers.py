"""What the watch app hears from the rest of the site, by signal (no other app calls it)."""

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from carhistory.moderation.models import Dispute
from ledger.signals import entries_integrated


@receiver(entries_integrated)
def _look_for_watched_entries(sender, **kwargs) -> None:
    from carhistory.watch.tasks import notice_new_entries_task

    transaction.on_commit(notice_new_entries_task.delay, robust=True)


@receiver(post_save, sender=Dispute)
def _tell_of_a_dispute(sender, instance: Dispute, created: bool, **kwargs) -> None:
    if created:
        from carhistory.watch.services import notice_dispute

        notice_dispute(vin=instance.vin, entry_index=instance.entry_index)

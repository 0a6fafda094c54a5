"""Erasure: a submission's private details and their salt deleted on request; the entry and
its commitment stay in the log."""

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from carhistory.sources.models import (
    PrivateRecord,
    Submission,
)


def erase_private_record(
    *, submission: Submission, erased_by: AbstractBaseUser | None = None
) -> PrivateRecord | None:
    """Delete a submission's private details and their salt (right to erasure).

    The entry and its commitment stay in the log; without the salt the commitment says nothing.
    Returns None when the submission had no private details; erasing twice changes nothing.
    """
    record = PrivateRecord.objects.filter(submission=submission).first()
    if record is None or record.is_erased:
        return record
    record.salt = None
    record.details = None
    record.erased_at = timezone.now()
    record.erased_by = erased_by
    record.save(update_fields=["salt", "details", "erased_at", "erased_by"])
    return record

"""Reads for the moderation queue and for the report's dispute markers."""

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Count, QuerySet

from carhistory.moderation.models import AuditEntry, Dispute
from carhistory.sources.models import Organisation, OrganisationStatus, PrivateRecord, Submission
from ledger.selectors import with_log_indexes


def disputes_by_index(indexes: Iterable[int]) -> dict[int, list[Dispute]]:
    """Every dispute raised against each of `indexes`, oldest first; an index with none is
    absent from the result."""
    found: dict[int, list[Dispute]] = defaultdict(list)
    for dispute in Dispute.objects.filter(entry_index__in=list(indexes)):
        found[dispute.entry_index].append(dispute)
    return dict(found)


def dispute_outcomes(*, source: str) -> dict[str, int]:
    """How the disputes about a source's records stand: under review, corrected, rejected
    (new ones, not yet accepted by a moderator, are not counted against it)."""
    counts = dict(
        disputes_against(source=source).order_by().values_list("status").annotate(count=Count("pk"))
    )
    return {status: counts.get(status, 0) for status in Dispute.Status.values if status != "open"}


def pending_applications() -> QuerySet[Organisation]:
    return Organisation.objects.filter(status=OrganisationStatus.APPLIED).order_by("pk")


def moderated_sources() -> QuerySet[Organisation]:
    """Sources a moderator can act on: approved, suspended and (for the record) revoked ones."""
    return Organisation.objects.filter(
        status__in=[
            OrganisationStatus.APPROVED,
            OrganisationStatus.SUSPENDED,
            OrganisationStatus.REVOKED,
        ]
    ).order_by("name", "pk")


def open_disputes() -> QuerySet[Dispute]:
    """Disputes awaiting a decision: new ones, then those under review."""
    return Dispute.objects.filter(status__in=Dispute.UNRESOLVED)


def disputes_against(*, source: str) -> QuerySet[Dispute]:
    """What a source sees in its portal: disputes about its records that a moderator has
    accepted for review, and how they ended. New, unreviewed ones stay with the moderators."""
    return Dispute.objects.filter(source=source, accepted_at__isnull=False).order_by("-pk")


def disputes_against_with_corrections(*, source: str) -> list[Dispute]:
    """`disputes_against`, each with `correction_index` (None while the correction is
    pending, or when there is none)."""
    return with_log_indexes(
        disputes_against(source=source), pending="correction_pending_id", into="correction_index"
    )


def recent_audit_entries(*, limit: int = 50) -> list[AuditEntry]:
    """The newest audit rows, each with `log_index`: the index of the entry the action
    appended, None while it is pending (or when the action appended none)."""
    audits = AuditEntry.objects.select_related("moderator", "organisation", "dispute")[:limit]
    return with_log_indexes(audits, pending="pending_id", into="log_index")


def with_correction_index(dispute: Dispute) -> Dispute:
    """The dispute with `correction_index`: the log index of its correction entry, None while
    that entry is pending or when it has none."""
    return with_log_indexes([dispute], pending="correction_pending_id", into="correction_index")[0]


def private_records_for_vin(vin: str) -> QuerySet[PrivateRecord]:
    """The private records kept for a vehicle, so a moderator can find the one a data-subject
    request is about."""
    return (
        PrivateRecord.objects.filter(submission__vin=vin)
        .select_related("submission", "submission__organisation")
        .order_by("-submission__created_at")
    )


def submissions_with_private_details() -> QuerySet[Submission]:
    return (
        Submission.objects.filter(private_record__isnull=False)
        .select_related("organisation", "private_record")
        .order_by("-created_at", "-pk")
    )

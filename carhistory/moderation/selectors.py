"""Reads for the moderation queue and for the report's dispute markers."""

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import QuerySet

from carhistory.moderation.models import AuditEntry, Dispute
from carhistory.sources.models import Organisation, OrganisationStatus, PrivateRecord, Submission


def disputes_by_index(indexes: Iterable[int]) -> dict[int, list[Dispute]]:
    """Every dispute raised against each of `indexes`, oldest first; an index with none is
    absent from the result."""
    found: dict[int, list[Dispute]] = defaultdict(list)
    for dispute in Dispute.objects.filter(entry_index__in=list(indexes)):
        found[dispute.entry_index].append(dispute)
    return dict(found)


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


def recent_audit_entries(*, limit: int = 50) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.select_related("moderator", "organisation", "dispute")[:limit]


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

"""Applications and decisions: a would-be source applies; moderation approves, suspends,
reinstates or revokes it, and each decision is said in the log."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from carhistory.sources.errors import SourceError
from carhistory.sources.models import (
    Organisation,
    OrganisationStatus,
)
from carhistory.sources.schemas import EventType
from ledger.services import PendingEntry, enqueue_platform_entry


def apply_for_source(
    *,
    slug: str,
    name: str,
    kind: str,
    name_zh_hans: str = "",
    licence_number: str = "",
    region: str = "",
    contact_name: str = "",
    contact_email: str = "",
    contact_phone: str = "",
) -> Organisation:
    """Record an organisation's application to become a source; moderators decide later."""
    organisation = Organisation(
        slug=slug,
        name=name,
        name_zh_hans=name_zh_hans,
        kind=kind,
        licence_number=licence_number,
        region=region,
        contact_name=contact_name,
        contact_email=contact_email,
        contact_phone=contact_phone,
    )
    organisation.full_clean()
    organisation.save()
    return organisation


def reject_application(*, organisation: Organisation) -> Organisation:
    """Turn down an application. It was never a source, so the log records nothing."""
    if organisation.status != OrganisationStatus.APPLIED:
        raise SourceError(_("Only an application under review can be rejected."))
    organisation.status = OrganisationStatus.REJECTED
    organisation.decided_at = timezone.now()
    organisation.save(update_fields=["status", "decided_at"])
    return organisation


# The `source_status` entry's status (SPEC §5) -> (statuses it may follow, the resulting status).
STATUS_TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "approved": (
        frozenset({OrganisationStatus.APPLIED, OrganisationStatus.REJECTED}),
        OrganisationStatus.APPROVED,
    ),
    "suspended": (frozenset({OrganisationStatus.APPROVED}), OrganisationStatus.SUSPENDED),
    "reinstated": (frozenset({OrganisationStatus.SUSPENDED}), OrganisationStatus.APPROVED),
    "revoked": (
        frozenset({OrganisationStatus.APPROVED, OrganisationStatus.SUSPENDED}),
        OrganisationStatus.REVOKED,
    ),
}


def set_source_status(*, organisation: Organisation, status: str, reason: str) -> PendingEntry:
    """Approve, suspend, reinstate or revoke a source, and say so in the log; returns the
    enqueued `source_status` entry, which the sequencer integrates once this commits.

    Its API keys follow at once: authentication reads the organisation's status on every call.
    The entry keeps its place among the source's events: the row stays locked FOR UPDATE
    until commit, and submissions take it FOR SHARE before they enqueue, so every event
    accepted before the change is enqueued (and so integrated) before it, and none after.
    """
    if status not in STATUS_TRANSITIONS:
        raise SourceError(_("Unknown source status %(status)s.") % {"status": status})
    allowed_from, new_status = STATUS_TRANSITIONS[status]
    with transaction.atomic():
        organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
        if organisation.status not in allowed_from:
            raise SourceError(
                _("A source that is %(current)s cannot be %(status)s.")
                % {"current": organisation.get_status_display(), "status": status}
            )
        # The name and kind (its role) go into the log with every status, so a buyer's browser
        # checks the "Source: …" a report shows against the log, not the server's word.
        pending = enqueue_platform_entry(
            type=EventType.SOURCE_STATUS,
            facts={
                "source": organisation.slug,
                "status": status,
                "reason": reason,
                **organisation.named_facts(),
            },
        )
        organisation.status = new_status
        organisation.decided_at = timezone.now()
        organisation.save(update_fields=["status", "decided_at"])
    return pending

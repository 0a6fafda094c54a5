"""Moderator actions. Each one does its work and writes its audit row in one transaction."""

import json
import secrets
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from carhistory.errors import DomainError
from carhistory.moderation.models import AuditEntry, Dispute
from carhistory.moderation.signals import dispute_changed
from carhistory.moderation.tasks import notify_disputed_source_task
from carhistory.sources import accounts, schemas
from carhistory.sources import services as source_services
from carhistory.sources.models import (
    RESERVED_SLUGS,
    ApiKey,
    Organisation,
    OrganisationStatus,
    PrivateRecord,
    Submission,
)
from carhistory.sources.services import SourceError
from carhistory.sources.slugs import slug_from_name
from ledger import selectors as ledger_selectors
from ledger import services as ledger_services
from ledger.selectors import Entry
from ledger.services import PendingEntry

# Written into the public log when a moderator approves without a note of their own; the log is
# read in every language, so this stays English.
DEFAULT_APPROVAL_REASON = "application approved"

# Fields a correction may not set: they say what the correction is, not what was wrong.
CORRECTION_RESERVED_FIELDS = schemas.CORRECTION_META_FIELDS

# What a refused moderator action raises: our own checks, or the sources app's rules.
REFUSALS = (ValidationError, DomainError)


def refusal_messages(error: Exception) -> list[str]:
    return error.messages if isinstance(error, ValidationError) else [str(error)]


# The status a moderator sets (as the `source_status` entry says it) -> the audit action.
STATUS_ACTIONS = {
    "suspended": AuditEntry.Action.SUSPEND_SOURCE,
    "reinstated": AuditEntry.Action.REINSTATE_SOURCE,
    "revoked": AuditEntry.Action.REVOKE_SOURCE,
}


def submit_application(
    *,
    name: str,
    kind: str,
    name_zh_hans: str = "",
    licence_number: str = "",
    region: str = "",
    contact_name: str = "",
    contact_email: str = "",
    contact_phone: str = "",
) -> Organisation:
    """Record an application from the public form, choosing its public slug from its name.

    A Chinese name is spelt in pinyin; a name with nothing readable left gets a slug made
    from its kind. A moderator can change it before approving.
    """
    base = slug_from_name(name) or kind.replace("_", "-")
    slug = base
    while slug in RESERVED_SLUGS or Organisation.objects.filter(slug=slug).exists():
        slug = f"{base}-{secrets.token_hex(3)}"
    return source_services.apply_for_source(
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


def open_dispute(*, entry: Entry, reason: str, reporter_contact: str = "") -> Dispute:
    """Anyone reading a report flags one of its entries; a moderator takes it from there."""
    # Not public yet: one anonymous click must not put "disputed" on a report. A moderator
    # accepts it for review first (accept_dispute), so no cached report changes here.
    return Dispute.objects.create(
        entry_index=entry.index,
        vin=entry.vin,
        source=entry.source or "",
        reason=reason,
        reporter_contact=reporter_contact,
    )


@transaction.atomic
def accept_dispute(*, moderator: AbstractBaseUser, dispute: Dispute, site_url: str) -> Dispute:
    """Accept a new dispute for review: from now on the report marks the line as disputed,
    and the source that logged the entry is told and may answer in its portal."""
    dispute = Dispute.objects.select_for_update().get(pk=dispute.pk)
    if dispute.status != Dispute.Status.OPEN:
        raise ValidationError(_("Only a new dispute can be accepted for review."))
    dispute.status = Dispute.Status.UNDER_REVIEW
    dispute.accepted_at = timezone.now()
    dispute.save(update_fields=["status", "accepted_at"])
    _announce(dispute)
    _record(
        moderator=moderator,
        action=AuditEntry.Action.ACCEPT_DISPUTE,
        reason="accepted for review",  # the audit needs a reason; the dispute's own says why
        dispute=dispute,
        entry_index=dispute.entry_index,
    )
    language = translation.get_language()
    transaction.on_commit(lambda: notify_disputed_source_task.delay(dispute.pk, site_url, language))
    return dispute


@transaction.atomic
def answer_dispute(*, organisation: Organisation, dispute: Dispute, answer: str) -> Dispute:
    """The disputed source's side of the story, for the moderators to weigh."""
    dispute = Dispute.objects.select_for_update().get(pk=dispute.pk)
    if dispute.source != organisation.slug:
        raise ValidationError(_("This dispute is not about one of your records."))
    if dispute.status != Dispute.Status.UNDER_REVIEW:
        raise ValidationError(_("Only a dispute under review can be answered."))
    answer = (answer or "").strip()
    if not answer:
        raise ValidationError({"answer": _("Write your answer.")})
    dispute.source_answer = answer
    dispute.answered_at = timezone.now()
    dispute.save(update_fields=["source_answer", "answered_at"])
    return dispute


def rename_applicant(*, organisation: Organisation, slug: str) -> Organisation:
    """Change an applicant's public id (slug) before it is approved; afterwards it names the
    source in the log and can no longer change."""
    slug = slug.strip().lower()
    if organisation.status != OrganisationStatus.APPLIED:
        raise ValidationError(_("Only an application's public id can be changed."))
    if slug == organisation.slug:
        return organisation
    if slug in RESERVED_SLUGS or Organisation.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": _("This public id is taken; choose another.")})
    organisation.slug = slug
    organisation.full_clean()
    organisation.save(update_fields=["slug"])
    return organisation


@transaction.atomic
def approve_application(
    *, moderator: AbstractBaseUser, organisation: Organisation, reason: str = "", site_url: str
) -> tuple[ApiKey, str]:
    """Approve an applicant and create its first API key, which is shown once to hand over,
    and its first account, whose contact is e-mailed a link to set the password."""
    organisation = _locked(organisation)
    reason = reason.strip() or DEFAULT_APPROVAL_REASON
    pending = source_services.set_source_status(
        organisation=organisation, status="approved", reason=reason
    )
    api_key, raw_key = source_services.create_api_key(
        organisation=organisation, label=_("First key, handed over on approval")
    )
    account = accounts.create_first_account(organisation=organisation, site_url=site_url)
    _record(
        moderator=moderator,
        action=AuditEntry.Action.APPROVE_APPLICATION,
        reason=reason,
        organisation=organisation,
        pending_id=pending.id,
        details={"api_key_id": api_key.pk, "account_id": account.pk if account else None},
    )
    return api_key, raw_key


@transaction.atomic
def reject_application(
    *, moderator: AbstractBaseUser, organisation: Organisation, reason: str
) -> None:
    """Turn down an applicant. Nothing enters the log: an applicant was never a source."""
    reason = _required(reason)
    organisation = source_services.reject_application(organisation=_locked(organisation))
    _record(
        moderator=moderator,
        action=AuditEntry.Action.REJECT_APPLICATION,
        reason=reason,
        organisation=organisation,
    )


@transaction.atomic
def change_source_status(
    *, moderator: AbstractBaseUser, organisation: Organisation, status: str, reason: str
) -> PendingEntry:
    """Suspend, reinstate or revoke a source (`status` as the source_status entry says it);
    returns the enqueued `source_status` entry.

    Which changes are allowed is `sources.services.set_source_status`'s rule; a suspended
    source's keys are refused until it is reinstated, and revocation is final.
    """
    if status not in STATUS_ACTIONS:
        raise SourceError(_("Unknown source status %(status)s.") % {"status": status})
    reason = _required(reason)
    pending = source_services.set_source_status(
        organisation=organisation, status=status, reason=reason
    )
    _record(
        moderator=moderator,
        action=STATUS_ACTIONS[status],
        reason=reason,
        organisation=organisation,
        pending_id=pending.id,
    )
    return pending


# A source's standing as the log states it (SPEC §5 `source_status`), by its status here.
LOGGED_STANDING = {
    OrganisationStatus.APPROVED: "approved",
    OrganisationStatus.SUSPENDED: "suspended",
}


@transaction.atomic
def change_source_profile(
    *,
    moderator: AbstractBaseUser,
    organisation: Organisation,
    kind: str,
    name: str,
    reason: str,
    name_zh_hans: str | None = None,
) -> PendingEntry | None:
    """Change a source's kind (its role: what it may submit) or its name (or its name in
    Chinese; None keeps it), in the open.

    A source's kind decides which events it may log, so changing it must leave a public trace:
    for a source in the log, a `source_status` entry restating its standing says what changed
    and why, and the audit row names the moderator. Its slug never changes once the log names
    it (its entries and its key carry it), and a revoked source stays as it was.
    """
    reason = _required(reason)
    organisation = _locked(organisation)
    wanted = [("kind", kind), ("name", name.strip())]
    if name_zh_hans is not None:
        wanted.append(("name_zh_hans", name_zh_hans.strip()))
    changes = {
        field: [getattr(organisation, field), value]
        for field, value in wanted
        if getattr(organisation, field) != value
    }
    if not changes:
        raise ValidationError(_("Nothing changes: pick another kind or name."))
    if organisation.status == OrganisationStatus.REVOKED:
        raise ValidationError(_("A revoked source is final and cannot be changed."))
    for field, (_old, new) in changes.items():
        setattr(organisation, field, new)
    organisation.full_clean()
    pending = None
    standing = LOGGED_STANDING.get(organisation.status)
    if standing is not None:
        # The log is read in every language: its reason stays English.
        said = "; ".join(f"{field} {old} -> {new}" for field, (old, new) in changes.items())
        pending = ledger_services.enqueue_platform_entry(
            type=schemas.EventType.SOURCE_STATUS,
            facts={
                "source": organisation.slug,
                "status": standing,
                "reason": f"profile changed ({said}): {reason}",
                # The new names, which the report shows from now on and the browser checks.
                **organisation.named_facts(),
            },
        )
    organisation.save(update_fields=list(changes))
    _record(
        moderator=moderator,
        action=AuditEntry.Action.CHANGE_SOURCE_PROFILE,
        reason=reason,
        organisation=organisation,
        pending_id=pending.id if pending else None,
        details=changes,
    )
    return pending


@transaction.atomic
def correct_dispute(
    *,
    moderator: AbstractBaseUser,
    dispute: Dispute,
    reason: str,
    corrected_fields: dict[str, Any],
    note: str = "",
) -> PendingEntry:
    """Resolve a dispute by enqueueing a `correction` entry that points at the disputed entry."""
    dispute = Dispute.objects.select_for_update().get(pk=dispute.pk)
    _require_open(dispute)
    reason = _required(reason)
    correction = append_correction(
        moderator=moderator,
        entry_index=dispute.entry_index,
        vin=dispute.vin,
        reason=reason,
        corrected_fields=corrected_fields,
        dispute=dispute,
        note=note,
    )
    dispute.status = Dispute.Status.CORRECTED
    dispute.correction_pending_id = correction.id
    dispute.resolution_reason = reason
    dispute.resolved_at = timezone.now()
    dispute.save(
        update_fields=["status", "correction_pending_id", "resolution_reason", "resolved_at"]
    )
    _announce(dispute)
    return correction


@transaction.atomic
def append_correction(
    *,
    moderator: AbstractBaseUser,
    entry_index: int,
    vin: str | None,
    reason: str,
    corrected_fields: dict[str, Any],
    dispute: Dispute | None = None,
    note: str = "",
) -> PendingEntry:
    """Enqueue a `correction` entry (SPEC §5): corrects, the public reason, and the corrected
    fields, each checked by the schema of the corrected entry's type, so a bad value never
    reaches the permanent log. The moderator's private note stays in the audit trail."""
    reason = _required(reason)
    entry = ledger_selectors.entries_by_index([entry_index]).get(entry_index)
    if entry is None:
        raise ValidationError(_("There is no entry %(index)d in the log.") % {"index": entry_index})
    cleaned, errors = schemas.validate_correction(
        entry=json.loads(bytes(entry.data)), corrected_fields=corrected_fields
    )
    if errors:
        raise ValidationError(errors)
    facts = {**cleaned, "corrects": entry_index, "reason": reason}
    correction = ledger_services.enqueue_platform_entry(type="correction", facts=facts, vin=vin)
    _record(
        moderator=moderator,
        action=AuditEntry.Action.CORRECT_ENTRY,
        reason=note.strip() or reason,
        dispute=dispute,
        entry_index=entry_index,
        pending_id=correction.id,
        details={"corrected_fields": cleaned, "public_reason": reason},
    )
    return correction


@transaction.atomic
def reject_dispute(*, moderator: AbstractBaseUser, dispute: Dispute, reason: str) -> None:
    dispute = Dispute.objects.select_for_update().get(pk=dispute.pk)
    _require_open(dispute)
    reason = _required(reason)
    dispute.status = Dispute.Status.REJECTED
    dispute.resolution_reason = reason
    dispute.resolved_at = timezone.now()
    dispute.save(update_fields=["status", "resolution_reason", "resolved_at"])
    _announce(dispute)
    _record(
        moderator=moderator,
        action=AuditEntry.Action.REJECT_DISPUTE,
        reason=reason,
        dispute=dispute,
        entry_index=dispute.entry_index,
    )


@transaction.atomic
def erase_private_details(
    *, moderator: AbstractBaseUser, submission: Submission, reason: str
) -> PrivateRecord:
    """Honour a data-subject request: the private record goes, the entry and its proofs stay."""
    reason = _required(reason)
    record = PrivateRecord.objects.select_for_update().filter(submission=submission).first()
    if record is None:
        raise ValidationError(_("This submission has no private details."))
    if record.is_erased:
        raise ValidationError(_("The private details of this submission are already erased."))
    record = source_services.erase_private_record(submission=submission, erased_by=moderator)
    _record(
        moderator=moderator,
        action=AuditEntry.Action.ERASE_PRIVATE_RECORD,
        reason=reason,
        organisation=submission.organisation,
        submission_id=submission.pk,
    )
    return record


def _record(*, moderator: AbstractBaseUser, action: str, reason: str, **target: Any) -> AuditEntry:
    return AuditEntry.objects.create(moderator=moderator, action=action, reason=reason, **target)


def _announce(dispute: Dispute) -> None:
    # Reports are cached by VIN and tree size; a dispute changes what a report shows without
    # adding to the log. Whoever keeps copies (the vehicles app) hears of it once committed.
    transaction.on_commit(lambda: dispute_changed.send(sender=Dispute, dispute=dispute))


def _locked(organisation: Organisation) -> Organisation:
    # Two moderators clicking at once must not both approve (and mint two first keys).
    return Organisation.objects.select_for_update().get(pk=organisation.pk)


def _require_open(dispute: Dispute) -> None:
    if dispute.status not in Dispute.UNRESOLVED:
        raise ValidationError(_("This dispute is already closed."))


def _required(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give a reason: it is kept in the audit trail.")})
    return reason

"""Writes for sources: applications and decisions, API keys, signing keys, submissions, erasure.

Every function takes keyword-only arguments and does one thing; the API, the portal, the CSV
importer and moderation call these and nothing below them.
"""

import datetime
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from carhistory_verifier import entry as entry_format
from carhistory_verifier import note
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from carhistory.errors import DomainError
from carhistory.plain_text import escaped, is_storable, quoted
from carhistory.sources import roles, schemas
from carhistory.sources.models import (
    ApiKey,
    Channel,
    Organisation,
    OrganisationStatus,
    PrivateRecord,
    SigningKey,
    Submission,
    SubmissionStatus,
)
from carhistory.sources.schemas import CleanEvent, Errors, EventType
from carhistory.sources.selectors import current_signing_key
from carhistory.vin import normalise_vin
from ledger.models import Entry
from ledger.services import append_platform_entry, enqueue_entries, sign_as_platform

API_KEY_PREFIX = "ch-"
# The secret part of a raw key is everything after the first dot: `ch-1a2b3c4d5e6f.<secret>`.
API_KEY_SEPARATOR = "."
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)  # spare the database a write per request
IDEMPOTENCY_CONSTRAINT = "one_accepted_submission_per_external_id"
IDEMPOTENCY_ATTEMPTS = 3


class SourceError(DomainError):
    """A request about a source that cannot be done as asked; the message says why."""


# --- applications and decisions -------------------------------------------------------------


def apply_for_source(
    *,
    slug: str,
    name: str,
    kind: str,
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


def set_source_status(*, organisation: Organisation, status: str, reason: str) -> Entry:
    """Approve, suspend, reinstate or revoke a source, and say so in the log.

    Its API keys follow at once: authentication reads the organisation's status on every call.
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
        entry = append_platform_entry(
            type=EventType.SOURCE_STATUS,
            facts={"source": organisation.slug, "status": status, "reason": reason},
        )
        organisation.status = new_status
        organisation.decided_at = timezone.now()
        organisation.save(update_fields=["status", "decided_at"])
    return entry


# --- API keys ---------------------------------------------------------------------------------


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(
    *, organisation: Organisation, label: str, is_demo: bool = False
) -> tuple[ApiKey, str]:
    """A new API key; the raw key is returned here once and never stored."""
    prefix = API_KEY_PREFIX + secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        organisation=organisation,
        label=label,
        prefix=prefix,
        secret_hash=_secret_hash(secret),
        is_demo=is_demo,
    )
    return api_key, f"{prefix}{API_KEY_SEPARATOR}{secret}"


def install_demo_api_key(*, organisation: Organisation, raw_key: str, label: str) -> ApiKey:
    """Store a fixed, published key for the demo; demo keys work only while DEBUG is on."""
    prefix, separator, secret = raw_key.partition(API_KEY_SEPARATOR)
    if not separator or not prefix or not secret:
        raise SourceError(_("A demo key has the form prefix.secret."))
    api_key, _created = ApiKey.objects.get_or_create(
        prefix=prefix,
        defaults={
            "organisation": organisation,
            "label": label,
            "secret_hash": _secret_hash(secret),
            "is_demo": True,
        },
    )
    return api_key


def revoke_api_key(*, api_key: ApiKey) -> None:
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key.refresh_from_db(fields=["revoked_at"])


# Compared against when the prefix is unknown, so a miss costs what a hit costs.
_DECOY_HASH = _secret_hash("decoy")


def find_api_key(raw: str) -> ApiKey | None:
    """The live key `raw` names, whatever its organisation's status; None if wrong or revoked.

    Demo keys are published in the README, so they work only while DEBUG is on.
    """
    prefix, separator, secret = (raw or "").partition(API_KEY_SEPARATOR)
    api_key = None
    if separator and prefix and secret:
        api_key = ApiKey.objects.select_related("organisation").filter(prefix=prefix).first()
    expected = api_key.secret_hash if api_key else _DECOY_HASH
    matches = hmac.compare_digest(_secret_hash(secret), expected)
    if api_key is None or not matches or api_key.revoked_at is not None:
        return None
    if api_key.is_demo and not settings.DEBUG:
        return None
    _note_use(api_key)
    return api_key


def authenticate_api_key(raw: str) -> ApiKey | None:
    """The key `raw` names if it may submit now: live, and its organisation approved."""
    api_key = find_api_key(raw)
    if api_key is None or not api_key.organisation.may_submit:
        return None
    return api_key


def _note_use(api_key: ApiKey) -> None:
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now


# --- signing keys -----------------------------------------------------------------------------


def register_signing_key(*, organisation: Organisation, verifier_key: str) -> SigningKey:
    """Put a source's own Ed25519 key in the log, making it the key its signatures must verify
    under. The `source_key` entry is integrated before the key is stored, so no entry it signs
    can precede it in the log (SPEC §2). The previous key, if any, is retired; entries it
    signed stay verifiable through its own `source_key` entry.
    """
    verifier_key = (verifier_key or "").strip()
    try:
        verifier = note.Verifier.from_key_string(verifier_key)
    except note.NoteError as error:
        raise SourceError(
            _("This is not an Ed25519 verifier key (name+keyid+base64): %(error)s")
            % {"error": error}
        ) from None
    if verifier.name != organisation.slug:
        raise SourceError(
            _("The key is named %(name)s; it must be named after the source, %(slug)s.")
            % {"name": verifier.name, "slug": organisation.slug}
        )
    if organisation.status not in (OrganisationStatus.APPLIED, OrganisationStatus.APPROVED):
        raise SourceError(_("Only an applying or approved source may register a key."))
    if SigningKey.objects.filter(verifier_key=verifier_key).exists():
        raise SourceError(_("This key is already registered."))
    with transaction.atomic():
        organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
        entry = append_platform_entry(
            type=EventType.SOURCE_KEY, facts={"source": organisation.slug, "key": verifier_key}
        )
        now = timezone.now()
        SigningKey.objects.filter(organisation=organisation, retired_at__isnull=True).update(
            retired_at=now
        )
        return SigningKey.objects.create(
            organisation=organisation,
            verifier_key=verifier_key,
            key_id=verifier.key_id.hex(),
            ledger_index=entry.index,
        )


def retire_signing_key(*, signing_key: SigningKey) -> None:
    """Stop accepting signatures by this key; the platform signs for the source until it
    registers another."""
    SigningKey.objects.filter(pk=signing_key.pk, retired_at__isnull=True).update(
        retired_at=timezone.now()
    )
    signing_key.refresh_from_db(fields=["retired_at"])


# --- submissions ------------------------------------------------------------------------------


class Outcome:
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # the same external_id was accepted before: its first result
    CONFLICT = "conflict"  # the same external_id with another body: 409, naming the first
    INVALID = "invalid"  # bad input: field errors, 400
    FORBIDDEN = "forbidden"  # the source's role may not submit this: 403


@dataclass(frozen=True)
class SubmissionResult:
    outcome: str
    submission: Submission | None = None
    errors: Errors = field(default_factory=dict)

    @property
    def is_accepted(self) -> bool:
        return self.outcome in (Outcome.ACCEPTED, Outcome.DUPLICATE)


def submit_event(
    *, organisation: Organisation, payload: Any, channel: str = Channel.API
) -> SubmissionResult:
    """Validate, sign and enqueue one event. Refused input stores nothing."""
    return _submit(organisation, [payload], channel, keep_rejections=False)[0]


def submit_events(
    *, organisation: Organisation, payloads: Sequence[Any], channel: str = Channel.API
) -> list[SubmissionResult]:
    """Validate, sign and enqueue many events, one result per payload in input order.

    Every item is judged on its own: good ones are accepted even when others are not, and each
    refused one is kept as a rejected submission with its reasons, so the source can look it up.
    A handful of queries serve the whole batch.
    """
    return _submit(organisation, list(payloads), channel, keep_rejections=True)


def _submit(
    organisation: Organisation, payloads: list[Any], channel: str, *, keep_rejections: bool
) -> list[SubmissionResult]:
    if not organisation.may_submit:
        # The API refuses such a source at authentication; the form and the CSV importer
        # reach here with whatever organisation their user belongs to.
        reason = _("This source is %(status)s and may not submit events.") % {
            "status": organisation.get_status_display()
        }
        return [
            SubmissionResult(Outcome.FORBIDDEN, errors={"source": [reason]})
            for _payload in payloads
        ]
    checked = [_check(organisation, payload) for payload in payloads]
    attempts = 0
    while True:
        try:
            with transaction.atomic():
                return _store(organisation, checked, channel, keep_rejections=keep_rejections)
        except IntegrityError as error:
            # Another request accepted one of these external_ids after we looked: go again,
            # and this time find its submission.
            attempts += 1
            if IDEMPOTENCY_CONSTRAINT not in str(error) or attempts >= IDEMPOTENCY_ATTEMPTS:
                raise


@dataclass
class _Checked:
    event: CleanEvent | None
    errors: Errors
    outcome: str
    payload: Any


def _check(organisation: Organisation, payload: Any) -> _Checked:
    if isinstance(payload, Mapping):
        reason = roles.refusal_reason(
            kind=organisation.kind, event_type=payload.get("type"), facts=payload.get("facts")
        )
        if reason:
            return _Checked(None, {"type": [reason]}, Outcome.FORBIDDEN, payload)
    event, errors = schemas.validate_submission(payload)
    return _Checked(event, errors, Outcome.INVALID if errors else Outcome.ACCEPTED, payload)


@dataclass(frozen=True)
class _NewEntry:
    position: int
    event: CleanEvent
    entry: dict[str, Any]
    salt: bytes | None


def _store(
    organisation: Organisation, checked: list[_Checked], channel: str, *, keep_rejections: bool
) -> list[SubmissionResult]:
    earlier = _accepted_by_external_id(
        organisation, [item.event.external_id for item in checked if item.event]
    )
    signing_key = current_signing_key(organisation=organisation)
    verifier = note.Verifier.from_key_string(signing_key.verifier_key) if signing_key else None
    submitted_at = timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")

    earlier_private = _private_details(earlier.values())
    results: list[SubmissionResult | None] = [None] * len(checked)
    new: list[_NewEntry] = []
    first_in_batch: dict[str, int] = {}
    repeats: list[tuple[int, int]] = []
    for position, item in enumerate(checked):
        event = item.event
        if event is None:
            results[position] = SubmissionResult(item.outcome, errors=item.errors)
            continue
        if event.external_id in earlier:
            first = earlier[event.external_id]
            results[position] = _repeat(
                first, event, _same_as_stored(first, event, earlier_private)
            )
            continue
        if event.external_id is not None and event.external_id in first_in_batch:
            repeats.append((position, first_in_batch[event.external_id]))
            continue
        entry, salt, errors = _entry_for(organisation, event, verifier, submitted_at)
        if errors:
            results[position] = SubmissionResult(Outcome.INVALID, errors=errors)
            continue
        if event.external_id is not None:
            first_in_batch[event.external_id] = position
        new.append(_NewEntry(position, event, entry, salt))

    pendings = enqueue_entries(entries=[item.entry for item in new]) if new else []
    submissions = [
        Submission(
            organisation=organisation,
            external_id=item.event.external_id or "",
            pending_id=pending.id,
            status=SubmissionStatus.ACCEPTED,
            channel=channel,
            event_type=item.event.type,
            vin=item.event.vin,
            body_fingerprint=_fingerprint(item.event),
        )
        for item, pending in zip(new, pendings, strict=True)
    ]
    Submission.objects.bulk_create(submissions)
    PrivateRecord.objects.bulk_create(
        PrivateRecord(submission=submission, salt=item.salt, details=item.event.private)
        for item, submission in zip(new, submissions, strict=True)
        if item.event.private is not None
    )
    for item, submission in zip(new, submissions, strict=True):
        results[item.position] = SubmissionResult(Outcome.ACCEPTED, submission)
    for position, first in repeats:
        same = checked[position].event == checked[first].event
        results[position] = _repeat(results[first].submission, checked[position].event, same)
    if keep_rejections:
        _keep_rejections(organisation, checked, results, channel)
    return results


def _fingerprint(event: CleanEvent) -> str:
    public = {
        "type": event.type,
        "vin": event.vin,
        "occurred_at": event.occurred_at,
        "odometer_km": event.odometer_km,
        "facts": event.facts,
        "source_sig": event.source_sig,
    }
    return hashlib.sha256(entry_format.canonical_json(public)).hexdigest()


def _private_details(submissions: Iterable[Submission]) -> dict[int, Any]:
    """The private details of these submissions, by submission id; erased ones are left out."""
    records = PrivateRecord.objects.filter(
        submission__in=list(submissions), erased_at__isnull=True
    ).values_list("submission_id", "details")
    return dict(records)


def _same_as_stored(first: Submission, event: CleanEvent, private: dict[int, Any]) -> bool:
    # Rows from before fingerprints, and erased details, cannot be compared: they count as same.
    if first.body_fingerprint and first.body_fingerprint != _fingerprint(event):
        return False
    return first.pk not in private or private[first.pk] == event.private


def _repeat(first: Submission, event: CleanEvent, same: bool) -> SubmissionResult:
    """A retry answers the first result; another body under the same external_id conflicts."""
    if same:
        return SubmissionResult(Outcome.DUPLICATE, first)
    message = _(
        "You sent external_id %(external_id)s before with another body, as submission "
        "%(first)s. Send a new external_id for a new event, or a correction for that one."
    ) % {"external_id": quoted(event.external_id or ""), "first": first.public_id}
    return SubmissionResult(Outcome.CONFLICT, first, {"external_id": [message]})


def _accepted_by_external_id(
    organisation: Organisation, external_ids: Iterable[str | None]
) -> dict[str, Submission]:
    wanted = {external_id for external_id in external_ids if external_id is not None}
    if not wanted:
        return {}
    found = Submission.objects.filter(
        organisation=organisation, status=SubmissionStatus.ACCEPTED, external_id__in=wanted
    )
    return {submission.external_id: submission for submission in found}


def _entry_for(
    organisation: Organisation,
    event: CleanEvent,
    verifier: note.Verifier | None,
    submitted_at: str,
) -> tuple[dict[str, Any], bytes | None, Errors]:
    """The complete entry object (SPEC §2) for a clean event, signed by the source or, for a
    source without a key, by the platform on its behalf."""
    salt = entry_format.new_salt() if event.private is not None else None
    entry = _public_entry(organisation, event)
    entry["private_commitment"] = (
        entry_format.private_commitment(salt=salt, private=event.private) if salt else None
    )
    entry["submitted_at"] = submitted_at
    entry["nonce"] = entry_format.new_nonce()
    if event.source_sig is None:
        return sign_as_platform(entry), salt, {}
    if verifier is None:
        message = _("This source has no signing key: register one, or leave out source_sig.")
        return entry, salt, {"source_sig": [message]}
    entry["source_key"] = verifier.key_string()
    if not _signature_holds(verifier, entry, event.source_sig):
        message = _(
            "The signature does not verify under your current key. Sign the statement of "
            "SPEC §2 with the VIN upper-cased and the facts as sent."
        )
        return entry, salt, {"source_sig": [message]}
    entry["source_sig"] = event.source_sig
    return entry, salt, {}


def _public_entry(organisation: Organisation, event: CleanEvent) -> dict[str, Any]:
    """The entry fields the source states, and so signs (SPEC §2), before `source_key`."""
    entry: dict[str, Any] = {
        "v": 1,
        "type": event.type,
        "vin": event.vin,
        "occurred_at": event.occurred_at,
        "facts": event.facts,
        "source": organisation.slug,
    }
    if event.odometer_km is not None:
        entry["odometer_km"] = event.odometer_km
    return entry


def submission_statement(*, organisation: Organisation, payload: Any, source_key: str) -> bytes:
    """The bytes a source signs for `payload` under its key `source_key` (SPEC §2): what its
    own software computes, here for the demo, the tests and anyone checking their client.
    SourceError if the payload is not a valid submission."""
    event, errors = schemas.validate_submission(payload)
    if event is None:
        raise SourceError(errors)
    entry = _public_entry(organisation, event)
    entry["source_key"] = source_key
    return entry_format.statement_bytes(entry)


def _signature_holds(verifier: note.Verifier, entry: dict[str, Any], source_sig: str) -> bool:
    try:
        signature = entry_format.b64decode(source_sig)
    except ValueError:
        return False
    return verifier.verify(entry_format.statement_bytes(entry), signature)


def _keep_rejections(
    organisation: Organisation,
    checked: list[_Checked],
    results: list[SubmissionResult | None],
    channel: str,
) -> None:
    rejected_positions = [
        position
        for position, result in enumerate(results)
        if result is not None and result.outcome in (Outcome.INVALID, Outcome.FORBIDDEN)
    ]
    rejected = []
    for position in rejected_positions:
        payload = checked[position].payload
        sent = payload if isinstance(payload, Mapping) else {}
        event_type = sent.get("type")
        vin = sent.get("vin")
        rejected.append(
            Submission(
                organisation=organisation,
                external_id=_storable(sent.get("external_id"), 200),
                status=SubmissionStatus.REJECTED,
                errors=_storable_errors(results[position].errors),
                channel=channel,
                event_type=event_type if event_type in EventType.values else "",
                vin=_storable(normalise_vin(vin) if isinstance(vin, str) else None, 17),
            )
        )
    Submission.objects.bulk_create(rejected)
    for position, submission in zip(rejected_positions, rejected, strict=True):
        result = results[position]
        results[position] = SubmissionResult(result.outcome, submission, result.errors)


def _storable(value: Any, length: int) -> str:
    """What was sent, as the rejected submission can keep it: text that fits and that the
    database can hold (no NUL, no lone surrogate), or nothing."""
    if not isinstance(value, str) or len(value) > length or not is_storable(value):
        return ""
    return value


def _storable_errors(errors: Errors) -> Errors:
    # Unknown field names, and messages that quote a bad character, come from the sender.
    return {
        escaped(name): [escaped(message) for message in messages]
        for name, messages in errors.items()
    }


# --- erasure ----------------------------------------------------------------------------------


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

"""Submissions: one event or a batch, validated, signed or countersigned, committed to
privately and enqueued in the log, idempotently by `external_id`."""

import functools
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from carhistory_verifier import entry as entry_format
from carhistory_verifier import note
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from nacl import bindings as sodium
from nacl.exceptions import BadSignatureError

from carhistory.plain_text import escaped, is_storable, quoted
from carhistory.prepared_statements import prepared
from carhistory.sources import roles, schemas
from carhistory.sources.errors import SourceError
from carhistory.sources.models import (
    Channel,
    Organisation,
    PrivateRecord,
    Submission,
    SubmissionStatus,
)
from carhistory.sources.schemas import CleanEvent, Errors, EventType
from carhistory.sources.selectors import current_signing_key
from carhistory.vin import normalise_vin
from ledger.services import enqueue_entries, sign_as_platform

IDEMPOTENCY_CONSTRAINT = "one_accepted_submission_per_external_id"
IDEMPOTENCY_ATTEMPTS = 3


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
        return _refused_source(organisation, payloads)
    checked = [_check(organisation, payload) for payload in payloads]
    external_ids = {item.event.external_id for item in checked if item.event} - {None}
    attempts = 0
    while True:
        try:
            with transaction.atomic():
                verifier_key, earlier = _source_now(organisation, external_ids)
                if not organisation.may_submit:
                    return _refused_source(organisation, payloads)
                verifier = _verifier(verifier_key) if verifier_key else None
                return _store(
                    organisation,
                    checked,
                    channel,
                    verifier,
                    earlier,
                    keep_rejections=keep_rejections,
                )
        except IntegrityError as error:
            # Another request accepted one of these external_ids after we looked: go again,
            # and this time find its submission.
            attempts += 1
            if IDEMPOTENCY_CONSTRAINT not in str(error) or attempts >= IDEMPOTENCY_ATTEMPTS:
                raise


# A source's key line, parsed once per process rather than on every request (a tenth of a
# millisecond each time): a key line names one key for good, and a retired key is simply no
# longer the line `_source_now` reads.
_verifier = functools.lru_cache(maxsize=1024)(note.Verifier.from_key_string)


def _refused_source(organisation: Organisation, payloads: list[Any]) -> list[SubmissionResult]:
    reason = _("This source is %(status)s and may not submit events.") % {
        "status": organisation.get_status_display()
    }
    return [SubmissionResult(Outcome.FORBIDDEN, errors={"source": [reason]}) for _p in payloads]


_SOURCE_SHARE_LOCK = "SELECT 1 FROM sources_organisation WHERE id = $1 FOR SHARE"
# At most one key is current (`one_current_signing_key_per_organisation`). The submissions as
# `_accepted_by_external_id` finds them, with `<> ''` so that the planner can use the partial
# unique index that guards idempotency: for a single event, these were a query of their own,
# and building it cost more than the database's answer.
_SOURCE_NOW = (
    "SELECT organisation.status, signing_key.verifier_key, "
    "ARRAY(SELECT submission.id FROM sources_submission AS submission "
    "WHERE submission.organisation_id = organisation.id "
    "AND submission.status = $2 AND submission.external_id <> '' "
    "AND submission.external_id = ANY($3::text[])) "
    "FROM sources_organisation AS organisation "
    "LEFT JOIN sources_signingkey AS signing_key "
    "ON signing_key.organisation_id = organisation.id "
    "AND signing_key.retired_at IS NULL "
    "WHERE organisation.id = $1"
)


def _source_now(
    organisation: Organisation, external_ids: set[str]
) -> tuple[str | None, dict[str, Submission]]:
    """Read the source's status again, holding it until the submissions commit, then its
    current verifier key line (None without one) and its accepted submissions under these
    external_ids: one round trip.

    FOR SHARE: submissions of one source still run side by side, but a suspension or a key
    registration (which lock the row FOR UPDATE) waits for them, and they for it. So no event
    is accepted after a suspension commits, and the key is the one current once the lock is
    held. Two statements, not one join: a join's FOR SHARE waits for the registration, then
    re-reads only the locked row and keeps the key rows of its own, older snapshot, so it would
    miss a key registered meanwhile. The second statement takes a new snapshot.
    """
    if connection.vendor != "postgresql":
        # SQLite (the embedded default) serialises writers by itself.
        status = Organisation.objects.filter(pk=organisation.pk).values_list("status").first()
        signing_key = current_signing_key(organisation=organisation)
        if status:
            organisation.status = status[0]
        return (
            signing_key.verifier_key if signing_key else None,
            _accepted_by_external_id(organisation, external_ids),
        )
    with connection.cursor() as cursor:
        # Prepared, like the API key's statement: planning these cost PostgreSQL more than
        # running them, on every request.
        lock = prepared(cursor, name="source_share_lock", statement=_SOURCE_SHARE_LOCK)
        read = prepared(cursor, name="source_now", statement=_SOURCE_NOW)
        cursor.execute(
            f"EXECUTE {lock}(%(id)s); "
            f"EXECUTE {read}(%(id)s, %(accepted)s, %(external_ids)s::text[])",
            {
                "id": organisation.pk,
                "accepted": SubmissionStatus.ACCEPTED.value,
                "external_ids": sorted(external_ids),
            },
        )
        row = cursor.fetchone()
    if row is None:
        return None, {}
    organisation.status, verifier_key, earlier_ids = row
    earlier = Submission.objects.filter(pk__in=earlier_ids) if earlier_ids else []
    return verifier_key, {submission.external_id: submission for submission in earlier}


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
    organisation: Organisation,
    checked: list[_Checked],
    channel: str,
    verifier: note.Verifier | None,
    earlier: dict[str, Submission],
    *,
    keep_rejections: bool,
) -> list[SubmissionResult]:
    submitted_at = timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")

    # Only resends are compared with what was sent before.
    earlier_private = _private_details(earlier.values()) if earlier else {}
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
    submissions = _insert_accepted(organisation, new, [pending.id for pending in pendings], channel)
    _insert_private_records(
        [
            (submission.pk, item.salt, item.event.private)
            for item, submission in zip(new, submissions, strict=True)
            if item.event.private is not None
        ]
    )
    for item, submission in zip(new, submissions, strict=True):
        results[item.position] = SubmissionResult(Outcome.ACCEPTED, submission)
    for position, first in repeats:
        same = checked[position].event == checked[first].event
        results[position] = _repeat(results[first].submission, checked[position].event, same)
    if keep_rejections:
        _keep_rejections(organisation, checked, results, channel)
    return results


# The columns `_insert_accepted` sends one array each of; the others are the same for a batch.
_PER_ROW_COLUMNS = (
    "public_id",
    "external_id",
    "pending_id",
    "event_type",
    "vin",
    "body_fingerprint",
)


_INSERT_ACCEPTED = (
    "INSERT INTO sources_submission (public_id, organisation_id, external_id, "
    "pending_id, status, errors, channel, event_type, vin, body_fingerprint, "
    "created_at) SELECT public_id, $1::bigint, external_id, pending_id, $2::varchar, '{}', "
    "$3::varchar, event_type, vin, body_fingerprint, $4::timestamptz FROM unnest($5::uuid[], "
    "$6::text[], $7::bigint[], $8::text[], $9::text[], $10::text[]) WITH ORDINALITY AS "
    "input(public_id, external_id, pending_id, event_type, vin, body_fingerprint, "
    "position) ORDER BY position RETURNING id"
)


def _insert_accepted(
    organisation: Organisation, new: list[_NewEntry], pending_ids: list[int], channel: str
) -> list[Submission]:
    """Store the accepted submissions, one per new entry, in the same order."""
    created_at = timezone.now()
    rows = [
        {
            "public_id": uuid.uuid4(),
            "organisation_id": organisation.pk,
            "external_id": item.event.external_id or "",
            "pending_id": pending_id,
            "status": SubmissionStatus.ACCEPTED.value,
            "errors": {},
            "channel": channel,
            "event_type": item.event.type,
            "vin": item.event.vin,
            "body_fingerprint": _fingerprint(item.event),
            "created_at": created_at,
        }
        for item, pending_id in zip(new, pending_ids, strict=True)
    ]
    if connection.vendor != "postgresql":
        return Submission.objects.bulk_create(Submission(**row) for row in rows)
    if not rows:
        return []
    # One statement with array parameters: the ORM's bulk_create spent more preparing twelve
    # fields a row than the database spent storing them. The ids come from one sequence in
    # insertion order, which ORDER BY position makes input order; returning only them spares
    # turning a thousand returned UUIDs back into objects.
    # Prepared, for a single event's sake: planning it cost PostgreSQL more than the insert.
    with connection.cursor() as cursor:
        name = prepared(cursor, name="insert_accepted", statement=_INSERT_ACCEPTED)
        cursor.execute(
            f"EXECUTE {name}(%s, %s, %s, %s, %s::uuid[], %s::text[], %s::bigint[], "
            "%s::text[], %s::text[], %s::text[])",
            [
                organisation.pk,
                SubmissionStatus.ACCEPTED.value,
                channel,
                created_at,
                *([row[name] for row in rows] for name in _PER_ROW_COLUMNS),
            ],
        )
        ids = sorted(row_id for (row_id,) in cursor.fetchall())
    fields = [field.attname for field in Submission._meta.concrete_fields]
    alias = connection.alias
    # The rows as a query would load them: a third of the cost of keyword construction. A
    # field added to the model and not to `rows` fails here, loudly.
    return [
        Submission.from_db(
            alias, fields, [row_id if name == "id" else row[name] for name in fields]
        )
        for row, row_id in zip(rows, ids, strict=True)
    ]


def _insert_private_records(records: list[tuple[int, bytes, dict[str, Any]]]) -> None:
    """Store the private details of accepted submissions: (submission id, salt, details)."""
    if not records:
        return
    if connection.vendor != "postgresql":
        PrivateRecord.objects.bulk_create(
            PrivateRecord(submission_id=submission_id, salt=salt, details=details)
            for submission_id, salt, details in records
        )
        return
    # One statement with array parameters, as `_insert_accepted`: the ORM's bulk_create cost
    # some 60 µs a row, a tenth of a batch's CPU when a quarter of the events carry details.
    # The details go as JSON text, as the model's JSONField sends them, and jsonb parses them.
    submission_ids, salts, details = zip(*records, strict=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO sources_privaterecord (submission_id, salt, details) "
            "SELECT * FROM unnest(%s::bigint[], %s::bytea[], %s::jsonb[])",
            [list(submission_ids), list(salts), [json.dumps(value) for value in details]],
        )


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
    organisation: Organisation, external_ids: set[str]
) -> dict[str, Submission]:
    if not external_ids:
        return {}
    found = Submission.objects.filter(
        organisation=organisation, status=SubmissionStatus.ACCEPTED, external_id__in=external_ids
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
    # libsodium rather than the verifier package's OpenSSL: half the CPU per check here, the
    # largest cost of a batch after the VRF. It accepts only what OpenSSL accepts (it also
    # refuses non-canonical and small-order keys and R), so nothing the verifiers would refuse
    # gets into the log.
    try:
        signature = entry_format.b64decode(source_sig)
    except ValueError:
        return False
    if len(signature) != note.SIGNATURE_SIZE:
        return False
    try:
        sodium.crypto_sign_open(
            signature + entry_format.statement_bytes(entry), verifier.public_key
        )
    except BadSignatureError:
        return False
    return True


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

"""Writes to the log: enqueueing entries, platform entries, cosignatures.

Other apps never write ledger tables themselves; they call these functions (see
docs/ARCHITECTURE.md, "Calling the ledger"). Entries are only enqueued here; the sequencer
(`ledger.sequencer`, run by the `ledger.tasks.integrate_pending` task) gives them indexes.
"""

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg2
from carhistory_verifier import entry as entry_format
from carhistory_verifier import note, protocol
from carhistory_verifier.tiles import MAX_BUNDLED_ENTRY_BYTES
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from carhistory import rate_limits
from carhistory.errors import DomainError
from carhistory.prepared_statements import prepared

from . import keys, selectors, tasks, vin_index
from .models import Checkpoint, Cosignature, Cosigner, PendingEntry

# The sequencer's names other apps and tests use, offered here so that `services` and
# `selectors` stay the ledger's only doors.
from .sequencer import (  # noqa: F401
    PUBLISHED_TREE_SIZE_KEY,
    PUBLISHED_TREE_SIZE_SECONDS,
    SEQUENCER_LOCK_KEY,
    IntegrationResult,
    claim_integration_run,
    count_and_lease,
    ensure_checkpoint,
    indexed_fields,
    integrate_pending,
    lease_covers_now,
    leases_integration,
)

logger = logging.getLogger(__name__)


class CosignatureError(DomainError):
    """A cosignature was refused; the message says why."""

    field = "note"


def enqueue_entry(*, entry: Mapping[str, Any]) -> PendingEntry:
    """Store a complete entry object (SPEC §2) as a pending entry; integration is scheduled
    when the surrounding transaction commits. The returned row's id is the submission's
    handle (`selectors.entry_for_pending`)."""
    return enqueue_entries(entries=[entry])[0]


def enqueue_entries(*, entries: Sequence[Mapping[str, Any]]) -> list[PendingEntry]:
    """Store many complete entry objects at once, in order, with one integration scheduled."""
    data = []
    for entry in entries:
        indexed_fields(entry)
        data.append(_bundleable(entry_format.entry_bytes(entry)))
    vins = {entry["vin"] for entry in entries if entry.get("vin")}
    created, proven = _insert_pending(data, vins)
    # Each new VIN's VRF proof is computed here, once, by whoever submits it: the sequencer,
    # the one writer everybody waits for, then seldom meets a VIN it has to prove.
    vin_index.store_vin_keys(vins - proven)
    # robust: the rows are durable; if the broker is down the periodic task integrates them.
    transaction.on_commit(_schedule_integration, robust=True)
    return created


def _bundleable(data: bytes) -> bytes:
    # Mirrors copy the log as C2SP tlog-tiles entry bundles, whose length prefix is 16 bits.
    if len(data) > MAX_BUNDLED_ENTRY_BYTES:
        raise ValueError(
            f"the entry is {len(data)} bytes; the log holds entries of at most "
            f"{MAX_BUNDLED_ENTRY_BYTES} bytes"
        )
    return data


# The new rows' ids, and which of the VINs `$3` have their VRF proof stored: one round trip
# where a single event paid two.
_INSERT_PENDING = (
    "WITH inserted AS (INSERT INTO ledger_pendingentry (data, created_at) "
    "SELECT item, $1::timestamptz FROM unnest($2::bytea[]) "
    "WITH ORDINALITY AS input(item, position) ORDER BY position RETURNING id) "
    "SELECT ARRAY(SELECT id FROM inserted), "
    "ARRAY(SELECT vin FROM ledger_vinkey WHERE vin = ANY($3::text[]))"
)


def _insert_pending(data: list[bytes], vins: set[str]) -> tuple[list[PendingEntry], set[str]]:
    """Store the pending entries `data`, in order: (the rows, those of `vins` whose VRF proof
    is stored)."""
    if connection.vendor != "postgresql":
        created = PendingEntry.objects.bulk_create(PendingEntry(data=item) for item in data)
        return created, vin_index.vins_with_keys(vins) if vins else set()
    # One statement with an array parameter: a third of the ORM's bulk_create cost. The ids
    # come from one sequence in insertion order, which ORDER BY ordinality makes input order.
    # Prepared: planning it cost PostgreSQL more than a single event's insert.
    created_at = timezone.now()
    with connection.cursor() as cursor:
        name = prepared(cursor, name="insert_pending_vins", statement=_INSERT_PENDING)
        cursor.execute(
            f"EXECUTE {name}(%s, %s::bytea[], %s::text[])",
            [created_at, [psycopg2.Binary(item) for item in data], sorted(vins)],
        )
        ids, proven = cursor.fetchone()
    created = [
        PendingEntry(id=pending_id, data=item, created_at=created_at)
        for pending_id, item in zip(sorted(ids), data, strict=True)
    ]
    return created, set(proven)


def _schedule_integration() -> None:
    # One queued run for all the commits before its look, not a task per commit: at hundreds
    # of single submissions a second the worker otherwise spent its time starting runs that
    # found nothing left, or the lock taken. It starts a batch interval later, so that it
    # finds the commits of that interval too: a run costs about the same for one entry or
    # twenty (`sequencer._pace`). A submission that committed within its lease is looked
    # after already (`count_and_lease_integration`).
    if lease_covers_now():
        return
    if claim_integration_run():
        _queue_integration_run()


def _queue_integration_run() -> None:
    tasks.integrate_pending.apply_async(countdown=settings.LEDGER_BATCH_INTERVAL_SECONDS)


def count_and_lease_integration(
    *, counter_key: str, window_seconds: int, allowed: int
) -> tuple[int, int]:
    """Count a submission against its rate limit (`counter_key`, as `rate_limits.count`: the
    requests in the window and the seconds until it closes) and, within `allowed`, lease it
    the sequencer look that its commit would otherwise claim (`sequencer.count_and_lease`):
    one Redis round trip for both. Without leases (tasks run eagerly, or no Redis) it only
    counts."""
    if not leases_integration():
        return rate_limits.count(counter_key=counter_key, window_seconds=window_seconds)
    counted, seconds_left, must_queue = count_and_lease(
        counter_key=counter_key, window_seconds=window_seconds, allowed=allowed
    )
    if must_queue:
        # Queued before this request commits: the run looks again until the lease ends. As
        # after a commit, a broker that is down fails nothing (beat's runs integrate).
        try:
            _queue_integration_run()
        except Exception:
            logger.exception("could not queue a sequencer run; beat's next run integrates")
    return counted, seconds_left


def sign_as_platform(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `entry` signed with the log key: `source_key` is the log's verifier key line
    and `source_sig` its signature over the statement (SPEC §2). Used for the platform's own
    entries and for sources that have no key of their own (they keep their `source` slug)."""
    signed = dict(entry)
    signed.pop("source_sig", None)
    signed["source_key"] = keys.log_verifier_key()
    statement = entry_format.statement_bytes(signed)
    signed["source_sig"] = entry_format.b64encode(keys.log_signer().sign(statement))
    return signed


def enqueue_platform_entry(
    *,
    type: str,
    facts: dict[str, Any],
    vin: str | None = None,
    occurred_at: str | None = None,
) -> PendingEntry:
    """Build and sign with the log key an entry the platform writes itself (`source_key`,
    `source_status`, `correction`), and enqueue it like any other; the sequencer integrates it
    once the surrounding transaction commits. The returned row's id is the reference the caller
    keeps; `selectors.indexes_for_pending` gives the log index once integrated.

    Nothing waits for the sequencer here, yet the entry's place in the log is fixed: pending
    ids come from one sequence and the sequencer integrates in their order, so every entry
    enqueued after this transaction commits (an event signed by the key a `source_key` entry
    registers, say) lands after it. `vin` is left out of the entry when None (SPEC §5: those
    types have none); `occurred_at` defaults to now, since the platform's act happens when it
    is written.
    """
    now = timezone.now().replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    entry: dict[str, Any] = {
        "v": 1,
        "type": type,
        "occurred_at": occurred_at or now,
        "facts": facts,
        "source": protocol.PLATFORM_SOURCE,
        "private_commitment": None,
        "submitted_at": now,
        "nonce": entry_format.new_nonce(),
    }
    if vin is not None:
        entry["vin"] = vin
    return enqueue_entry(entry=sign_as_platform(entry))


def add_cosignature(*, cosigner_name: str, cosigned_note: str) -> Cosignature:
    """Accept a cosigner's C2SP tlog-cosignature on one of the log's checkpoints.

    `cosigned_note` is the checkpoint note as the cosigner returns it, with its cosignature
    line among the signature lines. The checkpoint body must be byte for byte one the log
    signed, and the line must verify under the registered, active cosigner's key. Sending the
    same cosignature again returns the stored one.
    """
    cosigner = Cosigner.objects.filter(name=cosigner_name, active=True).first()
    if cosigner is None:
        raise CosignatureError(f"{cosigner_name!r} is not an active registered cosigner")
    body, separator, signatures = cosigned_note.partition("\n\n")
    if not separator:
        raise CosignatureError("the note has no signature lines")
    try:
        parsed = note.parse_checkpoint(body + "\n")
        verifier = note.CosignatureVerifier.from_key_string(cosigner.verifier_key)
    except note.NoteError as error:
        raise CosignatureError(str(error)) from error
    checkpoint = selectors.checkpoint_at(parsed.size)
    if checkpoint is None or checkpoint.note.partition("\n\n")[0] != body:
        raise CosignatureError("the log never signed this checkpoint")
    for line in signatures.splitlines():
        if not line.startswith(f"— {cosigner.name} "):
            continue
        try:
            timestamp = note.verify_cosignature(f"{body}\n\n{line}\n", verifier)
        except note.NoteError:
            continue
        return store_cosignature(
            cosigner=cosigner, checkpoint=checkpoint, signature_line=line, timestamp=timestamp
        )
    raise CosignatureError(f"no valid cosignature by {cosigner.name!r} on this checkpoint")


def store_cosignature(
    *, cosigner: Cosigner, checkpoint: Checkpoint, signature_line: str, timestamp: int
) -> Cosignature:
    """Keep a verified cosignature line (once per cosigner, checkpoint and time)."""
    if connection.vendor == "postgresql":
        # One statement for a new line, rather than get_or_create's savepoint, look-up and
        # insert: each witness's push stores one after every batch the sequencer signs.
        created_at = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO ledger_cosignature (checkpoint_id, cosigner_id, signature_line, "
                '"timestamp", created_at) VALUES (%s, %s, %s, %s, %s) '
                'ON CONFLICT (checkpoint_id, cosigner_id, "timestamp") DO NOTHING RETURNING id',
                [checkpoint.pk, cosigner.pk, signature_line, timestamp, created_at],
            )
            row = cursor.fetchone()
        if row is not None:
            stored = {
                "id": row[0],
                "checkpoint_id": checkpoint.pk,
                "cosigner_id": cosigner.pk,
                "signature_line": signature_line,
                "timestamp": timestamp,
                "created_at": created_at,
            }
            # As a query would load it; a field added to the model and not here fails loudly.
            fields = [field.attname for field in Cosignature._meta.concrete_fields]
            return Cosignature.from_db(connection.alias, fields, [stored[name] for name in fields])
    # Kept before (the same line again), or another database.
    cosignature, _ = Cosignature.objects.get_or_create(
        checkpoint=checkpoint,
        cosigner=cosigner,
        timestamp=timestamp,
        defaults={"signature_line": signature_line},
    )
    return cosignature

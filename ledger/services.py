"""Writes to the log: enqueueing entries, the sequencer, platform entries, cosignatures.

Other apps never write ledger tables themselves; they call these functions (see
docs/ARCHITECTURE.md, "Calling the ledger").
"""

import functools
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg2
from carhistory_verifier import entry as entry_format
from carhistory_verifier import merkle, note, protocol
from carhistory_verifier.tiles import MAX_BUNDLED_ENTRY_BYTES
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from carhistory.errors import DomainError

from . import keys, selectors, signals
from .models import Checkpoint, Cosignature, Cosigner, Entry, PendingEntry, Subtree

# The PostgreSQL advisory lock key that makes the sequencer a single writer: "clog" in ASCII.
SEQUENCER_LOCK_KEY = 0x636C6F67

# Column widths of the indexed copies on Entry; checked at enqueue so that one bad entry can
# never jam the sequencer later.
INDEXED_FIELD_LIMITS = {"type": 32, "source": 100, "vin": 17, "occurred_at": 40}


class CosignatureError(DomainError):
    """A cosignature was refused; the message says why."""

    field = "note"


@dataclass(frozen=True)
class IntegrationResult:
    tree_size: int
    integrated: int
    checkpoint: Checkpoint | None


def indexed_fields(entry: Mapping[str, Any]) -> dict[str, str | None]:
    """The fields Entry keeps indexed copies of, taken from an entry object; ValueError if
    one is missing or does not fit."""
    fields: dict[str, str | None] = {
        "type": entry.get("type"),
        "source": entry.get("source"),
        "vin": entry.get("vin"),
        "occurred_at": entry.get("occurred_at") or "",
    }
    for name, value in fields.items():
        if value is None and name == "vin":
            continue
        # PostgreSQL text cannot hold NUL: refused here rather than failing every batch later.
        if not isinstance(value, str) or len(value) > INDEXED_FIELD_LIMITS[name] or "\x00" in value:
            raise ValueError(
                f"entry field {name!r} must be a string of at most "
                f"{INDEXED_FIELD_LIMITS[name]} characters, without NUL"
            )
    if not fields["type"] or not fields["source"]:
        raise ValueError("an entry needs a non-empty 'type' and 'source'")
    return fields


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
    created = _insert_pending(data)
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


def _insert_pending(data: list[bytes]) -> list[PendingEntry]:
    if connection.vendor != "postgresql":
        return PendingEntry.objects.bulk_create(PendingEntry(data=item) for item in data)
    # One statement with an array parameter: a third of the ORM's bulk_create cost. The ids
    # come from one sequence in insertion order, which ORDER BY ordinality makes input order.
    created_at = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_pendingentry (data, created_at) "
            "SELECT item, %s FROM unnest(%s::bytea[]) WITH ORDINALITY AS input(item, position) "
            "ORDER BY position RETURNING id",
            [created_at, [psycopg2.Binary(item) for item in data]],
        )
        ids = sorted(row[0] for row in cursor.fetchall())
    return [
        PendingEntry(id=pending_id, data=item, created_at=created_at)
        for pending_id, item in zip(ids, data, strict=True)
    ]


def _schedule_integration() -> None:
    from .tasks import integrate_pending as integrate_pending_task

    integrate_pending_task.delay()


def _schedule_witnessing() -> None:
    from .tasks import push_to_witness
    from .witnessing import active_witness_ids

    # One task per witness straight away (not a fan-out task first): one hop less between a
    # checkpoint and its cosignatures, and a slow witness delays only its own.
    for witness_id in active_witness_ids():
        push_to_witness.delay(witness_id)


def integrate_pending(*, batch_size: int | None = None, wait: bool = False) -> IntegrationResult:
    """The sequencer: give every pending entry the next index, store the new leaves and
    completed subtrees, sign a checkpoint, and delete the pending rows, one transaction per
    batch of `batch_size` (default settings.LEDGER_BATCH_SIZE), until none remain.

    A crash at any point leaves the tree as of the last committed batch. On PostgreSQL a
    transaction-scoped advisory lock keeps sequencers from interleaving: if another holds it,
    this returns at once (integrated=0) unless `wait`, since the holder loops until nothing is
    pending. A row committed just after the holder's last look waits for the next call (the
    periodic task runs every few seconds). SQLite serialises writers by itself.
    """
    batch_size = batch_size or settings.LEDGER_BATCH_SIZE
    integrated = 0
    checkpoint = None
    while True:
        with transaction.atomic():
            if not _take_sequencer_lock(wait=wait):
                return IntegrationResult(selectors.tree_size(), integrated, checkpoint)
            size, count, new_checkpoint = _integrate_batch(batch_size)
            if count:
                _publish_tree_size(size)
                # After the commit, and robust: witnesses never hold up the sequencer.
                transaction.on_commit(_schedule_witnessing, robust=True)
                transaction.on_commit(functools.partial(_announce_entries, size), robust=True)
        integrated += count
        checkpoint = new_checkpoint or checkpoint
        if count < batch_size:
            return IntegrationResult(size, integrated, checkpoint)


def _announce_entries(size: int) -> None:
    signals.entries_integrated.send(sender=integrate_pending, tree_size=size)


# The log's size, published for readers that would otherwise ask PostgreSQL on every request
# (the cached report is keyed by it). Published inside the batch's transaction, while the
# sequencer lock is held, so successive sizes arrive in order; a reader that sees a size not
# yet committed finds no report cached under it and builds one from what PostgreSQL shows,
# cached under the size it was built from. A size can therefore run ahead of the database but
# never lag behind it: no report is served stale. If publishing fails, the batch rolls back and
# stays pending. Readers fill in a missing size with `add` (never overwriting a newer one),
# and the short expiry bounds how long any size they race in can live.
PUBLISHED_TREE_SIZE_KEY = "ledger:tree-size"
PUBLISHED_TREE_SIZE_SECONDS = 5


def _publish_tree_size(size: int) -> None:
    cache.set(PUBLISHED_TREE_SIZE_KEY, size, PUBLISHED_TREE_SIZE_SECONDS)


def _take_sequencer_lock(*, wait: bool) -> bool:
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEQUENCER_LOCK_KEY])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SEQUENCER_LOCK_KEY])
        return cursor.fetchone()[0]


def _integrate_batch(batch_size: int) -> tuple[int, int, Checkpoint | None]:
    size = selectors.tree_size()
    pending = list(PendingEntry.objects.order_by("id").values_list("id", "data")[:batch_size])
    if not pending:
        return size, 0, None
    frontier = _load_frontier(size)
    integrated_at = timezone.now()
    entries = []
    subtrees = []
    for pending_id, data in pending:
        data = bytes(data)
        leaf_hash = merkle.leaf_hash(data)
        fields = indexed_fields(json.loads(data))
        entries.append(
            (
                frontier.size,
                leaf_hash,
                data,
                fields["vin"],
                fields["type"],
                fields["source"],
                fields["occurred_at"],
                pending_id,
                integrated_at,
            )
        )
        subtrees.extend(frontier.append(leaf_hash))
    _insert_rows(Entry, ENTRY_COLUMNS, entries)
    _insert_rows(Subtree, SUBTREE_COLUMNS, subtrees)
    checkpoint = _sign_checkpoint(frontier.size, frontier.root())
    PendingEntry.objects.filter(id__in=[pending_id for pending_id, _ in pending]).delete()
    return frontier.size, len(pending), checkpoint


ENTRY_COLUMNS = (
    "index",
    "leaf_hash",
    "data",
    "vin",
    "type",
    "source",
    "occurred_at",
    "pending_id",
    "integrated_at",
)
SUBTREE_COLUMNS = ("level", "index", "hash")


def _insert_rows(model: type[Entry] | type[Subtree], columns: tuple[str, ...], rows: list) -> None:
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(model(**dict(zip(columns, row, strict=True))) for row in rows)
        return
    # COPY is several times faster than INSERT through the ORM, and the sequencer is the one
    # writer every submission waits for.
    quoted = ", ".join(connection.ops.quote_name(column) for column in columns)
    text = "".join("\t".join(map(_copy_field, row)) + "\n" for row in rows)
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            f"COPY {model._meta.db_table} ({quoted}) FROM STDIN",
            io.BytesIO(text.encode("utf-8")),
        )


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_field(value: object) -> str:
    """One field in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bytes):
        return "\\\\x" + value.hex()
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _load_frontier(size: int) -> merkle.Frontier:
    positions = merkle.Frontier.subtrees_for_size(size)
    stored = selectors.subtree_hashes(positions)
    return merkle.Frontier.from_hashes(size, [stored[position] for position in positions])


def _sign_checkpoint(size: int, root_hash: bytes) -> Checkpoint:
    body = note.Checkpoint(origin=settings.LEDGER_ORIGIN, size=size, root_hash=root_hash)
    text = note.sign_checkpoint(body, keys.log_signer())
    return Checkpoint.objects.create(tree_size=size, root_hash=root_hash, note=text)


def ensure_checkpoint() -> Checkpoint:
    """The latest checkpoint; a log that has never signed one signs the empty tree's (size 0),
    so that /log/checkpoint always serves something a client can verify and extend."""
    latest = selectors.latest_checkpoint()
    if latest is not None:
        return latest
    with transaction.atomic():
        _take_sequencer_lock(wait=True)
        return selectors.latest_checkpoint() or _sign_checkpoint(0, merkle.EMPTY_ROOT)


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


def append_platform_entry(
    *,
    type: str,
    facts: dict[str, Any],
    vin: str | None = None,
    occurred_at: str | None = None,
) -> Entry:
    """Build, sign with the log key and integrate at once an entry the platform writes itself
    (`source_key`, `source_status`, `correction`); returns the integrated Entry.

    `vin` is left out of the entry when None (SPEC §5: those types have none); `occurred_at`
    defaults to now, since the platform's act happens when it is written.
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
    pending = enqueue_entry(entry=sign_as_platform(entry))
    integrate_pending(wait=True)
    return Entry.objects.get(pending_id=pending.id)


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
    cosignature, _ = Cosignature.objects.get_or_create(
        checkpoint=checkpoint,
        cosigner=cosigner,
        timestamp=timestamp,
        defaults={"signature_line": signature_line},
    )
    return cosignature

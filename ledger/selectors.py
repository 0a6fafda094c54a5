"""Reads of the stored log: checkpoints, entries, proofs and tiles.

Proofs are answered from stored hashes, never by rehashing leaves: every node a proof needs is
a union of complete, aligned subtrees (`merkle.range_subtrees`), and every complete subtree is
a stored row (`Entry.leaf_hash` for level 0, `Subtree` above). So a proof costs two queries
whatever the size of the tree. Because the tree is append-only, a proof may be asked for any
tree size up to the current one, not only sizes that have a checkpoint.
"""

import functools
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import NamedTuple, TypeVar

from carhistory_verifier import merkle, protocol
from carhistory_verifier.tiles import (
    TILE_WIDTH,
    TileAddress,
    encode_entry_bundle,
    tile_subtree_level,
)
from carhistory_verifier.vin_index import VinIndexProof
from django.db import connection
from django.db.models import Max, OuterRef, Q, Subquery

from carhistory.errors import DomainError
from carhistory.prepared_statements import prepared

from . import vin_index
from .keys import log_verifier_key  # noqa: F401 - a read other apps make through this door
from .models import Checkpoint, Cosignature, Cosigner, Entry, Subtree

# Only "%s" placeholders are ever formatted into these; values travel as parameters.
LEAF_HASHES_SQL = 'SELECT 0, "index", leaf_hash FROM ledger_entry WHERE "index" IN ({placeholders})'
SUBTREE_CONDITION_SQL = '(level = %s AND "index" = %s)'
SUBTREE_HASHES_SQL = 'SELECT level, "index", hash FROM ledger_subtree WHERE {conditions}'
# PostgreSQL: the positions as arrays, so that the few hundred subtrees of a whole bundle's
# proofs are one short statement, answered by primary-key probes.
LEAF_HASHES_ANY_SQL = 'SELECT 0, "index", leaf_hash FROM ledger_entry WHERE "index" = ANY(%s)'
SUBTREE_HASHES_ANY_SQL = (
    'SELECT stored.level, stored."index", stored.hash FROM ledger_subtree AS stored '
    'JOIN unnest(%s::smallint[], %s::bigint[]) AS wanted (level, "index") '
    'ON stored.level = wanted.level AND stored."index" = wanted."index"'
)
ENTRY_DATA_SQL = (
    'SELECT data FROM ledger_entry WHERE "index" >= %s AND "index" < %s ORDER BY "index"'
)


# Any model row of another app that keeps a pending entry's id (`with_log_indexes`).
Row = TypeVar("Row")


class ProofRequestError(DomainError):
    """A proof was asked for positions the log does not have; the message says why."""


def tree_size() -> int:
    """The number of integrated entries (the size of the latest checkpoint)."""
    return _current_size()


def _current_size() -> int:
    # A separate name because the proof functions take a `tree_size` argument. A plain
    # statement: the sequencer, each witness push and the watch lookup ask it after every
    # batch, and building the ORM's query cost several times what PostgreSQL spent on it.
    with connection.cursor() as cursor:
        cursor.execute("SELECT tree_size FROM ledger_checkpoint ORDER BY tree_size DESC LIMIT 1")
        row = cursor.fetchone()
    return row[0] if row else 0


def latest_checkpoint() -> Checkpoint | None:
    return Checkpoint.objects.order_by("-tree_size").first()


def checkpoint_at(tree_size: int) -> Checkpoint | None:
    return Checkpoint.objects.filter(tree_size=tree_size).first()


def served_checkpoint_text(checkpoint: Checkpoint) -> str:
    """The signed note with the newest cosignature line of every active cosigner appended
    (C2SP signed-note allows any number of signature lines after the log's own)."""
    text = checkpoint.note if checkpoint.note.endswith("\n") else checkpoint.note + "\n"
    return text + "".join(line.rstrip("\n") + "\n" for line in newest_cosignatures(checkpoint))


def newest_cosignatures(checkpoint: Checkpoint) -> list[str]:
    """The newest cosignature line of each active cosigner on `checkpoint`, by cosigner."""
    newest = (
        Cosignature.objects.filter(checkpoint=checkpoint, cosigner=OuterRef("pk"))
        .order_by("-timestamp")
        .values("signature_line")[:1]
    )
    return list(
        Cosigner.objects.filter(active=True)
        .annotate(line=Subquery(newest))
        .exclude(line=None)
        .order_by("id")
        .values_list("line", flat=True)
    )


def cosigned_marker(checkpoint: Checkpoint | None) -> int:
    """A number that grows whenever `checkpoint` gains a cosignature (0 without any), so a
    cache of what it serves can be keyed by it."""
    if checkpoint is None:
        return 0
    newest = checkpoint.cosignatures.aggregate(newest=Max("id"))["newest"]
    return newest or 0


def trusted_cosigners(*, language: str | None = None) -> list[dict[str, str]]:
    """The active cosigners a report page checks cosignatures against: name, key, and the
    title a reader of `language` reads."""
    cosigners = Cosigner.objects.filter(active=True).order_by("id")
    return [
        {
            "name": c.name,
            "title": c.display_name_in(language),
            "key": c.verifier_key,
            "kind": c.kind,
        }
        for c in cosigners
    ]


def witnesses_of(cosigners: list[dict[str, str]]) -> list[dict[str, str]]:
    """Of `trusted_cosigners()`, the witnesses (the mirrors cosign too)."""
    return [cosigner for cosigner in cosigners if cosigner["kind"] == Cosigner.Kind.WITNESS]


def witnesses() -> list[Cosigner]:
    """Every registered witness, with the log's view of it (last cosigned size and time)."""
    return list(Cosigner.objects.filter(kind=Cosigner.Kind.WITNESS).order_by("name"))


def entry_for_pending(pending_id: int) -> Entry | None:
    return Entry.objects.filter(pending_id=pending_id).first()


def indexes_for_pending(pending_ids: Iterable[int]) -> dict[int, int]:
    """The log index of each of `pending_ids` already integrated, in one query."""
    pending_ids = list(pending_ids)
    if not pending_ids:
        return {}
    rows = Entry.objects.filter(pending_id__in=pending_ids).values_list("pending_id", "index")
    return dict(rows)


def with_log_indexes(rows: Iterable[Row], *, pending: str, into: str) -> list[Row]:
    """Rows of other apps that keep a pending entry's id in their attribute `pending`, each
    given attribute `into`: that entry's log index, or None while the sequencer has not
    integrated it yet (or when the row refers to no entry). One query for all of them.

    The way a page shows the index of an entry its request only enqueued: the row keeps the
    pending id, which is known at once, and the index is looked up where it is shown."""
    rows = list(rows)
    indexes = indexes_for_pending(
        pending_id for row in rows if (pending_id := getattr(row, pending)) is not None
    )
    for row in rows:
        setattr(row, into, indexes.get(getattr(row, pending)))
    return rows


def log_index_of_pending(pending_field: str) -> Subquery:
    """For annotating another app's queryset (an admin list): the log index of the entry whose
    pending id is in the row's `pending_field`, NULL while pending."""
    return Subquery(Entry.objects.filter(pending_id=OuterRef(pending_field)).values("index")[:1])


def platform_entries(*, types: Iterable[str], below: int) -> list[tuple[int, bytes]]:
    """(index, bytes) of the platform's own entries of the given `types` below index `below`,
    in index order, in one query: `source` is indexed, and only the platform writes these
    types (a few per source: its keys and its status changes)."""
    rows = Entry.objects.filter(
        source=protocol.PLATFORM_SOURCE, type__in=list(types), index__lt=below
    ).order_by("index")
    return [(index, bytes(data)) for index, data in rows.values_list("index", "data")]


class LoggedEntry(NamedTuple):
    """An entry as a history reads it: its index, the indexed copies of its VIN and type,
    and its bytes (the authority). A tuple rather than the model: a bundle reads a dozen, and
    building model instances cost more than the rest of its Python."""

    index: int
    vin: str | None
    type: str
    data: bytes


@dataclass(frozen=True)
class VinHistory:
    """What one checkpoint of the log holds about one VIN."""

    entries: list[LoggedEntry]  # the VIN's entries the checkpoint covers, in index order
    last_entry: LoggedEntry | None  # the checkpoint's own last entry (None for an empty log)
    # When asked for and the checkpoint commits to the VIN index: the VIN's VRF proof and its
    # proof in the map that last entry commits to (SPEC §7).
    map_proof: tuple[bytes, VinIndexProof] | None = None

    @property
    def commits_to_vin_index(self) -> bool:
        """Whether the checkpoint ends with a `vin_index` entry (SPEC §7), so that its
        evidence bundles can prove that no entry of the VIN was left out."""
        return self.last_entry is not None and self.last_entry.type == protocol.VIN_INDEX


def vin_history(
    vin: str, checkpoint: Checkpoint | None, *, with_map_proof: bool = False
) -> VinHistory:
    """The entries of `vin` that `checkpoint` covers and the checkpoint's last entry, in one
    query (two index probes, `vin` and the primary key, OR-ed by the database); with
    `with_map_proof`, the VIN's map proof too. Read it in the same transaction as the
    checkpoint: the stored map is the latest one's."""
    size = checkpoint.tree_size if checkpoint is not None else 0
    if size == 0:
        return VinHistory(entries=[], last_entry=None)
    if with_map_proof and connection.vendor == "postgresql":
        return _history_with_map_proof(vin, size)
    rows = (
        Entry.objects.filter(Q(vin=vin, index__lt=size) | Q(index=size - 1))
        .order_by("index")
        .values_list("index", "vin", "type", "data")
    )
    history = _history_of_rows(vin, size, [LoggedEntry(*row) for row in rows])
    if with_map_proof and history.commits_to_vin_index:
        place, proof = vin_index.proof_for(vin)
        return replace(history, map_proof=(place.vrf_proof, proof))
    return history


def _history_of_rows(vin: str, size: int, rows: list[LoggedEntry]) -> VinHistory:
    """Rows of the VIN and the checkpoint's last entry (which may be one of them), in index
    order, as a `VinHistory`."""
    last = rows[-1] if rows and rows[-1].index == size - 1 else None
    return VinHistory(entries=[row for row in rows if row.vin == vin], last_entry=last)


# `vin_history`'s rows, the VIN's stored place and the first levels of its map path, in one
# statement (an evidence bundle's; each part alone is a round trip of about the same time).
# Rows are tagged by part, the columns a part leaves unused NULL.
ENTRY_ROW, PLACE_ROW, NODE_ROW = 0, 1, 2


def _history_and_map_path_sql(levels: int) -> str:
    return f"""
    WITH place AS (SELECT key, vrf_proof, indexes FROM ledger_vinkey WHERE vin = $1)
    SELECT {ENTRY_ROW}, "index", vin, type, data, NULL::bytea, NULL::bytea, NULL::bytea
        FROM ledger_entry WHERE (vin = $1 AND "index" < $2) OR "index" = $2 - 1
    UNION ALL
    SELECT {PLACE_ROW}, NULL, NULL, NULL, key, vrf_proof, indexes, NULL FROM place
    UNION ALL
    SELECT {NODE_ROW}, NULL, NULL, NULL, path, hash, leaf_key, leaf_index_hash
        FROM ledger_vinindexnode WHERE path = ANY(ARRAY({vin_index.first_path_sql(levels)}))
"""  # noqa: S608 - constants only


def _history_with_map_proof(vin: str, size: int) -> VinHistory:
    levels = vin_index.MAP_LEVELS_A_QUERY
    with connection.cursor() as cursor:
        name = prepared(
            cursor,
            name=f"vin_history_and_map_path_{levels}",
            statement=_history_and_map_path_sql(levels),
        )
        cursor.execute(f"EXECUTE {name}(%s, %s)", [vin, size])
        rows = cursor.fetchall()
    entries, place, nodes = [], None, []
    for part, index, row_vin, entry_type, *columns in rows:
        if part == ENTRY_ROW:
            entries.append(LoggedEntry(index, row_vin, entry_type, columns[0]))
        elif part == PLACE_ROW:
            key, vrf_proof, indexes, _ = columns
            place = vin_index.VinPlace(vin, bytes(key), bytes(vrf_proof), bytes(indexes))
        else:
            nodes.append(columns)
    history = _history_of_rows(vin, size, sorted(entries, key=lambda entry: entry.index))
    if not history.commits_to_vin_index:
        return history
    first_path = vin_index.first_path_then_table(nodes, levels=levels)
    place, proof = vin_index.proof_from(vin, place, first_path)
    return replace(history, map_proof=(place.vrf_proof, proof))


def entries_for_vin(vin: str) -> list[Entry]:
    return list(Entry.objects.filter(vin=vin).order_by("index"))


def vins_with_entries(vins: Iterable[str]) -> set[str]:
    """Those of `vins` that have at least one entry in the log."""
    return set(Entry.objects.filter(vin__in=list(vins)).values_list("vin", flat=True).distinct())


def entries_of_vins_in_range(*, vins: Iterable[str], start: int, end: int) -> list[Entry]:
    """The entries about any of `vins` with `start <= index < end`, in log order (indexed
    fields only: what a watcher is told needs no entry bytes)."""
    return list(
        Entry.objects.filter(vin__in=list(vins), index__gte=start, index__lt=end)
        .order_by("index")
        .only("index", "vin", "type")
    )


def entries_by_index(indexes: Iterable[int]) -> dict[int, Entry]:
    return {entry.index: entry for entry in Entry.objects.filter(index__in=list(indexes))}


def subtree_hashes(subtrees: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """Fetch the stored hashes of the given complete subtrees `(level, index)` in one query
    (leaves from Entry, higher levels from Subtree). Missing ones are absent from the result.

    Plain SQL rather than the ORM: building a query of a few dozen OR-ed conditions through
    the ORM costs several milliseconds, ten times what PostgreSQL needs to answer it.
    """
    wanted = set(subtrees)
    leaves = [index for level, index in wanted if level == 0]
    upper = [(level, index) for level, index in wanted if level > 0]
    if connection.vendor == "postgresql":
        parts, params = _subtree_query_as_arrays(leaves, upper)
    else:
        parts, params = _subtree_query_as_conditions(leaves, upper)
    if not parts:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        return {(level, index): bytes(value) for level, index, value in cursor.fetchall()}


def _subtree_query_as_arrays(
    leaves: list[int], upper: list[tuple[int, int]]
) -> tuple[list[str], list[object]]:
    parts: list[str] = []
    params: list[object] = []
    if leaves:
        parts.append(LEAF_HASHES_ANY_SQL)
        params.append(leaves)
    if upper:
        parts.append(SUBTREE_HASHES_ANY_SQL)
        params.extend([[level for level, _index in upper], [index for _level, index in upper]])
    return parts, params


def _subtree_query_as_conditions(
    leaves: list[int], upper: list[tuple[int, int]]
) -> tuple[list[str], list[object]]:
    parts: list[str] = []
    params: list[object] = []
    if leaves:
        placeholders = ", ".join(["%s"] * len(leaves))
        parts.append(LEAF_HASHES_SQL.format(placeholders=placeholders))
        params.extend(leaves)
    if upper:
        conditions = " OR ".join([SUBTREE_CONDITION_SQL] * len(upper))
        parts.append(SUBTREE_HASHES_SQL.format(conditions=conditions))
        params.extend(value for subtree in upper for value in subtree)
    return parts, params


def _hashes_of_ranges(ranges: list[tuple[int, int]]) -> list[bytes]:
    needed = [subtree for start, end in ranges for subtree in merkle.range_subtrees(start, end)]
    stored = _stored_subtrees(needed)
    return [
        merkle.hash_range(start, end, lambda level, index: stored[(level, index)])
        for start, end in ranges
    ]


def _stored_subtrees(needed: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    needed = list(needed)
    stored = subtree_hashes(needed)
    missing = [subtree for subtree in needed if subtree not in stored]
    if missing:
        # Only possible if storage lost rows: `verify_ledger` names the damage.
        raise LookupError(f"stored subtrees are missing: {missing[:5]}")
    return stored


def inclusion_proof(*, index: int, tree_size: int) -> list[bytes]:
    """RFC 9162 inclusion proof of entry `index` in the tree of the first `tree_size` entries."""
    current = _current_size()
    if not 0 < tree_size <= current:
        raise ProofRequestError(f"tree_size must be between 1 and the log's size, {current}")
    if not 0 <= index < tree_size:
        raise ProofRequestError(f"index must be between 0 and tree_size - 1, {tree_size - 1}")
    return _hashes_of_ranges(merkle.inclusion_proof_ranges(index, tree_size))


def inclusion_proofs(*, indexes: Iterable[int], checkpoint: Checkpoint) -> dict[int, list[bytes]]:
    """RFC 9162 inclusion proofs of each of `indexes` against a stored checkpoint, by index,
    from one query however many there are (an evidence bundle needs a few dozen).

    A stored checkpoint is never larger than the log, so unlike `inclusion_proof` this reads
    no size first: read the checkpoint in the same transaction.
    """
    tree_size = checkpoint.tree_size
    ranges: dict[int, list[tuple[int, int]]] = {}
    for index in indexes:
        if not 0 <= index < tree_size:
            raise ProofRequestError(f"index must be between 0 and tree_size - 1, {tree_size - 1}")
        ranges[index] = merkle.inclusion_proof_ranges(index, tree_size)
    stored = _stored_subtrees(
        {
            subtree
            for proof_ranges in ranges.values()
            for start, end in proof_ranges
            for subtree in merkle.range_subtrees(start, end)
        }
    )
    return {
        index: [
            merkle.hash_range(start, end, lambda level, position: stored[(level, position)])
            for start, end in proof_ranges
        ]
        for index, proof_ranges in ranges.items()
    }


def last_entry_inclusion_proof(checkpoint: Checkpoint) -> list[bytes]:
    """The inclusion proof of `checkpoint`'s last entry (its `vin_index` entry, SPEC §7):
    the same in every bundle proven against it, so computed once per checkpoint."""
    return list(_last_entry_inclusion_proof(checkpoint.tree_size, bytes(checkpoint.root_hash)))


# Keyed by the root hash too: it commits to the whole tree, so a key names one proof whatever
# database or rolled-back test the checkpoint came from.
@functools.lru_cache(maxsize=8)
def _last_entry_inclusion_proof(tree_size: int, root_hash: bytes) -> tuple[bytes, ...]:
    checkpoint = Checkpoint(tree_size=tree_size, root_hash=root_hash)
    return tuple(inclusion_proofs(indexes=[tree_size - 1], checkpoint=checkpoint)[tree_size - 1])


def consistency_proof(*, first: int, second: int) -> list[bytes]:
    """RFC 9162 consistency proof from the tree of `first` entries to that of `second`."""
    current = _current_size()
    if not 0 <= second <= current:
        raise ProofRequestError(f"second must be between 0 and the log's size, {current}")
    if not 0 <= first <= second:
        raise ProofRequestError("first must be between 0 and second")
    return _hashes_of_ranges(merkle.consistency_proof_ranges(first, second))


def tile(address: TileAddress) -> bytes | None:
    """The C2SP tlog-tiles hash tile at `address`: `width` consecutive hashes of level
    `8 * address.level` subtrees, or None if the tree has not grown that far yet."""
    level = tile_subtree_level(address.level)
    first = address.index * TILE_WIDTH
    last = first + address.width  # exclusive
    if (last << level) > _current_size():
        return None
    if level == 0:
        rows = Entry.objects.filter(index__gte=first, index__lt=last).order_by("index")
        hashes = rows.values_list("leaf_hash", flat=True)
    else:
        rows = Subtree.objects.filter(level=level, index__gte=first, index__lt=last)
        hashes = rows.order_by("index").values_list("hash", flat=True)
    data = b"".join(bytes(value) for value in hashes)
    if len(data) != address.width * merkle.HASH_SIZE:
        raise LookupError(f"stored hashes are missing for tile {address}")
    return data


def entry_bundle(address: TileAddress) -> bytes | None:
    """The C2SP tlog-tiles entry bundle at `address` (its level is ignored: bundles have
    none), or None if the log has not grown that far yet. Private: only mirrors read it."""
    first = address.index * TILE_WIDTH
    last = first + address.width  # exclusive
    if last > _current_size():
        return None
    # Plain SQL: a mirror catching up asks for thousands of bundles, and the ORM's row
    # handling was a third of each answer.
    with connection.cursor() as cursor:
        cursor.execute(ENTRY_DATA_SQL, [first, last])
        entries = [bytes(data) for (data,) in cursor.fetchall()]
    if len(entries) != address.width:
        raise LookupError(f"stored entries are missing for entry bundle {address}")
    return encode_entry_bundle(entries)

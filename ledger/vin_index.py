"""The VIN index of SPEC §7 in storage: each VIN's VRF output, and the trie's stored nodes.

The mathematics is `carhistory_verifier.vin_index`; this module only reads and writes it. The
sequencer calls `update_map` inside its batch transaction, so the map, the entries, their
subtree hashes and the checkpoint commit together or not at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import psycopg2
from carhistory_verifier import protocol, vrf
from carhistory_verifier.entry import b64encode, new_nonce, statement_bytes
from carhistory_verifier.vin_index import (
    EMPTY_HASH,
    ROOT,
    Branch,
    Fetch,
    Leaf,
    MapTrie,
    Node,
    NodeId,
    StoredRow,
    VinIndexProof,
    apply_updates,
    prove,
)
from django.db import connection
from django.utils import timezone

from carhistory.prepared_statements import prepared

from . import keys, pg_copy
from .models import VinIndexNode, VinKey


@dataclass(frozen=True)
class VinPlace:
    """What the map knows of one VIN: its VRF proof and key, and its entry indexes."""

    vin: str
    key: bytes
    vrf_proof: bytes
    indexes: bytes  # 8-byte big-endian integers


def vrf_place(vin: str) -> tuple[bytes, bytes]:
    """(VRF proof, map key) of a VIN: `pi` and the first 32 bytes of its output (SPEC §7)."""
    proof = vrf.prove(keys.vrf_key(), vin.encode("ascii"))
    return proof, vrf.proof_to_hash(proof)[:32]


def ensure_vin_keys(vins: Iterable[str]) -> None:
    """Compute and store the VRF proof of every VIN that has none yet (each VIN once, ever).

    Called when submissions are enqueued, so the sequencer seldom meets a new VIN; a race
    between two callers stores one of two identical proofs (ECVRF is deterministic).
    """
    wanted = set(vins)
    if wanted:
        store_vin_keys(wanted - vins_with_keys(wanted))


def store_vin_keys(vins: Iterable[str]) -> None:
    """Compute and store the VRF proof of each of `vins`, which were found to have none; one
    stored meanwhile by another caller is kept (its proof is the same)."""
    missing = sorted(vins)
    if not missing:
        return
    rows = [(vin, *reversed(vrf_place(vin))) for vin in missing]
    if connection.vendor != "postgresql":
        VinKey.objects.bulk_create(
            [VinKey(vin=vin, key=key, vrf_proof=proof) for vin, key, proof in rows],
            ignore_conflicts=True,
        )
        return
    # One statement with array parameters, prepared: a new car's single event paid more for
    # formatting and planning a VALUES list than PostgreSQL spent storing the row.
    vin_list, key_list, proof_list = zip(*rows, strict=True)
    with connection.cursor() as cursor:
        name = prepared(cursor, name="insert_vin_keys", statement=_INSERT_VIN_KEYS)
        cursor.execute(
            f"EXECUTE {name}(%s::text[], %s::bytea[], %s::bytea[])",
            [
                list(vin_list),
                [psycopg2.Binary(key) for key in key_list],
                [psycopg2.Binary(proof) for proof in proof_list],
            ],
        )


_INSERT_VIN_KEYS = (
    "INSERT INTO ledger_vinkey (vin, key, vrf_proof, indexes) "
    "SELECT vin, key, vrf_proof, ''::bytea "
    "FROM unnest($1::text[], $2::bytea[], $3::bytea[]) AS input(vin, key, vrf_proof) "
    "ON CONFLICT (vin) DO NOTHING"
)


def vins_with_keys(vins: set[str]) -> set[str]:
    """Those of `vins` whose VRF proof is stored."""
    if connection.vendor != "postgresql":
        return set(VinKey.objects.filter(vin__in=vins).values_list("vin", flat=True))
    # Building the ORM's query cost the web process more than PostgreSQL spent answering it,
    # and planning it cost PostgreSQL more than running it (hence prepared).
    with connection.cursor() as cursor:
        name = prepared(
            cursor,
            name="vins_with_keys",
            statement="SELECT vin FROM ledger_vinkey WHERE vin = ANY($1::text[])",
        )
        cursor.execute(f"EXECUTE {name}(%s::text[])", [list(vins)])
        return {vin for (vin,) in cursor.fetchall()}


def places(vins: Iterable[str]) -> dict[str, VinPlace]:
    """The stored places of the given VINs (those that have one)."""
    wanted = list(set(vins))
    if connection.vendor == "postgresql":
        # Plain SQL, as in `vins_with_keys`: every bundle asks this for one VIN, and the ORM
        # took longer to build the query than PostgreSQL to answer it.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT vin, key, vrf_proof, indexes FROM ledger_vinkey "
                "WHERE vin = ANY(%s::text[])",
                [wanted],
            )
            rows = cursor.fetchall()
    else:
        rows = VinKey.objects.filter(vin__in=wanted).values_list(
            "vin", "key", "vrf_proof", "indexes"
        )
    return {
        vin: VinPlace(vin, bytes(key), bytes(proof), bytes(indexes))
        for vin, key, proof, indexes in rows
    }


def update_map(
    new_indexes: Mapping[str, Sequence[int]], *, alongside: Callable[[], None] | None = None
) -> bytes:
    """Add entry indexes to their VINs in the map; return the new map root.

    `new_indexes` maps each VIN to its new entries' indexes, increasing and all larger than
    any the map already has. Runs inside the sequencer's transaction. `alongside`, when
    given, runs once during the call: in a second thread while the map is hashed in memory
    (it may use the database connection, which the hashing leaves alone), otherwise first.
    """
    stored_root = map_root()
    if not new_indexes:
        if alongside is not None:
            alongside()
        return stored_root
    stored = _batch_places(new_indexes)
    updates: dict[bytes, bytes] = {}
    indexes_by_vin: dict[str, bytes] = {}
    for vin, added in new_indexes.items():
        key, indexes = stored[vin]
        indexes += b"".join(index.to_bytes(8, "big") for index in added)
        indexes_by_vin[vin] = indexes
        # SPEC §7: index_hash is SHA-256 of all the VIN's indexes as u64be, in order.
        updates[key] = hashlib.sha256(indexes).digest()
    trie = _trie_at(stored_root, batch_vins=len(updates))
    if trie is not None:
        # Changed from here on, and the committed map again only once the batch's writes are
        # done: if one fails, the next batch must not take this copy for the stored map.
        _node_caches.trie_root = None
        with _in_a_second_thread(alongside):
            trie.set_many(updates.items())
            root = trie.root()
            rewritten, created = trie.take_changes()
        _write_nodes(rewritten, created=created)
        _node_caches.trie_root = root
    else:
        if alongside is not None:
            alongside()
        cache = _node_cache_at(stored_root)
        root, changed = apply_updates(updates, cache.fetch)
        _write_nodes([_node_row(node_id, node) for node_id, node in changed.items()])
        cache.advance(root, changed)
    _write_indexes(indexes_by_vin)
    return root


@contextlib.contextmanager
def _in_a_second_thread(work: Callable[[], None] | None) -> Iterator[None]:
    """Run `work` in another thread during the block; raise what it raised once both end."""
    if work is None:
        yield
        return
    failures: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as failure:  # re-raised in the calling thread below
            failures.append(failure)

    thread = threading.Thread(target=run, name="sequencer-alongside")
    thread.start()
    try:
        yield
    finally:
        # Never leave the block, nor let the transaction end, with the connection in use.
        thread.join()
    if failures:
        raise failures[0]


def _batch_places(vins: Iterable[str]) -> dict[str, tuple[bytes, bytes]]:
    """(map key, stored index bytes) of each VIN, computing the VRF proof of any VIN that has
    none yet (one that bypassed `enqueue_entries`): one query when every VIN has one."""
    wanted = list(vins)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT vin, key, indexes FROM ledger_vinkey WHERE vin = ANY(%s)", [wanted]
            )
            rows = cursor.fetchall()
    else:
        rows = VinKey.objects.filter(vin__in=wanted).values_list("vin", "key", "indexes")
    stored = {vin: (bytes(key), bytes(indexes)) for vin, key, indexes in rows}
    missing = [vin for vin in wanted if vin not in stored]
    if missing:
        ensure_vin_keys(missing)
        stored.update(
            (vin, (bytes(key), bytes(indexes)))
            for vin, key, indexes in VinKey.objects.filter(vin__in=missing).values_list(
                "vin", "key", "indexes"
            )
        )
    return stored


# Past this many nodes the cache is emptied and refills from the table as batches need them,
# so a worker's memory stays bounded (about 350 bytes a node) whatever the map's size.
NODE_CACHE_LIMIT = 1_000_000
_UNKNOWN = object()


class _NodeCache:
    """The stored map nodes this process has read or written, kept between sequencer batches
    so that a batch reads the trie from memory instead of one query per depth.

    Only the sequencer writes the map, under its advisory lock, and the map's root commits to
    every node. A batch that rolled back, another process that sequenced since, or a rebuilt
    map all leave a stored root other than the one the cache ends with; `_node_cache_at`
    compares the two at the start of every batch and starts afresh on any difference, so
    the cache is never trusted past a rollback. A node cached as None is known to be absent;
    when `complete`, every stored node is cached and the table is never read.
    """

    def __init__(self, root: bytes) -> None:
        self.root = root
        self.nodes: dict[NodeId, Node | None] = {}
        # An empty map has no nodes: everything written from here on passes through `advance`.
        self.complete = root == EMPTY_HASH

    def fetch(self, node_ids: Sequence[NodeId]) -> dict[NodeId, Node]:
        """The `Fetch` of `apply_updates`: cached nodes, and the rest read in one query."""
        found: dict[NodeId, Node] = {}
        missing = []
        nodes = self.nodes
        for node_id in node_ids:
            node = nodes.get(node_id, _UNKNOWN)
            if node is _UNKNOWN:
                missing.append(node_id)
            elif node is not None:
                found[node_id] = node
        if missing and not self.complete:
            stored = fetch_nodes(missing)
            for node_id in missing:
                node = stored.get(node_id)
                nodes[node_id] = node
                if node is not None:
                    found[node_id] = node
        return found

    def advance(self, root: bytes, changed: Mapping[NodeId, Node]) -> None:
        """Take in the nodes a batch wrote; valid once that batch commits (see above)."""
        self.nodes.update(changed)
        self.root = root
        if len(self.nodes) > NODE_CACHE_LIMIT:
            self.nodes = {}
            self.complete = False


# Per thread: a web worker's thread may sequence too (with CELERY_TASK_ALWAYS_EAGER the
# integration task runs in the request's thread), and a cache is only ever used under the
# sequencer lock its own thread holds.
_node_caches = threading.local()


def _node_cache_at(stored_root: bytes) -> _NodeCache:
    cache = getattr(_node_caches, "cache", None)
    if cache is None or cache.root != stored_root:
        cache = _node_caches.cache = _NodeCache(stored_root)
    return cache


# While the map has at most this many stored nodes (about two per VIN), the sequencer holds it
# whole in memory as a `MapTrie` (about 260 bytes a node, 630 a VIN): a batch then reads no
# nodes, hashes in flat dicts, and writes only what it changed. Past it, batches go through
# `_NodeCache` and `apply_updates`, which read from the table what they touch.
IN_MEMORY_NODE_LIMIT = 4_000_000
# Loading the map costs about a second per 100,000 VINs. A worker loads it for a batch of at
# least this many VINs (a backlog, whose batches follow in the same task), and keeps using it
# while it stays the committed map. A small batch after another worker process sequenced goes
# through `_NodeCache`, which reads only the paths it touches: with several worker processes
# taking turns, each small batch would otherwise pay a whole reload.
LOAD_FOR_BATCHES_OF_VINS = 2_000


def _trie_at(stored_root: bytes, *, batch_vins: int) -> MapTrie | None:
    """This thread's in-memory map, which must be the committed one: loaded again from the
    stored nodes when its root is not `stored_root` (a rolled-back batch, another process that
    sequenced, a rebuild; see `_NodeCache`) and the batch is worth it. None: take the table."""
    if getattr(_node_caches, "trie_root", None) == stored_root:
        return _node_caches.trie
    _node_caches.trie = _node_caches.trie_root = None
    if batch_vins < LOAD_FOR_BATCHES_OF_VINS or getattr(_node_caches, "too_large", False):
        return None
    if VinIndexNode.objects.count() > IN_MEMORY_NODE_LIMIT:
        # Maps only grow: once too large, this thread stops counting.
        _node_caches.too_large = True
        return None
    trie = MapTrie.from_nodes(_stored_nodes(), track_changes=True)
    _node_caches.trie, _node_caches.trie_root = trie, stored_root
    return trie


def _stored_nodes() -> Iterable[tuple[NodeId, Node]]:
    rows = VinIndexNode.objects.values_list("path", "hash", "leaf_key", "leaf_index_hash")
    for path, *node in rows.iterator(chunk_size=20_000):
        yield NodeId.from_bytes(bytes(path)), _node_from_row(*node)


def map_root() -> bytes:
    """The current map root (32 zero bytes for an empty map)."""
    node = fetch_nodes([ROOT]).get(ROOT)
    return node.hash if node is not None else EMPTY_HASH


# Levels a proof reads a query: a key's leaf sits about log2(keys) + 1.3 levels down (18 at
# 100,000 cars, 21 at a million), so 24 levels answer most proofs in one query of 47 paths; the
# rare deeper one takes a second.
MAP_LEVELS_A_QUERY = 24


def proof_for(vin: str) -> tuple[VinPlace, VinIndexProof]:
    """The VIN's place (its VRF proof computed now if it never had one) and its map proof.

    Read in the same transaction as the checkpoint it is proven against (see
    `carhistory/vehicles/evidence.py`): the nodes are the latest map's.
    """
    return proof_from(vin, places([vin]).get(vin), fetch_nodes)


def proof_from(vin: str, place: VinPlace | None, fetch: Fetch) -> tuple[VinPlace, VinIndexProof]:
    """`proof_for` from a place already read (None: the VIN has none) and a `Fetch` of nodes."""
    if place is None:
        # A VIN nobody ever submitted: its proof is computed, not stored, so lookups of
        # random VINs cannot grow the table. Nothing was read on its path either.
        proof, key = vrf_place(vin)
        place = VinPlace(vin, key, proof, b"")
        fetch = fetch_nodes
    return place, prove(place.key, fetch, depth_step=MAP_LEVELS_A_QUERY)


def first_path_sql(levels: int) -> str:
    """SQL naming the paths of the nodes `prove` asks for first, for the key of a relation
    `place` (a VIN's stored place): the first `levels` levels of the key's path and the
    siblings beside them, named by the function of migration 0009, so that a VIN's key and its
    path are read in one statement. `levels` is written into the SQL rather than passed: with
    a parameter, PostgreSQL guessed a thousand rows of `generate_series` for a generic plan,
    so it planned the statement anew at every run (0.36 ms, half the time to run it)."""
    return f"""
    SELECT ledger_map_node_path(place.key, depth, sibling)
    FROM place, generate_series(0, {int(levels) - 1}) AS depth,
        (VALUES (false), (true)) AS side (sibling)
    WHERE depth > 0 OR NOT sibling
"""  # noqa: S608 - an integer only


def first_path_then_table(rows: Iterable[StoredRow], *, levels: int) -> Fetch:
    """The `Fetch` for `proof_from` when `rows` are the stored nodes `first_path_sql` named
    for `levels` (read in the same snapshot): `prove`'s first call is answered from them (a
    node absent from them is absent from the map), any deeper call from the table."""
    first = {NodeId.from_bytes(bytes(path)): _node_from_row(*node) for path, *node in rows}

    def fetch(node_ids: Sequence[NodeId]) -> dict[NodeId, Node]:
        if all(node_id.depth < levels for node_id in node_ids):
            return {node_id: first[node_id] for node_id in node_ids if node_id in first}
        return fetch_nodes(node_ids)

    return fetch


def fetch_nodes(node_ids: Sequence[NodeId]) -> dict[NodeId, Node]:
    """The stored nodes among `node_ids`, one query."""
    if not node_ids:
        return {}
    by_path = {node_id.to_bytes(): node_id for node_id in node_ids}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Prepared: the proof of a VIN never logged reads its path with this, after its
            # VRF proof, and PostgreSQL took about 0.75 ms to plan it for 47 paths (estimating
            # each one), 0.2 ms to answer it (1M entries / 100,000 VINs).
            name = prepared(
                cursor,
                name="map_nodes",
                statement="SELECT path, hash, leaf_key, leaf_index_hash FROM ledger_vinindexnode "
                "WHERE path = ANY($1::bytea[])",
            )
            cursor.execute(
                f"EXECUTE {name}(%s::bytea[])", [[psycopg2.Binary(path) for path in by_path]]
            )
            rows = cursor.fetchall()
    else:
        rows = VinIndexNode.objects.filter(path__in=list(by_path)).values_list(
            "path", "hash", "leaf_key", "leaf_index_hash"
        )
    return {by_path[bytes(path)]: _node_from_row(*node) for path, *node in rows}


def _node_from_row(node_hash, leaf_key, leaf_index_hash) -> Node:
    """The node a stored row holds (the inverse of `_node_row`): a leaf keeps its key."""
    if leaf_key is None:
        return Branch(bytes(node_hash))
    return Leaf(bytes(leaf_key), bytes(leaf_index_hash))


def _node_row(node_id: NodeId, node: Node) -> StoredRow:
    if isinstance(node, Leaf):
        return (node_id.to_bytes(), node.hash, node.key, node.index_hash)
    return (node_id.to_bytes(), node.hash, None, None)


def _write_nodes(rows: Sequence[StoredRow], *, created: Sequence[StoredRow] | None = None) -> None:
    """Store the nodes a batch changed, as rows. When the caller knows which are new, they
    come apart in `created` and go in with COPY, the rest with one UPDATE; otherwise every
    row goes through one upsert."""
    if connection.vendor != "postgresql":
        for path, node_hash, leaf_key, leaf_index_hash in [*rows, *(created or [])]:
            VinIndexNode.objects.update_or_create(
                path=path,
                defaults={
                    "hash": node_hash,
                    "leaf_key": leaf_key,
                    "leaf_index_hash": leaf_index_hash,
                },
            )
        return
    # A batch rewrites several nodes per VIN it touches, tens of thousands of rows: binary COPY
    # costs a fraction of a multi-row INSERT's parsing. A node known to be new needs no
    # conflict check (were it not new, the primary key would refuse the whole batch).
    with connection.cursor() as cursor:
        if created:
            cursor.cursor.copy_expert(
                "COPY ledger_vinindexnode (path, hash, leaf_key, leaf_index_hash) "
                "FROM STDIN (FORMAT binary)",
                io.BytesIO(_binary_copy_of_nodes(created)),
            )
        if not rows:
            return
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS vin_index_node_changes "
            "(LIKE ledger_vinindexnode) ON COMMIT DELETE ROWS"
        )
        # Emptied first as well: one transaction may write the map twice (a rebuild, then the
        # batch), and rows of the first write must not be written again over the second's.
        # DELETE, not TRUNCATE: the table is almost always empty here, and a TRUNCATE cost
        # PostgreSQL 2.5 ms every batch (a new file for the table) whatever it held.
        cursor.execute("DELETE FROM vin_index_node_changes")
        cursor.cursor.copy_expert(
            "COPY vin_index_node_changes (path, hash, leaf_key, leaf_index_hash) "
            "FROM STDIN (FORMAT binary)",
            io.BytesIO(_binary_copy_of_nodes(rows)),
        )
        if created is None:
            cursor.execute(
                "INSERT INTO ledger_vinindexnode (path, hash, leaf_key, leaf_index_hash) "
                "SELECT path, hash, leaf_key, leaf_index_hash FROM vin_index_node_changes "
                "ON CONFLICT (path) DO UPDATE SET hash = EXCLUDED.hash, "
                "leaf_key = EXCLUDED.leaf_key, leaf_index_hash = EXCLUDED.leaf_index_hash"
            )
        else:
            cursor.execute(
                "UPDATE ledger_vinindexnode AS stored SET hash = given.hash, "
                "leaf_key = given.leaf_key, leaf_index_hash = given.leaf_index_hash "
                "FROM vin_index_node_changes AS given WHERE stored.path = given.path"
            )


_HASH_LENGTH = (32).to_bytes(4, "big")
_NO_LEAF = pg_copy.NULL + pg_copy.NULL


def _binary_copy_of_nodes(rows: Iterable[StoredRow]) -> bytes:
    # Built inline rather than through `pg_copy.row`: tens of thousands of rows a batch.
    parts = [pg_copy.HEADER]
    append = parts.append
    for path, node_hash, leaf_key, leaf_index_hash in rows:
        append(b"\x00\x04" + len(path).to_bytes(4, "big") + path + _HASH_LENGTH + node_hash)
        if leaf_key is None:
            append(_NO_LEAF)
        else:
            append(_HASH_LENGTH + leaf_key + _HASH_LENGTH + leaf_index_hash)
    append(pg_copy.TRAILER)
    return b"".join(parts)


def _write_indexes(indexes_by_vin: Mapping[str, bytes]) -> None:
    if connection.vendor != "postgresql":
        for vin, indexes in indexes_by_vin.items():
            VinKey.objects.filter(vin=vin).update(indexes=indexes)
        return
    # Binary COPY into a scratch table and one UPDATE: a VALUES list of tens of thousands of
    # rows costs more to build and to parse.
    rows = [
        pg_copy.row((pg_copy.text(vin), pg_copy.binary(indexes)))
        for vin, indexes in indexes_by_vin.items()
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS vin_index_changes "
            "(vin varchar(17), indexes bytea) ON COMMIT DELETE ROWS"
        )
        # Empty already unless the map was written before in this transaction; DELETE, not
        # TRUNCATE, for the reason `_write_nodes` gives.
        cursor.execute("DELETE FROM vin_index_changes")
        pg_copy.copy_rows(cursor.cursor, "vin_index_changes", ["vin", "indexes"], rows)
        cursor.execute(
            "UPDATE ledger_vinkey AS stored SET indexes = given.indexes "
            "FROM vin_index_changes AS given WHERE stored.vin = given.vin"
        )


def rebuild_map(entries: Iterable[tuple[int, str]]) -> bytes:
    """Forget the stored map and build it again from (index, VIN) pairs in index order.

    For a log created before the VIN index existed: the sequencer calls this once, in its
    first batch, before it writes that batch's `vin_index` entry.
    """
    VinIndexNode.objects.all().delete()
    VinKey.objects.update(indexes=b"")
    collected: dict[str, list[int]] = {}
    for index, vin in entries:
        collected.setdefault(vin, []).append(index)
    return update_map(collected)


def commitment_entry(*, size: int, root: bytes) -> dict:
    """The `vin_index` entry that ends a checkpoint of size `size + 1` (SPEC §7): a platform
    entry signed by the log key, committing to `root`, the map over entries 0 … size − 1."""
    now = timezone.now().replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    entry = {
        "v": protocol.ENTRY_VERSION,
        "type": protocol.VIN_INDEX,
        "occurred_at": now,
        "facts": {"size": size, "root": b64encode(root), "vrf_key": keys.vrf_public_key()},
        "source": protocol.PLATFORM_SOURCE,
        "source_key": keys.log_verifier_key(),
        "private_commitment": None,
        "submitted_at": now,
        "nonce": new_nonce(),
    }
    entry["source_sig"] = b64encode(keys.log_signer().sign(statement_bytes(entry)))
    return entry

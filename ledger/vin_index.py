"""The VIN index of SPEC §7 in storage: each VIN's VRF output, and the trie's stored nodes.

The mathematics is `carhistory_verifier.vin_index`; this module only reads and writes it. The
sequencer calls `update_map` inside its batch transaction, so the map, the entries, their
subtree hashes and the checkpoint commit together or not at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import psycopg2
from carhistory_verifier import protocol, vrf
from carhistory_verifier.entry import b64encode, new_nonce, statement_bytes
from carhistory_verifier.vin_index import (
    EMPTY_HASH,
    ROOT,
    Branch,
    Leaf,
    Node,
    NodeId,
    VinIndexProof,
    apply_updates,
    prove,
)
from django.db import connection
from django.utils import timezone
from psycopg2.extras import execute_values

from . import keys
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
    if not wanted:
        return
    known = set(VinKey.objects.filter(vin__in=wanted).values_list("vin", flat=True))
    missing = sorted(wanted - known)
    if not missing:
        return
    rows = [(vin, *reversed(vrf_place(vin))) for vin in missing]
    if connection.vendor != "postgresql":
        VinKey.objects.bulk_create(
            [VinKey(vin=vin, key=key, vrf_proof=proof) for vin, key, proof in rows],
            ignore_conflicts=True,
        )
        return
    with connection.cursor() as cursor:
        execute_values(
            cursor.cursor,
            "INSERT INTO ledger_vinkey (vin, key, vrf_proof, indexes) VALUES %s "
            "ON CONFLICT (vin) DO NOTHING",
            [(vin, psycopg2.Binary(key), psycopg2.Binary(proof), b"") for vin, key, proof in rows],
            page_size=1000,
        )


def places(vins: Iterable[str]) -> dict[str, VinPlace]:
    """The stored places of the given VINs (those that have one)."""
    return {
        vin: VinPlace(vin, bytes(key), bytes(proof), bytes(indexes))
        for vin, key, proof, indexes in VinKey.objects.filter(vin__in=set(vins)).values_list(
            "vin", "key", "vrf_proof", "indexes"
        )
    }


def update_map(new_indexes: Mapping[str, Sequence[int]]) -> bytes:
    """Add entry indexes to their VINs in the map; return the new map root.

    `new_indexes` maps each VIN to its new entries' indexes, increasing and all larger than
    any the map already has. Runs inside the sequencer's transaction.
    """
    if not new_indexes:
        return map_root()
    ensure_vin_keys(new_indexes)
    stored = places(new_indexes)
    updates: dict[bytes, bytes] = {}
    indexes_by_vin: dict[str, bytes] = {}
    for vin, added in new_indexes.items():
        place = stored[vin]
        indexes = place.indexes + b"".join(index.to_bytes(8, "big") for index in added)
        indexes_by_vin[vin] = indexes
        # SPEC §7: index_hash is SHA-256 of all the VIN's indexes as u64be, in order.
        updates[place.key] = hashlib.sha256(indexes).digest()
    root, changed = apply_updates(updates, fetch_nodes)
    _write_nodes(changed)
    _write_indexes(indexes_by_vin)
    return root


def map_root() -> bytes:
    """The current map root (32 zero bytes for an empty map)."""
    node = fetch_nodes([ROOT]).get(ROOT)
    return node.hash if node is not None else EMPTY_HASH


def proof_for(vin: str) -> tuple[VinPlace, VinIndexProof]:
    """The VIN's place (its VRF proof computed now if it never had one) and its map proof.

    Read in the same transaction as the checkpoint it is proven against (see
    `carhistory/vehicles/evidence.py`): the nodes are the latest map's.
    """
    place = places([vin]).get(vin)
    if place is None:
        # A VIN nobody ever submitted: its proof is computed, not stored, so lookups of
        # random VINs cannot grow the table.
        proof, key = vrf_place(vin)
        place = VinPlace(vin, key, proof, b"")
    return place, prove(place.key, fetch_nodes)


def fetch_nodes(node_ids: Sequence[NodeId]) -> dict[NodeId, Node]:
    """The stored nodes among `node_ids`, one query."""
    if not node_ids:
        return {}
    by_path = {node_id.to_bytes(): node_id for node_id in node_ids}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT path, hash, leaf_key, leaf_index_hash FROM ledger_vinindexnode "
                "WHERE path = ANY(%s)",
                [[psycopg2.Binary(path) for path in by_path]],
            )
            rows = cursor.fetchall()
    else:
        rows = VinIndexNode.objects.filter(path__in=list(by_path)).values_list(
            "path", "hash", "leaf_key", "leaf_index_hash"
        )
    nodes: dict[NodeId, Node] = {}
    for path, node_hash, leaf_key, leaf_index_hash in rows:
        node_id = by_path[bytes(path)]
        if leaf_key is None:
            nodes[node_id] = Branch(bytes(node_hash))
        else:
            nodes[node_id] = Leaf(bytes(leaf_key), bytes(leaf_index_hash))
    return nodes


def _node_row(node_id: NodeId, node: Node) -> tuple:
    if isinstance(node, Leaf):
        return (node_id.to_bytes(), node.hash, node.key, node.index_hash)
    return (node_id.to_bytes(), node.hash, None, None)


def _write_nodes(changed: Mapping[NodeId, Node]) -> None:
    rows = [_node_row(node_id, node) for node_id, node in changed.items()]
    if not rows:
        return
    if connection.vendor != "postgresql":
        for path, node_hash, leaf_key, leaf_index_hash in rows:
            VinIndexNode.objects.update_or_create(
                path=path,
                defaults={
                    "hash": node_hash,
                    "leaf_key": leaf_key,
                    "leaf_index_hash": leaf_index_hash,
                },
            )
        return
    with connection.cursor() as cursor:
        execute_values(
            cursor.cursor,
            "INSERT INTO ledger_vinindexnode (path, hash, leaf_key, leaf_index_hash) VALUES %s "
            "ON CONFLICT (path) DO UPDATE SET hash = EXCLUDED.hash, "
            "leaf_key = EXCLUDED.leaf_key, leaf_index_hash = EXCLUDED.leaf_index_hash",
            [tuple(_binary(value) for value in row) for row in rows],
            page_size=5000,
        )


def _write_indexes(indexes_by_vin: Mapping[str, bytes]) -> None:
    if connection.vendor != "postgresql":
        for vin, indexes in indexes_by_vin.items():
            VinKey.objects.filter(vin=vin).update(indexes=indexes)
        return
    with connection.cursor() as cursor:
        execute_values(
            cursor.cursor,
            "UPDATE ledger_vinkey AS stored SET indexes = given.indexes "
            "FROM (VALUES %s) AS given (vin, indexes) WHERE stored.vin = given.vin",
            [(vin, psycopg2.Binary(indexes)) for vin, indexes in indexes_by_vin.items()],
            page_size=5000,
        )


def _binary(value: object) -> object:
    return psycopg2.Binary(value) if isinstance(value, bytes) else value


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

"""The VIN index of SPEC §7: a compact binary Merkle trie from VRF keys to entry indexes.

Plain Python, no Django: the sequencer, the mirror, the audit and the offline verifier share it.

The trie's keys are 256-bit VRF outputs (`k`, bit 0 is the most significant bit of `k[0]`).
A subtree's hash is 32 zero bytes when it holds no leaf, `SHA-256(0x00 || k || index_hash)` when
it holds exactly one, at whatever depth, and `SHA-256(0x01 || left || right)` when it holds two
or more. A subtree is named by a `NodeId`, its depth and the first `depth` bits of its keys.

Storage keeps every *stored node*: each non-empty subtree whose parent holds two or more leaves
(and the root). A stored node is either a `Branch` (two or more leaves below) or a `Leaf`
(exactly one). Because keys are only ever added, a stored node only ever changes from empty to
`Leaf` to `Branch` and is never removed, so `apply_updates` returns the nodes to write and
never nodes to delete. It reads stored nodes through a `fetch` callback, one call per depth, so
the database answers a batch of updates in a few queries; `VinIndex` runs the same code on a
dict for the mirror, the audit and the tests.

Typical use::

    index = VinIndex()
    index.add(key, 17)            # entry 17 is about the VIN whose VRF key is `key`
    root = index.root()
    proof = index.prove(key)
    verify_proof(root=root, key=key, indexes=[17], proof=proof)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from carhistory_verifier import vrf

KEY_SIZE = 32
KEY_BITS = 256
EMPTY_HASH = bytes(32)

_sha256 = hashlib.sha256


class VinIndexError(ValueError):
    """A VIN index proof did not verify; the message names what failed."""


class NodeId(NamedTuple):
    """A subtree: the keys whose first `depth` bits equal `prefix` (an int of `depth` bits).

    A named tuple rather than a dataclass: the sequencer hashes and compares hundreds of
    thousands of these per batch, and a tuple does both in C."""

    depth: int
    prefix: int

    def child(self, bit: int) -> NodeId:
        return NodeId(self.depth + 1, (self.prefix << 1) | bit)

    def sibling(self) -> NodeId:
        return NodeId(self.depth, self.prefix ^ 1)

    def to_bytes(self) -> bytes:
        """A compact storage key: the depth in two bytes (0–256), then the prefix bits,
        zero-padded to whole bytes."""
        width = (self.depth + 7) // 8
        padded = self.prefix << (width * 8 - self.depth)
        return self.depth.to_bytes(2, "big") + padded.to_bytes(width, "big")

    @classmethod
    def from_bytes(cls, data: bytes) -> NodeId:
        depth = int.from_bytes(data[:2], "big")
        width = (depth + 7) // 8
        return cls(depth, int.from_bytes(data[2:], "big") >> (width * 8 - depth))


ROOT = NodeId(0, 0)


class Leaf(NamedTuple):
    """A stored subtree holding exactly one key."""

    key: bytes
    index_hash: bytes

    @property
    def hash(self) -> bytes:
        return leaf_hash(self.key, self.index_hash)


class Branch(NamedTuple):
    """A stored subtree holding two or more keys."""

    hash: bytes


Node = Leaf | Branch
# A stored node as a row: its `NodeId.to_bytes()`, its hash, and for a leaf its key and index
# hash (None for a branch).
StoredRow = tuple[bytes, bytes, bytes | None, bytes | None]
Fetch = Callable[[Sequence[NodeId]], Mapping[NodeId, Node]]


@dataclass(frozen=True)
class VinIndexProof:
    """SPEC §7's proof for one key: sibling hashes from the root's children down, and the
    other key's leaf when the path ends at a subtree holding a different key."""

    siblings: tuple[bytes, ...]
    leaf: Leaf | None


def index_hash(indexes: Iterable[int]) -> bytes:
    """SHA-256 of the entry indexes as 8-byte big-endian integers, in the order given."""
    return _sha256(b"".join(index.to_bytes(8, "big") for index in indexes)).digest()


def leaf_hash(key: bytes, index_hash_: bytes) -> bytes:
    """The hash of a subtree holding exactly one key."""
    return _sha256(b"\x00" + key + index_hash_).digest()


def branch_hash(left: bytes, right: bytes) -> bytes:
    """The hash of a subtree holding two or more keys."""
    return _sha256(b"\x01" + left + right).digest()


def key_bit(key: bytes, depth: int) -> int:
    """Bit `depth` of a key; bit 0 is the most significant bit of `key[0]`."""
    return (key[depth >> 3] >> (7 - (depth & 7))) & 1


def node_of(key: bytes, depth: int) -> NodeId:
    """The subtree at `depth` on `key`'s path."""
    return NodeId(depth, int.from_bytes(key, "big") >> (KEY_BITS - depth))


def _check_key(key: bytes) -> None:
    if len(key) != KEY_SIZE:
        raise ValueError(f"a VIN index key is {KEY_SIZE} bytes, not {len(key)}")


# --- verifying ---------------------------------------------------------------------------------


def root_from_proof(*, key: bytes, indexes: Sequence[int], proof: VinIndexProof) -> bytes:
    """The map root a proof implies for `key` holding exactly `indexes` (SPEC §7 steps 3–4).

    `indexes` empty means the proof claims the key is absent. Raises VinIndexError when the
    proof's shape is impossible (it then proves nothing, whatever the root).
    """
    _check_key(key)
    depth = len(proof.siblings)
    if depth > KEY_BITS:
        raise VinIndexError(f"{depth} siblings: a 256-bit key has at most 256")
    if indexes:
        if list(indexes) != sorted(set(indexes)):
            raise VinIndexError("entry indexes must be strictly increasing")
        if proof.leaf is not None:
            raise VinIndexError("a proof of a key's entries carries no other leaf")
        node = leaf_hash(key, index_hash(indexes))
    elif proof.leaf is None:
        node = EMPTY_HASH
    else:
        other = proof.leaf
        _check_key(other.key)
        # The other key must sit in the very subtree the path ends at, and not be `key`
        # itself: otherwise an absence proof could show any leaf from anywhere.
        if other.key == key:
            raise VinIndexError("an absence proof's leaf is the key itself")
        if node_of(other.key, depth) != node_of(key, depth):
            raise VinIndexError("an absence proof's leaf does not share the path's prefix")
        node = other.hash
    for level in range(depth - 1, -1, -1):
        sibling = proof.siblings[level]
        if len(sibling) != 32:
            raise VinIndexError(f"sibling {level} is not 32 bytes")
        # SPEC §7 step 4: the path's bit says on which side the sibling hangs.
        node = branch_hash(sibling, node) if key_bit(key, level) else branch_hash(node, sibling)
    return node


def verify_proof(*, root: bytes, key: bytes, indexes: Sequence[int], proof: VinIndexProof) -> None:
    """Check that the map with `root` holds exactly `indexes` for `key` (none: absent).

    Raises VinIndexError naming what failed.
    """
    if root_from_proof(key=key, indexes=indexes, proof=proof) != root:
        if indexes:
            raise VinIndexError(
                f"the VIN index does not list exactly these {len(indexes)} entries for this VIN"
            )
        raise VinIndexError("the VIN index does not prove that this VIN has no entries")


# --- building from stored nodes ----------------------------------------------------------------


def prove(key: bytes, fetch: Fetch, *, depth_step: int = 40) -> VinIndexProof:
    """The proof for `key` from stored nodes, fetched `depth_step` levels per call."""
    _check_key(key)
    number = int.from_bytes(key, "big")
    siblings: list[bytes] = []
    depth = 0
    while True:
        # Each level's node on the key's path (`node_of`, from the key as a number once).
        path = [
            NodeId(level, number >> (KEY_BITS - level))
            for level in range(depth, min(depth + depth_step, KEY_BITS + 1))
        ]
        nodes = fetch([*path, *(node_id.sibling() for node_id in path if node_id.depth)])
        for node_id in path:
            if node_id.depth:
                sibling = nodes.get(node_id.sibling())
                siblings.append(sibling.hash if sibling is not None else EMPTY_HASH)
            node = nodes.get(node_id)
            if node is None:
                return VinIndexProof(siblings=tuple(siblings), leaf=None)
            if isinstance(node, Leaf):
                leaf = None if node.key == key else node
                return VinIndexProof(siblings=tuple(siblings), leaf=leaf)
        depth += depth_step


def apply_updates(updates: Mapping[bytes, bytes], fetch: Fetch) -> tuple[bytes, dict[NodeId, Node]]:
    """Set each key of `updates` to its new index hash; return the new root and changed nodes.

    Walks the stored trie down the updated keys' paths one depth at a time (one `fetch` per
    depth, for the nodes on the paths and the untouched siblings beside them). Where a path
    reaches an empty subtree or a single leaf, the rest is known and built in memory.
    """
    for key in updates:
        _check_key(key)
    if not updates:
        return _fetch_root(fetch), {}
    keys = sorted(updates)
    # Equal-length big-endian keys sort as their numbers do, so a subtree's keys are one run
    # of this list and a branch splits its run with one bisection, not a scan of bits.
    numbers = [int.from_bytes(key, "big") for key in keys]
    changed: dict[NodeId, Node] = {}
    hashes: dict[NodeId, bytes] = {}
    branches: list[NodeId] = []  # branches on the paths, in top-down order
    level: list[tuple[NodeId, int, int]] = [(ROOT, 0, len(keys))]  # subtree, run of keys
    untouched_siblings: list[NodeId] = []
    while level:
        nodes = fetch([node_id for node_id, _low, _high in level] + untouched_siblings)
        for sibling_id in untouched_siblings:
            sibling = nodes.get(sibling_id)
            hashes[sibling_id] = sibling.hash if sibling is not None else EMPTY_HASH
        next_level: list[tuple[NodeId, int, int]] = []
        untouched_siblings = []
        for node_id, low, high in level:
            node = nodes.get(node_id)
            depth, prefix = node_id
            if isinstance(node, Branch):
                branches.append(node_id)
                left = NodeId(depth + 1, prefix << 1)
                right = NodeId(depth + 1, (prefix << 1) | 1)
                middle = bisect_left(numbers, right.prefix << (KEY_BITS - 1 - depth), low, high)
                for child, child_low, child_high in ((left, low, middle), (right, middle, high)):
                    if child_high > child_low:
                        next_level.append((child, child_low, child_high))
                    else:
                        untouched_siblings.append(child)
                continue
            run_keys = keys[low:high]
            run_numbers = numbers[low:high]
            run_hashes = [updates[key] for key in run_keys]
            if isinstance(node, Leaf) and node.key not in updates:
                # The one key already there is pushed down beside the new ones.
                position = bisect_left(run_keys, node.key)
                run_keys.insert(position, node.key)
                run_numbers.insert(position, int.from_bytes(node.key, "big"))
                run_hashes.insert(position, node.index_hash)
            hashes[node_id] = _build(
                depth, prefix, (run_keys, run_hashes, run_numbers), 0, len(run_keys), changed
            )
        level = next_level
    for node_id in reversed(branches):
        depth, prefix = node_id
        node_hash = branch_hash(
            hashes[NodeId(depth + 1, prefix << 1)], hashes[NodeId(depth + 1, (prefix << 1) | 1)]
        )
        hashes[node_id] = node_hash
        changed[node_id] = Branch(node_hash)
    return hashes[ROOT], changed


def _fetch_root(fetch: Fetch) -> bytes:
    node = fetch([ROOT]).get(ROOT)
    return node.hash if node is not None else EMPTY_HASH


def _build(
    depth: int,
    prefix: int,
    run: tuple[list[bytes], list[bytes], list[int]],
    low: int,
    high: int,
    changed: dict[NodeId, Node],
) -> bytes:
    """Build the subtree (depth, prefix) whose whole content is the sorted keys, index hashes
    and key numbers of `run` from `low` to `high`, recording its stored nodes."""
    keys, index_hashes, numbers = run
    if high - low == 1:
        leaf = Leaf(keys[low], index_hashes[low])
        changed[NodeId(depth, prefix)] = leaf
        return leaf.hash
    right = (prefix << 1) | 1
    middle = bisect_left(numbers, right << (KEY_BITS - 1 - depth), low, high)
    left_hash = (
        _build(depth + 1, prefix << 1, run, low, middle, changed) if middle > low else EMPTY_HASH
    )
    right_hash = (
        _build(depth + 1, right, run, middle, high, changed) if high > middle else EMPTY_HASH
    )
    node_hash = branch_hash(left_hash, right_hash)
    changed[NodeId(depth, prefix)] = Branch(node_hash)
    return node_hash


# --- in memory ---------------------------------------------------------------------------------


class MapTrie:
    """The trie in memory, from each key to its index hash, kept in flat dicts.

    A node is a number, `1 << depth | prefix` (the root is 1, the children of n are 2n and
    2n + 1); its hash sits in one dict whatever its kind, and a root recomputation rehashes
    only the branches above the keys that changed, deepest first. `VinIndex` builds on it for
    the mirror, the audit and the tests; the sequencer keeps one loaded from the stored nodes
    between batches (`ledger/vin_index.py`) and, with `track_changes`, takes from it the stored
    nodes a batch rewrote and which of them are new.
    """

    def __init__(self, *, track_changes: bool = False) -> None:
        self._index_hashes: dict[bytes, bytes] = {}
        self._hashes: dict[int, bytes] = {}  # every stored node; stale above dirty keys
        self._leaf_at: dict[int, bytes] = {}  # the nodes that are leaves, and their keys
        self._place: dict[bytes, int] = {}  # each key's leaf node
        self._dirty: set[bytes] = set()
        self._root = EMPTY_HASH
        # Since the last `take_changes`: the nodes rehashed or moved, and the nodes created.
        self._rewritten: set[int] | None = set() if track_changes else None
        self._created: set[int] | None = set() if track_changes else None

    @classmethod
    def from_nodes(cls, nodes: Iterable[tuple[NodeId, Node]], **options: bool) -> MapTrie:
        """The trie whose stored nodes are `nodes` (as `apply_updates` writes them), trusted
        as given: their root is the stored root."""
        trie = cls(**options)
        hashes, leaf_at, place, index_hashes = (
            trie._hashes,
            trie._leaf_at,
            trie._place,
            trie._index_hashes,
        )
        for (depth, prefix), node in nodes:
            number = 1 << depth | prefix
            hashes[number] = node.hash
            if isinstance(node, Leaf):
                leaf_at[number] = node.key
                place[node.key] = number
                index_hashes[node.key] = node.index_hash
        trie._root = hashes.get(1, EMPTY_HASH)
        return trie

    def __len__(self) -> int:
        return len(self._place)

    def set(self, key: bytes, index_hash_: bytes) -> None:
        """Give `key` (added if new) the index hash `index_hash_`."""
        self.set_many(((key, index_hash_),))

    def set_many(self, items: Iterable[tuple[bytes, bytes]]) -> None:
        """`set` for each (key, index hash) pair: the sequencer and a mirror set thousands
        between two roots."""
        index_hashes, place, dirty = self._index_hashes, self._place, self._dirty
        for key, index_hash_ in items:
            if key not in place:
                _check_key(key)
                self._insert(key)
            index_hashes[key] = index_hash_
            dirty.add(key)

    def root(self) -> bytes:
        """The map root over every key set so far."""
        self._flush()
        return self._root

    def nodes(self) -> Mapping[NodeId, Node]:
        """The stored-node form of the map (what `apply_updates` writes), for audits."""
        self._flush()
        return {_node_id(node): self._node(node) for node in self._hashes}

    def prove(self, key: bytes) -> VinIndexProof:
        """The proof for `key`: its leaf if present, its absence if not."""
        self._flush()
        return prove(key, self._fetch)

    def take_changes(self) -> tuple[list[StoredRow], list[StoredRow]]:
        """The stored nodes rewritten since the last call (with `track_changes`), as rows,
        split into those that existed before and those that did not; then forget both.

        Rows rather than `Node`s: the sequencer writes tens of thousands a batch."""
        if self._rewritten is None or self._created is None:
            raise ValueError("this trie does not track changes")
        self._flush()
        hashes, leaf_at, index_hashes, created = (
            self._hashes,
            self._leaf_at,
            self._index_hashes,
            self._created,
        )
        existing: list[StoredRow] = []
        new: list[StoredRow] = []
        for node in self._rewritten:
            key = leaf_at.get(node)
            row = (
                node_path(node),
                hashes[node],
                key,
                None if key is None else index_hashes[key],
            )
            (new if node in created else existing).append(row)
        self._rewritten.clear()
        created.clear()
        return existing, new

    def _insert(self, key: bytes) -> None:
        """Give a new key its leaf: down the branches on its path to the first free node,
        pushing a leaf found there down beside it until the two keys' bits differ."""
        number = int.from_bytes(key, "big")
        hashes, leaf_at, created = self._hashes, self._leaf_at, self._created
        node, depth = 1, 0
        while node in hashes and node not in leaf_at:
            node = node << 1 | (number >> (255 - depth) & 1)
            depth += 1
        other = leaf_at.pop(node, None)
        if other is not None:
            other_number = int.from_bytes(other, "big")
            other_hash = hashes.get(node)
            while True:
                # A branch, hashed when the root is next asked for: `key` is dirty below it.
                hashes[node] = EMPTY_HASH
                bit = number >> (255 - depth) & 1
                other_bit = other_number >> (255 - depth) & 1
                depth += 1
                if bit != other_bit:
                    break
                node = node << 1 | bit
                if created is not None:
                    created.add(node)
            other_node = node << 1 | other_bit
            node = node << 1 | bit
            leaf_at[other_node] = other
            self._place[other] = other_node
            if other_hash is not None:
                hashes[other_node] = other_hash
            if created is not None and self._rewritten is not None:
                # The pushed-down leaf keeps its hash but moves: a new stored node.
                created.add(other_node)
                self._rewritten.add(other_node)
        leaf_at[node] = key
        self._place[key] = node
        if created is not None:
            created.add(node)

    def _node(self, node: int) -> Node:
        key = self._leaf_at.get(node)
        if key is None:
            return Branch(self._hashes[node])
        return Leaf(key, self._index_hashes[key])

    def _fetch(self, node_ids: Sequence[NodeId]) -> dict[NodeId, Node]:
        found = {}
        for node_id in node_ids:
            node = 1 << node_id.depth | node_id.prefix
            if node in self._hashes:
                found[node_id] = self._node(node)
        return found

    def _flush(self) -> None:
        if not self._dirty:
            return
        hashes, place, index_hashes, sha256 = self._hashes, self._place, self._index_hashes, _sha256
        dirty = list(self._dirty)
        leaves = [place[key] for key in dirty]
        hashes.update(
            {
                node: sha256(b"\x00" + key + index_hashes[key]).digest()
                for node, key in zip(leaves, dirty, strict=True)
            }
        )
        # The branches above the dirty leaves, a level at a time from the deepest: a node's
        # number has `depth + 1` bits, and its parent is the number shifted right once. Each
        # level is one set, so a branch above many dirty leaves is hashed once, after both of
        # its children. (Per node in a Python loop, the walk and a sort cost a third of a
        # mirror's root.)
        parents_by_length: dict[int, set[int]] = {}
        for node in leaves:
            parent = node >> 1
            length = parent.bit_length()
            below = parents_by_length.get(length)
            if below is None:
                parents_by_length[length] = {parent}
            else:
                below.add(parent)
        level: set[int] = set()
        rewritten = self._rewritten
        get = hashes.get
        for length in range(max(parents_by_length), 0, -1):
            more = parents_by_length.get(length)
            if more is not None:
                level |= more
            if not level:
                continue
            hashes.update(
                {
                    node: sha256(
                        b"\x01" + get(node << 1, EMPTY_HASH) + get(node << 1 | 1, EMPTY_HASH)
                    ).digest()
                    for node in level
                }
            )
            if rewritten is not None:
                rewritten |= level
            level = {node >> 1 for node in level}
        if rewritten is not None:
            rewritten.update(leaves)
        self._root = hashes.get(1, EMPTY_HASH)
        self._dirty.clear()


class VinIndex:
    """The whole map in memory, built incrementally from (key, entry index) pairs.

    For the mirror (recompute the map from entries and VRF outputs), the audit and the tests.
    It keeps each key's entry indexes and hashes them into its `MapTrie` only when the root,
    the nodes or a proof is asked for, so a mirror adding many entries of a car between two
    `vin_index` entries hashes the car's list once.
    """

    def __init__(self) -> None:
        # Each key's entry indexes, as the 8-byte big-endian integers its index hash covers.
        self._indexes: dict[bytes, bytearray] = {}
        self._dirty: set[bytes] = set()
        self._trie = MapTrie()

    def add(self, key: bytes, index: int) -> None:
        """Record that entry `index` belongs to the VIN whose VRF key is `key`.

        Indexes of one key must arrive in increasing order, as the log numbers them.
        """
        indexes = self._indexes.get(key)
        if indexes is None:
            _check_key(key)
            indexes = self._indexes[key] = bytearray()
        elif index <= (last := int.from_bytes(indexes[-8:], "big")):
            raise ValueError(f"entry {index} added after entry {last} for the same key")
        indexes += index.to_bytes(8, "big")
        self._dirty.add(key)

    def add_encoded(self, key: bytes, indexes: bytes) -> None:
        """Record the entries of a key not added before, given as 8-byte big-endian integers
        in increasing order (as a store keeps them): a mirror resuming reloads its map so."""
        _check_key(key)
        if key in self._indexes:
            raise ValueError("add_encoded is for a key not added before")
        if not indexes or len(indexes) % 8:
            raise ValueError("entry indexes are 8 bytes each, at least one")
        numbers = [int.from_bytes(indexes[at : at + 8], "big") for at in range(0, len(indexes), 8)]
        if any(later <= earlier for earlier, later in itertools.pairwise(numbers)):
            raise ValueError("entry indexes must be strictly increasing")
        self._indexes[key] = bytearray(indexes)
        self._dirty.add(key)

    def indexes(self, key: bytes) -> tuple[int, ...]:
        """The entry indexes recorded for `key` (empty when absent)."""
        raw = self._indexes.get(key, b"")
        return tuple(int.from_bytes(raw[at : at + 8], "big") for at in range(0, len(raw), 8))

    def __len__(self) -> int:
        return len(self._indexes)

    def nodes(self) -> Mapping[NodeId, Node]:
        """The stored-node form of the map (what `apply_updates` writes), for audits."""
        return self._hashed().nodes()

    def root(self) -> bytes:
        """The map root over everything added so far."""
        return self._hashed().root()

    def prove(self, key: bytes) -> VinIndexProof:
        """The proof for `key`: its entries if present, its absence if not."""
        return self._hashed().prove(key)

    def _hashed(self) -> MapTrie:
        indexes, sha256 = self._indexes, _sha256
        self._trie.set_many((key, sha256(indexes[key]).digest()) for key in self._dirty)
        self._dirty.clear()
        return self._trie


def node_path(node: int) -> bytes:
    """`NodeId.to_bytes()` of the node numbered `node` (`1 << depth | prefix`)."""
    depth = node.bit_length() - 1
    width = (depth + 7) >> 3
    prefix = node ^ (1 << depth)
    return depth.to_bytes(2, "big") + (prefix << (width * 8 - depth)).to_bytes(width, "big")


def _node_id(node: int) -> NodeId:
    depth = node.bit_length() - 1
    return NodeId(depth, node ^ (1 << depth))


# --- the bundle's `vin_index` section (SPEC §6, §7) --------------------------------------------


def check_bundle_section(
    section: Mapping[str, Any], *, vin: str, entry_indexes: Sequence[int]
) -> int:
    """Steps 1 (facts only) to 5 of SPEC §7 for a bundle's `vin_index` section, whose entry's
    inclusion and signature the caller has checked. Returns the number of entries the index
    covers; raises VinIndexError (or vrf.VrfError) naming what failed.

    `entry_indexes` are the indexes of the bundle's entries, in bundle order.
    """
    facts = section["entry"].get("facts")
    if not isinstance(facts, Mapping):
        raise VinIndexError("entry.facts must be an object")
    size = facts.get("size")
    if size != section["index"]:
        raise VinIndexError(f"facts.size must be {section['index']}, the entry's own index")
    root = _decode(facts.get("root"), "facts.root", KEY_SIZE)
    vrf_key = _decode(facts.get("vrf_key"), "facts.vrf_key", vrf.PUBLIC_KEY_SIZE)
    pi = _decode(section.get("vrf_proof"), "vrf_proof", vrf.PROOF_SIZE)
    siblings = section.get("siblings")
    if not isinstance(siblings, list):
        raise VinIndexError("siblings must be a list")
    proof = VinIndexProof(
        siblings=tuple(
            _decode(sibling, f"siblings[{position}]", KEY_SIZE)
            for position, sibling in enumerate(siblings)
        ),
        leaf=_decode_leaf(section.get("leaf")),
    )
    # SPEC §7 step 2: the key comes from the VIN and the VRF, never from the server.
    key = vrf.verify(vrf_key, vin.encode("ascii"), pi)[:KEY_SIZE]
    verify_proof(root=root, key=key, indexes=list(entry_indexes), proof=proof)
    return size


def _decode(value: object, where: str, length: int) -> bytes:
    if not isinstance(value, str):
        raise VinIndexError(f"{where} must be a base64 string")
    try:
        decoded = base64.b64decode(value, validate=True)
    except binascii.Error:
        raise VinIndexError(f"{where} is not standard base64") from None
    if len(decoded) != length:
        raise VinIndexError(f"{where} must decode to {length} bytes, not {len(decoded)}")
    return decoded


def _decode_leaf(value: object) -> Leaf | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise VinIndexError("leaf must be null or an object")
    return Leaf(
        key=_decode(value.get("key"), "leaf.key", KEY_SIZE),
        index_hash=_decode(value.get("index_hash"), "leaf.index_hash", KEY_SIZE),
    )

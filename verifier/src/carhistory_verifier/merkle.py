"""RFC 9162 §2.1 Merkle tree hashing, inclusion and consistency proofs.

Plain Python, no Django: the server, the tests and the offline verifier share this module.

Two views of the same tree live here. The *reference* functions (`root_from_leaf_hashes`,
`inclusion_proof`, `consistency_proof`) take every leaf hash in memory. The *range* functions
(`inclusion_proof_ranges`, `consistency_proof_ranges`, `range_subtrees`, `hash_range`) name the
leaf ranges a proof is made of, so storage that keeps the hash of every complete, aligned
subtree can answer a proof with one query. `Frontier` is the right edge of the tree, enough to
append leaves and compute the root without reading anything else.

A subtree is written `(level, index)`: it covers leaves `[index * 2**level, (index + 1) *
2**level)`. Level 0 subtrees are leaves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_sha256 = hashlib.sha256


class ProofError(ValueError):
    """A proof did not verify; the message names what failed."""


def leaf_hash(entry_bytes: bytes) -> bytes:
    """Return the RFC 9162 leaf hash, SHA-256(0x00 || entry_bytes)."""
    return _sha256(_LEAF_PREFIX + entry_bytes).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 interior node hash, SHA-256(0x01 || left || right)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than `size` (size > 1): where RFC 9162 splits a tree."""
    return 1 << ((size - 1).bit_length() - 1)


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return the RFC 9162 tree hash MTH of the given leaf hashes (EMPTY_ROOT for none).

    Works level by level instead of recursing: pairing neighbours and carrying an odd last
    node up unchanged gives exactly the RFC's "largest power of two smaller than n" split,
    because the ragged right edge is only ever combined once its left sibling is complete.
    """
    level = list(leaf_hashes)
    if not level:
        return EMPTY_ROOT
    prefix = _NODE_PREFIX
    sha256 = _sha256
    while len(level) > 1:
        # zip over one iterator pairs neighbours; an odd last node is left over, not paired.
        pairs = iter(level)
        parents = [
            sha256(prefix + left + right).digest()
            for left, right in zip(pairs, pairs, strict=False)
        ]
        if len(level) % 2:
            parents.append(level[-1])
        level = parents
    return level[0]


def _check_range(start: int, end: int) -> None:
    if not 0 <= start < end:
        raise ValueError(f"leaf range [{start}, {end}) is empty or negative")
    width = 1 << (end - start - 1).bit_length()
    if start % width:
        raise ValueError(
            f"leaf range [{start}, {end}) is not a node of any RFC 9162 tree: "
            f"its start must be a multiple of {width}"
        )


def inclusion_proof_ranges(index: int, tree_size: int) -> list[tuple[int, int]]:
    """Return the `[start, end)` leaf ranges whose tree hashes, in order, form the
    RFC 9162 §2.1.3.1 inclusion proof PATH(index, D[tree_size]), nearest sibling first."""
    if not 0 <= index < tree_size:
        raise ValueError(f"index {index} is outside a tree of size {tree_size}")
    ranges: list[tuple[int, int]] = []
    start, end = 0, tree_size
    # Walk down from the root; each step records the sibling of the half holding `index`.
    while end - start > 1:
        middle = start + _split(end - start)
        if index < middle:
            ranges.append((middle, end))
            end = middle
        else:
            ranges.append((start, middle))
            start = middle
    ranges.reverse()
    return ranges


def consistency_proof_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """Return the `[start, end)` leaf ranges whose tree hashes, in order, form the
    RFC 9162 §2.1.4.1 consistency proof PROOF(first, D[second]).

    The proof is empty when `first` is 0 or equals `second`.
    """
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    if first in (0, second):
        return []
    ranges: list[tuple[int, int]] = []
    start, end = 0, second
    # SUBPROOF(m, D[start:end], b): `whole_old_tree` is the RFC's flag b, true while the
    # old tree is a prefix of this node that the verifier already knows the hash of.
    whole_old_tree = True
    boundary = first
    while boundary - start != end - start:
        middle = start + _split(end - start)
        if boundary <= middle:
            ranges.append((middle, end))
            end = middle
        else:
            ranges.append((start, middle))
            start = middle
            whole_old_tree = False
    if not whole_old_tree:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def range_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """Return the complete, aligned subtrees `(level, index)` that make up the RFC 9162 node
    for leaves `[start, end)`, left to right.

    `start` must be aligned (a multiple of the smallest power of two >= end - start); `end`
    may be the ragged right edge of a tree, in which case the node is several subtrees.
    """
    _check_range(start, end)
    subtrees: list[tuple[int, int]] = []
    position = start
    while position < end:
        level = (end - position).bit_length() - 1
        subtrees.append((level, position >> level))
        position += 1 << level
    return subtrees


def hash_range(start: int, end: int, subtree_hash: Callable[[int, int], bytes]) -> bytes:
    """Return the RFC 9162 tree hash of leaves `[start, end)` from complete subtree hashes.

    `subtree_hash(level, index)` supplies each subtree of `range_subtrees(start, end)`; they are
    folded right to left, because RFC 9162 nests a ragged right edge inside its left sibling.
    """
    subtrees = range_subtrees(start, end)
    result = subtree_hash(*subtrees[-1])
    for level, index in reversed(subtrees[:-1]):
        result = node_hash(subtree_hash(level, index), result)
    return result


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Return the RFC 9162 inclusion proof for leaf `index` in the tree of all `leaf_hashes`."""
    return [
        root_from_leaf_hashes(leaf_hashes[start:end])
        for start, end in inclusion_proof_ranges(index, len(leaf_hashes))
    ]


def consistency_proof(first: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Return the RFC 9162 consistency proof from the tree of the first `first` leaves to the
    tree of all `leaf_hashes`."""
    return [
        root_from_leaf_hashes(leaf_hashes[start:end])
        for start, end in consistency_proof_ranges(first, len(leaf_hashes))
    ]


def _check_hash(value: object, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ProofError(f"{what} is not a {HASH_SIZE}-byte hash")


def root_from_inclusion_proof(
    *, index: int, tree_size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes:
    """Return the root that `proof` implies for `leaf_hash` at `index` in a tree of
    `tree_size` leaves (RFC 9162 §2.1.3.2, steps 1-4); ProofError if the proof is malformed."""
    if not 0 <= index < tree_size:
        raise ProofError(f"index {index} is outside a tree of size {tree_size}")
    _check_hash(leaf_hash, "leaf hash")
    expected_length = len(inclusion_proof_ranges(index, tree_size))
    if len(proof) != expected_length:
        raise ProofError(
            f"inclusion proof has {len(proof)} hashes; index {index} in a tree of size "
            f"{tree_size} needs {expected_length}"
        )
    node, last = index, tree_size - 1
    result = leaf_hash
    for position, sibling in enumerate(proof):
        _check_hash(sibling, f"inclusion proof element {position}")
        if last == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if node % 2 or node == last:
            result = node_hash(sibling, result)
            # A right-edge node with no right sibling climbs levels without hashing.
            while node % 2 == 0 and node:
                node >>= 1
                last >>= 1
        else:
            result = node_hash(result, sibling)
        node >>= 1
        last >>= 1
    if last != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    return result


def verify_inclusion(
    *, index: int, tree_size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that `leaf_hash` is leaf `index` of the tree of `tree_size` leaves whose hash is
    `root` (RFC 9162 §2.1.3.2). Returns None on success, raises ProofError otherwise."""
    _check_hash(root, "root hash")
    computed = root_from_inclusion_proof(
        index=index, tree_size=tree_size, leaf_hash=leaf_hash, proof=proof
    )
    if computed != root:
        raise ProofError(
            f"inclusion proof for index {index} does not lead to the root of the tree of "
            f"size {tree_size}"
        )


def verify_consistency(
    *,
    first: int,
    second: int,
    first_root: bytes,
    second_root: bytes,
    proof: Sequence[bytes],
) -> None:
    """Check that the tree of `first` leaves with hash `first_root` is a prefix of the tree of
    `second` leaves with hash `second_root` (RFC 9162 §2.1.4.2). Raises ProofError if not."""
    _check_hash(first_root, "first root hash")
    _check_hash(second_root, "second root hash")
    if not 0 <= first <= second:
        raise ProofError(f"a tree of size {first} cannot grow into a tree of size {second}")
    expected_length = len(consistency_proof_ranges(first, second))
    if len(proof) != expected_length:
        raise ProofError(
            f"consistency proof has {len(proof)} hashes; sizes {first} to {second} need "
            f"{expected_length}"
        )
    for position, element in enumerate(proof):
        _check_hash(element, f"consistency proof element {position}")
    if first == second:
        if first_root != second_root:
            raise ProofError(f"two trees of size {first} have different root hashes")
        return
    if first == 0:
        # Every tree extends the empty tree, but only if the claimed old root really is empty.
        if first_root != EMPTY_ROOT:
            raise ProofError("the first root is not the hash of the empty tree")
        return
    _verify_consistency_path(first, second, first_root, second_root, list(proof))


def _verify_consistency_path(
    first: int, second: int, first_root: bytes, second_root: bytes, path: list[bytes]
) -> None:
    """RFC 9162 §2.1.4.2 steps 2-7 for 0 < first < second and a non-empty path."""
    if first & (first - 1) == 0:
        # An old tree that is a complete subtree is not repeated in the proof: step 2.
        path.insert(0, first_root)
    node, last = first - 1, second - 1
    while node % 2:
        node >>= 1
        last >>= 1
    first_result = second_result = path[0]
    for element in path[1:]:
        if last == 0:
            raise ProofError("consistency proof is longer than the tree is deep")
        if node % 2 or node == last:
            first_result = node_hash(element, first_result)
            second_result = node_hash(element, second_result)
            while node % 2 == 0 and node:
                node >>= 1
                last >>= 1
        else:
            second_result = node_hash(second_result, element)
        node >>= 1
        last >>= 1
    if last != 0:
        raise ProofError("consistency proof is shorter than the tree is deep")
    if first_result != first_root:
        raise ProofError(f"consistency proof does not lead to the root of the tree of size {first}")
    if second_result != second_root:
        raise ProofError(
            f"consistency proof does not lead to the root of the tree of size {second}"
        )


class Frontier:
    """The right edge ("compact range") of a tree: the complete subtrees covering [0, size).

    It holds one hash per set bit of `size`, largest subtree first, which is all that is
    needed to append leaves and to compute the root.
    """

    def __init__(self) -> None:
        self.size = 0
        self._hashes: list[bytes] = []

    @staticmethod
    def subtrees_for_size(size: int) -> list[tuple[int, int]]:
        """Return the `(level, index)` subtrees that make up the frontier of a tree of `size`
        leaves, left to right (one per set bit of `size`, largest first)."""
        if size < 0:
            raise ValueError(f"tree size {size} is negative")
        subtrees: list[tuple[int, int]] = []
        start = 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                subtrees.append((level, start >> level))
                start += 1 << level
        return subtrees

    @classmethod
    def from_hashes(cls, size: int, hashes: Sequence[bytes]) -> Frontier:
        """Rebuild the frontier of a tree of `size` leaves from its subtree hashes, given in
        `subtrees_for_size(size)` order."""
        expected = len(cls.subtrees_for_size(size))
        if len(hashes) != expected:
            raise ValueError(
                f"a tree of size {size} has {expected} frontier hashes, not {len(hashes)}"
            )
        for position, value in enumerate(hashes):
            if not isinstance(value, bytes) or len(value) != HASH_SIZE:
                raise ValueError(f"frontier hash {position} is not a {HASH_SIZE}-byte hash")
        frontier = cls()
        frontier.size = size
        frontier._hashes = list(hashes)
        return frontier

    @property
    def hashes(self) -> list[bytes]:
        """The frontier's subtree hashes in `subtrees_for_size(self.size)` order."""
        return list(self._hashes)

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Append one leaf; return every subtree `(level, index, hash)` of level >= 1 that this
        leaf completed, smallest first."""
        if not isinstance(leaf_hash, bytes) or len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"leaf hash is not a {HASH_SIZE}-byte hash")
        completed: list[tuple[int, int, bytes]] = []
        current, level, index = leaf_hash, 0, self.size
        # Like carrying in binary addition: each trailing set bit of size is a complete
        # subtree of that level waiting for a right sibling of the same level.
        while self.size >> level & 1:
            current = node_hash(self._hashes.pop(), current)
            level += 1
            index >>= 1
            completed.append((level, index, current))
        self._hashes.append(current)
        self.size += 1
        return completed

    def extend(self, leaf_hashes: Sequence[bytes]) -> None:
        """Append many leaves: the same tree as `append` on each, with each whole subtree the
        leaves complete hashed a level at a time (`root_from_leaf_hashes`), which a mirror
        appending a million leaves does in half the time."""
        for position, value in enumerate(leaf_hashes):
            if not isinstance(value, bytes) or len(value) != HASH_SIZE:
                raise ValueError(f"leaf hash {position} is not a {HASH_SIZE}-byte hash")
        position, count = 0, len(leaf_hashes)
        while position < count:
            # The largest subtree that starts at `size` (its width divides `size`) and that
            # the remaining leaves fill.
            level = (count - position).bit_length() - 1
            if self.size:
                level = min(level, (self.size & -self.size).bit_length() - 1)
            width = 1 << level
            self._append_subtree(
                level, root_from_leaf_hashes(leaf_hashes[position : position + width])
            )
            position += width

    def _append_subtree(self, level: int, subtree_hash: bytes) -> None:
        # As `append` does for a leaf, from `level` up: `size` is a multiple of 2**level.
        width = 1 << level
        current = subtree_hash
        while self.size >> level & 1:
            current = node_hash(self._hashes.pop(), current)
            level += 1
        self._hashes.append(current)
        self.size += width

    def root(self) -> bytes:
        """Return the RFC 9162 tree hash of leaves [0, size); EMPTY_ROOT when size is 0."""
        if not self._hashes:
            return EMPTY_ROOT
        result = self._hashes[-1]
        for value in reversed(self._hashes[:-1]):
            result = node_hash(value, result)
        return result

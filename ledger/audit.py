"""The ledger audit: the stored log checked against itself. Every leaf hash is recomputed from
its bytes, every stored subtree from the leaves, every checkpoint's root and signature, and the
consistency of consecutive checkpoints. It streams the tables, so a log of millions of rows
needs little memory beyond the VIN index, which it rebuilds in memory from the entries and
the stored VRF outputs to check every `vin_index` entry and the stored map (SPEC §7).
`manage.py verify_ledger` is its command line.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from carhistory_verifier import merkle, note, protocol, vrf
from carhistory_verifier.entry import b64encode
from carhistory_verifier.vin_index import Branch, Leaf, NodeId, VinIndex
from django.conf import settings
from django.db.models import Q

from . import keys, selectors
from .models import Checkpoint, Entry, Subtree, VinIndexNode, VinKey

CHUNK_SIZE = 10_000
MAX_LEVEL = 63


class LedgerDamage(Exception):
    """The stored log contradicts itself; the message names the first place it does."""


def _entries_range(level: int, index: int) -> str:
    first = index << level
    return f"entries {first}-{first + (1 << level) - 1}"


def _check_subtrees(expected: dict[tuple[int, int], bytes]) -> None:
    """Compare recomputed subtree hashes with the stored rows, in one query."""
    if not expected:
        return
    ranges: dict[int, list[int]] = {}
    for level, index in expected:
        low, high = ranges.get(level, [index, index])
        ranges[level] = [min(low, index), max(high, index)]
    condition = Q()
    for level, (low, high) in ranges.items():
        condition |= Q(level=level, index__gte=low, index__lte=high)
    stored = {
        (level, index): bytes(value)
        for level, index, value in Subtree.objects.filter(condition).values_list(
            "level", "index", "hash"
        )
    }
    # Report the damage nearest the start of the log first.
    for level, index in sorted(
        expected, key=lambda position: (position[1] << position[0], position[0])
    ):
        found = stored.get((level, index))
        if found is None:
            raise LedgerDamage(
                f"subtree ({level}, {index}) over {_entries_range(level, index)} is missing"
            )
        if found != expected[(level, index)]:
            raise LedgerDamage(
                f"first tampered index {index << level}: stored subtree ({level}, {index}) does "
                f"not match {_entries_range(level, index)}"
            )


class _CheckpointAuditor:
    def __init__(self) -> None:
        self.verifier = keys.log_signer().verifier()
        self.rows: Iterator[tuple[int, bytes, str]] = (
            Checkpoint.objects.order_by("tree_size")
            .values_list("tree_size", "root_hash", "note")
            .iterator(chunk_size=1000)
        )
        self.upcoming = next(self.rows, None)
        self.previous: tuple[int, bytes] | None = None
        self.checked = 0

    def check_at(self, frontier: merkle.Frontier) -> None:
        if self.upcoming is None or self.upcoming[0] != frontier.size:
            return
        size, stored_root, text = self.upcoming
        stored_root = bytes(stored_root)
        if stored_root != frontier.root():
            raise LedgerDamage(
                f"checkpoint {size}: its root hash is not the tree hash of entries 0-{size - 1}"
            )
        try:
            signed = note.verify_checkpoint(text, self.verifier, origin=settings.LEDGER_ORIGIN)
        except note.NoteError as error:
            raise LedgerDamage(f"checkpoint {size}: {error}") from error
        if (signed.size, signed.root_hash) != (size, stored_root):
            raise LedgerDamage(f"checkpoint {size}: the signed note names another tree")
        if self.previous is not None:
            first, first_root = self.previous
            proof = selectors.consistency_proof(first=first, second=size)
            try:
                merkle.verify_consistency(
                    first=first,
                    second=size,
                    first_root=first_root,
                    second_root=stored_root,
                    proof=proof,
                )
            except merkle.ProofError as error:
                raise LedgerDamage(f"checkpoints {first} and {size}: {error}") from error
        self.previous = (size, stored_root)
        self.checked += 1
        self.upcoming = next(self.rows, None)


class _VinIndexAuditor:
    """Rebuilds the VIN index from the entries' VINs and the stored VRF outputs, checks each
    `vin_index` entry against it, and at the end the stored map itself."""

    def __init__(self) -> None:
        self.index = VinIndex()
        self.keys: dict[str, bytes] = {}
        stored = VinKey.objects.values_list("vin", "key", "vrf_proof")
        for vin, key, proof in stored.iterator(chunk_size=CHUNK_SIZE):
            # The stored key must be the output of the stored proof (SPEC §7, "Map key").
            if vrf.proof_to_hash(bytes(proof))[:32] != bytes(key):
                raise LedgerDamage(f"the VIN index key of {vin} is not its VRF proof's output")
            self.keys[vin] = bytes(key)
        self.checked = 0
        self.unchecked: list[tuple[int, dict, bytes]] = []

    def see(self, index: int, data: bytes) -> None:
        entry = json.loads(data)
        vin = entry.get("vin")
        if vin is not None:
            key = self.keys.get(vin)
            if key is None:
                raise LedgerDamage(f"entry {index}: its VIN has no stored VRF output")
            self.index.add(key, index)
        elif entry.get("type") == protocol.VIN_INDEX:
            # Judged once the entries' own hashes are (`check_commitments`): a rewritten entry
            # is named by its index, not as the wrong map it also makes.
            self.unchecked.append((index, entry.get("facts") or {}, self.index.root()))

    def check_commitments(self) -> None:
        for index, facts, root in self.unchecked:
            if facts.get("size") != index:
                raise LedgerDamage(f"vin_index entry {index}: its size is not {index}")
            if facts.get("root") != b64encode(root):
                raise LedgerDamage(
                    f"vin_index entry {index}: its root is not the VIN index of entries "
                    f"0-{index - 1}"
                )
            self.checked += 1
        self.unchecked.clear()

    def check_stored_map(self) -> None:
        expected = dict(self.index.nodes())
        rows = VinIndexNode.objects.values_list("path", "hash", "leaf_key", "leaf_index_hash")
        for path, node_hash, leaf_key, leaf_index_hash in rows.iterator(chunk_size=CHUNK_SIZE):
            node_id = NodeId.from_bytes(bytes(path))
            wanted = expected.pop(node_id, None)
            if leaf_key is None:
                stored = Branch(bytes(node_hash))
            else:
                stored = Leaf(bytes(leaf_key), bytes(leaf_index_hash))
            if wanted != stored or bytes(node_hash) != stored.hash:
                raise LedgerDamage(
                    f"the stored VIN index node at depth {node_id.depth} does not match the "
                    "map rebuilt from the entries"
                )
        if expected:
            raise LedgerDamage(
                f"{len(expected)} nodes of the VIN index rebuilt from the entries are not stored"
            )
        stored_indexes = VinKey.objects.values_list("vin", "indexes")
        for vin, indexes in stored_indexes.iterator(chunk_size=CHUNK_SIZE):
            indexes = bytes(indexes)
            recorded = tuple(
                int.from_bytes(indexes[at : at + 8], "big") for at in range(0, len(indexes), 8)
            )
            if recorded != self.index.indexes(self.keys[vin]):
                raise LedgerDamage(f"the stored entry indexes of {vin} do not match the entries")


def verify_ledger(*, chunk_size: int = CHUNK_SIZE) -> dict[str, int]:
    """Check the whole stored log; return counts, or raise LedgerDamage naming the first
    tampered index (or checkpoint, or `vin_index` entry)."""
    frontier = merkle.Frontier()
    checkpoints = _CheckpointAuditor()
    vin_index = _VinIndexAuditor()
    checkpoints.check_at(frontier)
    expected: dict[tuple[int, int], bytes] = {}
    rows = Entry.objects.order_by("index").values_list("index", "leaf_hash", "data")
    for index, stored_leaf_hash, data in rows.iterator(chunk_size=chunk_size):
        if index != frontier.size:
            raise LedgerDamage(f"first tampered index {frontier.size}: the entry is missing")
        leaf_hash = merkle.leaf_hash(bytes(data))
        if leaf_hash != bytes(stored_leaf_hash):
            raise LedgerDamage(
                f"first tampered index {index}: its leaf hash does not match its bytes"
            )
        vin_index.see(index, bytes(data))
        for level, subtree_index, value in frontier.append(leaf_hash):
            expected[(level, subtree_index)] = value
        if checkpoints.upcoming is not None and checkpoints.upcoming[0] == frontier.size:
            _check_subtrees(expected)
            expected.clear()
            checkpoints.check_at(frontier)
            vin_index.check_commitments()
        elif len(expected) >= chunk_size:
            _check_subtrees(expected)
            expected.clear()
    _check_subtrees(expected)
    vin_index.check_commitments()
    signed_size = checkpoints.previous[0] if checkpoints.previous else 0
    if signed_size != frontier.size:
        raise LedgerDamage(
            f"first tampered index {signed_size}: entries {signed_size}-{frontier.size - 1} are "
            "in no checkpoint"
        )
    if checkpoints.upcoming is not None:
        raise LedgerDamage(
            f"checkpoint {checkpoints.upcoming[0]} is beyond the {frontier.size} stored entries"
        )
    expected_subtrees = sum(frontier.size >> level for level in range(1, MAX_LEVEL + 1))
    stored_subtrees = Subtree.objects.count()
    if stored_subtrees != expected_subtrees:
        raise LedgerDamage(
            f"{stored_subtrees} subtree rows are stored; a tree of {frontier.size} entries has "
            f"{expected_subtrees} complete subtrees"
        )
    if vin_index.checked:
        # A log from before the VIN index has no map until its first new batch.
        vin_index.check_stored_map()
    return {
        "entries": frontier.size,
        "subtrees": stored_subtrees,
        "checkpoints": checkpoints.checked,
        "vin_index_entries": vin_index.checked,
    }


# --- what the audit saw last time ------------------------------------------------------------
# An attacker who can rewrite the tables can also empty them, and an empty log verifies. So the
# audit remembers the largest checkpoint it has verified, outside the ledger's tables (a file on
# the auditor's side), and a log that has since shrunk or changed its root fails loudly.


@dataclass(frozen=True)
class VerifiedCheckpoint:
    tree_size: int
    root_hash: bytes


def remembered_checkpoint(state_file: Path) -> VerifiedCheckpoint | None:
    """The largest checkpoint an earlier audit verified, or None before the first audit."""
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError as error:
        raise LedgerDamage(f"{state_file} cannot be read ({error}); restore it") from error
    return VerifiedCheckpoint(int(state["tree_size"]), bytes.fromhex(state["root_hash"]))


def verify_ledger_against(*, state_file: Path, chunk_size: int = CHUNK_SIZE) -> dict[str, int]:
    """`verify_ledger`, plus: the log still holds the checkpoint verified last time, with the same
    root; then remember the newest checkpoint for next time. LedgerDamage otherwise."""
    counts = verify_ledger_against_memory(state_file=state_file, chunk_size=chunk_size)
    remember_latest(state_file=state_file)
    return counts


def verify_ledger_against_memory(
    *, state_file: Path, chunk_size: int = CHUNK_SIZE
) -> dict[str, int]:
    """`verify_ledger`, and the log still holds the checkpoint remembered in `state_file`;
    remembers nothing new (`remember_latest` does, once every other check has passed)."""
    remembered = remembered_checkpoint(state_file)
    counts = verify_ledger(chunk_size=chunk_size)
    if remembered is not None:
        _check_remembered(remembered, counts["entries"])
    return counts


def remember_latest(*, state_file: Path) -> None:
    """Remember the log's latest checkpoint in `state_file` if it is larger than the one there."""
    remembered = remembered_checkpoint(state_file)
    latest = selectors.latest_checkpoint()
    if latest is not None and (remembered is None or latest.tree_size > remembered.tree_size):
        state = {"tree_size": latest.tree_size, "root_hash": bytes(latest.root_hash).hex()}
        state_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(state), encoding="utf-8")
        temporary.replace(state_file)  # atomic: a crash leaves the old state, never half a file


def _check_remembered(remembered: VerifiedCheckpoint, size: int) -> None:
    if size < remembered.tree_size:
        raise LedgerDamage(
            f"the log has {size} entries, but checkpoint {remembered.tree_size} was verified "
            "before: entries were removed (TRUNCATE, or a restore from an old backup)"
        )
    stored = selectors.checkpoint_at(remembered.tree_size)
    if stored is None:
        raise LedgerDamage(f"checkpoint {remembered.tree_size}, verified before, is gone")
    # verify_ledger has checked this checkpoint's root against the entries themselves.
    if bytes(stored.root_hash) != remembered.root_hash:
        raise LedgerDamage(
            f"checkpoint {remembered.tree_size} has another root than when it was verified "
            "before: the log was rewritten"
        )

"""One mirror run: fetch what the store lacks, check it against the signed tree, store it,
cosign.

The order of the checks is the point. The new checkpoint must carry the log's signature and
extend every checkpoint mirrored before (a consistency proof from the latest, which the stored
tree itself extends from all earlier ones); every fetched entry is hashed into the stored
tree's right edge, and the root that results must be the checkpoint's. Only then is the
checkpoint recorded, with the mirror's cosignature, and only after that record is durable is
the cosignature sent (C2SP tlog-mirror: a mirror cosigns what it has durably stored).
"""

from __future__ import annotations

import collections
import concurrent.futures
from collections.abc import Callable
from dataclasses import dataclass

from carhistory_verifier import merkle
from carhistory_verifier.entry import b64encode
from carhistory_verifier.mirror.client import MirrorClient
from carhistory_verifier.mirror.map_audit import (
    KeyLearner,
    MapAudit,
    MapRefused,
    RangeKeys,
    ReadEntries,
    read_entries,
)
from carhistory_verifier.mirror.store import MirroredCheckpoint, MirrorStore, StoreError
from carhistory_verifier.note import (
    SIGNATURE_PREFIX,
    Checkpoint,
    CosignatureSigner,
    NoteError,
    Verifier,
    cosign_checkpoint,
    verify_checkpoint,
)
from carhistory_verifier.tiles import TILE_WIDTH

# Entries asked for in one request: 64 bundles, about 7 MB before compression.
RANGE_ENTRIES = 64 * TILE_WIDTH
# Ranges fetched (and their VRF proofs verified) ahead while earlier ones are hashed and stored.
PREFETCH = 3
# Entries per store transaction: what an interruption can cost at most to fetch again.
COMMIT_EVERY = RANGE_ENTRIES


class MirrorRefused(Exception):
    """The mirror refused to cosign; the message names the first problem."""


class ForkDetected(MirrorRefused):
    """The log serves a tree that does not extend one this mirror verified."""


@dataclass(frozen=True)
class SyncResult:
    checkpoint: Checkpoint
    fetched: int
    resumed_at: int
    delivered: bool


def log_signed_note(served: str, log_key: Verifier) -> str:
    """The served checkpoint with the log's own signature line only: what the log stored and
    what a restored log serves again, before witnesses and mirrors add their lines."""
    text, separator, signatures = served.rpartition("\n\n")
    if not separator:
        raise MirrorRefused("the log served a checkpoint with no signature lines")
    own = f"{SIGNATURE_PREFIX}{log_key.name} "
    lines = [line for line in signatures.splitlines(keepends=True) if line.startswith(own)]
    return text + separator + "".join(lines)


def _verified_checkpoint(served: str, log_key: Verifier) -> tuple[str, Checkpoint]:
    note = log_signed_note(served, log_key)
    try:
        # The log names its key after its origin, so another origin is another log.
        return note, verify_checkpoint(note, log_key, origin=log_key.name)
    except NoteError as error:
        raise MirrorRefused(f"the checkpoint is not the log's: {error}") from None


def _check_extends(
    client: MirrorClient, latest: MirroredCheckpoint | None, checkpoint: Checkpoint, note: str
) -> None:
    if latest is None:
        return
    if checkpoint.size < latest.size:
        raise MirrorRefused(
            f"the log served a tree of size {checkpoint.size}, smaller than the size "
            f"{latest.size} this mirror already verified: refusing to go back"
        )
    if checkpoint.size == latest.size:
        if checkpoint.root_hash != latest.checkpoint.root_hash:
            raise ForkDetected(
                f"fork: the log signed two different trees of size {checkpoint.size}.\n"
                f"--- mirrored before ---\n{latest.note}--- served now ---\n{note}"
            )
        return
    proof = client.consistency_proof(first=latest.size, second=checkpoint.size)
    try:
        merkle.verify_consistency(
            first=latest.size,
            second=checkpoint.size,
            first_root=latest.checkpoint.root_hash,
            second_root=checkpoint.root_hash,
            proof=proof,
        )
    except merkle.ProofError as error:
        raise ForkDetected(
            f"fork: the tree of size {checkpoint.size} does not extend the tree of size "
            f"{latest.size} this mirror verified ({error}).\n"
            f"--- mirrored before ---\n{latest.note}--- served now ---\n{note}"
        ) from None


# RFC 8785 bytes have no spaces, and a quote inside a string is escaped, so only a real
# `type` member can look like this.
_VIN_INDEX_TYPE = b'"type":"vin_index"'


@dataclass
class _Range:
    """One fetched range of entries, read for the audit, with its new VINs' keys coming."""

    first: int
    entries: list[bytes]
    read: ReadEntries | None
    keys: RangeKeys | None


class _Fetcher:
    """Fetches ranges of entries on its own threads and, when the map is audited, reads them
    and starts the verification of the VRF proofs of the VINs they bring."""

    def __init__(self, client: MirrorClient, learner: KeyLearner | None) -> None:
        self.client = client
        self.learner = learner

    def fetch(self, first: int, end: int) -> _Range:
        entries = self.client.entries(first, end)
        if self.learner is None:
            return _Range(first, entries, None, None)
        read = read_entries(first, entries)
        return _Range(first, entries, read, self.learner.keys_for(read.vins))


def _ranges(start: int, size: int) -> list[tuple[int, int]]:
    # Ranges start on a bundle boundary (a partial bundle stored before is fetched again).
    first = start - start % TILE_WIDTH
    return [
        (begin, min(size, begin + RANGE_ENTRIES)) for begin in range(first, size, RANGE_ENTRIES)
    ]


def _fetch(
    client: MirrorClient,
    store: MirrorStore,
    size: int,
    audit: MapAudit | None,
    learner: KeyLearner | None,
    progress: Callable[[int], None],
) -> int:
    """Fetch, hash, audit and store entries [store.size, size); return how many were new."""
    start = store.size
    frontier = store.frontier()
    fetcher = _Fetcher(client, learner)
    batch: list[bytes] = []
    batch_start = start
    with concurrent.futures.ThreadPoolExecutor(max_workers=PREFETCH) as pool:
        pending: collections.deque = collections.deque()
        upcoming = iter(_ranges(start, size))
        for first, end in upcoming:
            pending.append(pool.submit(fetcher.fetch, first, end))
            if len(pending) >= PREFETCH:
                break
        try:
            while pending:
                fetched = pending.popleft().result()
                following = next(upcoming, None)
                if following is not None:
                    pending.append(pool.submit(fetcher.fetch, *following))
                skip = max(0, frontier.size - fetched.first)
                if skip:
                    _check_already_stored(store, fetched.first, fetched.entries[:skip])
                if audit is not None:
                    audit.learn(fetched.keys.result())
                try:
                    _hash_and_audit(fetched, skip, frontier, audit, batch)
                except MapRefused:
                    if learner is not None:
                        # A forged proof makes a wrong map: name it, the first problem.
                        learner.confirm()
                    raise
                if len(batch) >= COMMIT_EVERY or not pending:
                    changes = audit.take_changes() if audit is not None else None
                    store.append(batch_start, batch, frontier, changes)
                    progress(frontier.size)
                    batch_start, batch = frontier.size, []
        finally:
            for future in pending:
                future.cancel()
    if learner is not None:
        learner.confirm()
    return size - start


def _hash_and_audit(
    fetched: _Range,
    skip: int,
    frontier: merkle.Frontier,
    audit: MapAudit | None,
    batch: list[bytes],
) -> None:
    """Append the range's new entries to the tree's right edge and to `batch`, auditing the
    map entry by entry."""
    entries = fetched.entries[skip:]
    first = fetched.first + skip
    if audit is not None:
        audit.observe_entries(fetched.read.since(first) if skip else fetched.read)
    else:
        for offset, data in enumerate(entries, start=first):
            if _VIN_INDEX_TYPE in data:
                raise MapRefused(
                    f"wrong map at index {offset}: the log has a VIN index but serves no "
                    "VRF key to check it with"
                )
    frontier.extend(list(map(merkle.leaf_hash, entries)))
    batch.extend(entries)


def _check_already_stored(store: MirrorStore, first: int, entries: list[bytes]) -> None:
    # A partial bundle fetched again must start with the same entries as before.
    for offset, (stored, fetched) in enumerate(
        zip(store.entries(first, first + len(entries)), entries, strict=True), start=first
    ):
        if stored != fetched:
            raise ForkDetected(f"fork: entry {offset} differs from the copy this mirror stored")


def sync(
    *,
    client: MirrorClient,
    store: MirrorStore,
    log_key: Verifier,
    mirror_key: CosignatureSigner,
    timestamp: Callable[[], int],
    progress: Callable[[int], None] = lambda size: None,
) -> SyncResult:
    """Mirror the log's latest checkpoint into `store` and cosign it; MirrorRefused (or
    ForkDetected) naming the first problem, in which case nothing is cosigned and the store
    keeps only what verified."""
    note, checkpoint = _verified_checkpoint(client.checkpoint(), log_key)
    latest = store.latest_checkpoint()
    _check_extends(client, latest, checkpoint, note)
    if latest is not None and latest.size == checkpoint.size:
        return SyncResult(checkpoint, 0, store.size, _deliver(client, store, latest))
    if store.size > checkpoint.size:
        # Provisional entries fetched for a checkpoint larger than the one served now.
        store.truncate_to(latest)
    resumed_at = store.size
    vrf_key = client.vrf_key()
    learner = None
    if vrf_key is not None:
        rows = list(store.vin_rows())
        learner = KeyLearner(
            vrf_key=vrf_key, known=(vin for vin, *_ in rows), fetch=client.vrf_proofs
        )
        # Proofs are stored before their checks end (`KeyLearner`): those of VINs first met
        # beyond the latest checkpoint are checked again, in case a run stopped before that.
        learner.check_later(_first_met_from(rows, latest.size if latest else 0))
    try:
        try:
            audit = None if learner is None else _resumed_audit(learner, rows)
            fetched = _fetch(client, store, checkpoint.size, audit, learner, progress)
        except MapRefused as error:
            raise MirrorRefused(str(error)) from None
        finally:
            if learner is not None:
                learner.close()
        root = store.frontier().root()
        if root != checkpoint.root_hash:
            raise MirrorRefused(
                f"wrong root: entries 0-{checkpoint.size - 1} hash to {b64encode(root)}, but "
                f"the checkpoint of size {checkpoint.size} says {b64encode(checkpoint.root_hash)}"
            )
    except MirrorRefused:
        store.truncate_to(latest)
        raise
    line = cosign_checkpoint(note, mirror_key, timestamp=timestamp())
    store.record_checkpoint(note, line)
    recorded = store.latest_checkpoint()
    return SyncResult(checkpoint, fetched, resumed_at, _deliver(client, store, recorded))


def _first_met_from(
    rows: list[tuple[str, bytes, bytes, bytes]], size: int
) -> list[tuple[str, bytes]]:
    """The VIN and VRF proof of each stored VIN whose first entry is at `size` or later."""
    # Indexes are 8-byte big-endian integers, so the bytes compare as the numbers do.
    first = size.to_bytes(8, "big")
    return [(vin, proof) for vin, _key, proof, indexes in rows if indexes[:8] >= first]


def _resumed_audit(learner: KeyLearner, rows: list[tuple[str, bytes, bytes, bytes]]) -> MapAudit:
    """The map audit as the store left it."""
    try:
        return MapAudit(vrf_key=learner.vrf_key, known=rows)
    except ValueError:
        # Two VINs stored under one map key: a proof forged to collide, stored by a run that
        # stopped before its check ended. Name it.
        learner.confirm()
        raise StoreError(
            "the store holds two VINs under one map key: it was changed by something other "
            "than carhistory-mirror"
        ) from None


def _deliver(client: MirrorClient, store: MirrorStore, recorded: MirroredCheckpoint) -> bool:
    """Send the recorded cosignature unless the log already has it; return whether it was
    sent now. Delivery errors propagate: the checkpoint stays recorded, the next run resends."""
    if recorded.delivered:
        return False
    client.submit_cosignature(recorded.note + recorded.cosignature)
    store.mark_delivered(recorded.size)
    return True

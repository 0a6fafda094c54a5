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
from carhistory_verifier.mirror.map_audit import MapAudit, MapRefused
from carhistory_verifier.mirror.store import MirroredCheckpoint, MirrorStore
from carhistory_verifier.note import (
    SIGNATURE_PREFIX,
    Checkpoint,
    CosignatureSigner,
    NoteError,
    Verifier,
    cosign_checkpoint,
    verify_checkpoint,
)
from carhistory_verifier.tiles import TILE_WIDTH, TileAddress

# Bundles fetched ahead while earlier ones are hashed and stored.
PREFETCH = 8
# Entries per store transaction: what an interruption can cost at most to fetch again.
COMMIT_EVERY = 32 * TILE_WIDTH


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


class _Tiles:
    """Fetches bundles (and, when the map is audited, their VINs' VRF proofs) a few ahead."""

    def __init__(self, client: MirrorClient, audit: MapAudit | None) -> None:
        self.client = client
        self.audit = audit

    def fetch(self, address: TileAddress) -> tuple[list[bytes], dict[str, bytes]]:
        entries = self.client.entry_bundle(address)
        proofs = self.client.vrf_proofs(address) if self.audit is not None else {}
        return entries, proofs


def _fetch(
    client: MirrorClient,
    store: MirrorStore,
    size: int,
    audit: MapAudit | None,
    progress: Callable[[int], None],
) -> int:
    """Fetch, hash, audit and store entries [store.size, size); return how many were new."""
    start = store.size
    frontier = store.frontier()
    first_tile, last_tile = start // TILE_WIDTH, -(-size // TILE_WIDTH)
    addresses = [
        TileAddress(0, index, min(TILE_WIDTH, size - index * TILE_WIDTH))
        for index in range(first_tile, last_tile)
    ]
    tiles = _Tiles(client, audit)
    batch: list[bytes] = []
    batch_start = start
    with concurrent.futures.ThreadPoolExecutor(max_workers=PREFETCH) as pool:
        pending: collections.deque = collections.deque()
        upcoming = iter(addresses)
        for address in upcoming:
            pending.append((address, pool.submit(tiles.fetch, address)))
            if len(pending) >= PREFETCH:
                break
        while pending:
            address, future = pending.popleft()
            following = next(upcoming, None)
            if following is not None:
                pending.append((following, pool.submit(tiles.fetch, following)))
            entries, proofs = future.result()
            if len(entries) != address.width:
                raise MirrorRefused(
                    f"entry bundle {address.index} holds {len(entries)} entries, not "
                    f"{address.width}"
                )
            first = address.index * TILE_WIDTH
            skip = max(0, frontier.size - first)
            if skip:
                _check_already_stored(store, first, entries[:skip])
            if audit is not None:
                audit.learn_keys(proofs)
            for offset, data in enumerate(entries[skip:], start=first + skip):
                if audit is not None:
                    audit.observe(offset, data)
                elif _VIN_INDEX_TYPE in data:
                    raise MapRefused(
                        f"wrong map at index {offset}: the log has a VIN index but serves no "
                        "VRF key to check it with"
                    )
                frontier.append(merkle.leaf_hash(data))
                batch.append(data)
            if len(batch) >= COMMIT_EVERY or not pending:
                changes = audit.take_changes() if audit is not None else None
                store.append(batch_start, batch, frontier, changes)
                progress(frontier.size)
                batch_start, batch = frontier.size, []
    return size - start


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
    audit = None if vrf_key is None else MapAudit(vrf_key=vrf_key, known=store.known_vins())
    try:
        try:
            fetched = _fetch(client, store, checkpoint.size, audit, progress)
        except MapRefused as error:
            raise MirrorRefused(str(error)) from None
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


def _deliver(client: MirrorClient, store: MirrorStore, recorded: MirroredCheckpoint) -> bool:
    """Send the recorded cosignature unless the log already has it; return whether it was
    sent now. Delivery errors propagate: the checkpoint stays recorded, the next run resends."""
    if recorded.delivered:
        return False
    client.submit_cosignature(recorded.note + recorded.cosignature)
    store.mark_delivered(recorded.size)
    return True

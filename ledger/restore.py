"""Disaster recovery: rebuild the log from a mirror's store (`manage.py restore_from_mirror`).

A mirror holds every entry's bytes, every checkpoint it verified, each signed by the log key,
and each VIN's verified VRF proof. That is enough to rebuild everything the log derives from
them (leaf hashes, the subtree rows every proof is made of, the checkpoints, the VIN index)
into an empty database, and to prove the result
is the log that was lost: every checkpoint the mirror verified must be the tree hash of the
entries before it, and the latest is the one the mirror cosigned. A store that fails any of
this is refused and the database is left empty. What a mirror never sees (accounts, API keys,
private details and their salts, submissions) comes back from PostgreSQL's own backups.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from carhistory_verifier import merkle, note, protocol
from carhistory_verifier.entry import b64encode
from carhistory_verifier.mirror.store import MirroredCheckpoint, MirrorStore, StoreError
from django.db import transaction
from django.utils import timezone

from carhistory.errors import DomainError

from . import keys, vin_index
from .models import Checkpoint, Cosignature, Cosigner, Entry, PendingEntry, Subtree, VinKey
from .sequencer import ENTRY_COLUMNS, SUBTREE_COLUMNS, _insert_rows, indexed_fields

ROWS_PER_COPY = 20_000


class RestoreRefused(DomainError):
    """The store cannot be restored from; the message names the first problem."""


@dataclass(frozen=True)
class RestoreResult:
    tree_size: int
    checkpoints: int
    cosignatures: int


def restore_from_mirror(*, path: Path) -> RestoreResult:
    """Rebuild entries, subtrees and checkpoints from the mirror store at `path` into an
    empty log; RestoreRefused (and nothing written) if the store does not verify."""
    if not Path(path).is_file():
        raise RestoreRefused(f"{path} does not exist")
    try:
        store = MirrorStore(Path(path), keys.log_signer().verifier())
        checkpoints = store.checkpoints()
    except StoreError as error:
        raise RestoreRefused(str(error)) from None
    try:
        if not checkpoints:
            raise RestoreRefused(f"{path} holds no checkpoint the mirror verified")
        with transaction.atomic():
            _refuse_unless_empty()
            size, vins, last_vin_index = _restore_entries(store, checkpoints)
            _restore_vin_index(store, size, vins, last_vin_index)
            Checkpoint.objects.bulk_create(
                Checkpoint(tree_size=c.size, root_hash=c.checkpoint.root_hash, note=c.note)
                for c in checkpoints
            )
            cosignatures = _restore_cosignatures(checkpoints)
    finally:
        store.close()
    return RestoreResult(size, len(checkpoints), cosignatures)


def _refuse_unless_empty() -> None:
    if any(model.objects.exists() for model in (Entry, Checkpoint, PendingEntry, VinKey)):
        raise RestoreRefused(
            "the log is not empty: restore only into a freshly migrated database, never over "
            "a log that still has entries"
        )


def _restore_entries(
    store: MirrorStore, checkpoints: list[MirroredCheckpoint]
) -> tuple[int, dict[str, list[int]], tuple[int, dict] | None]:
    """Stream the store's entries up to its latest verified checkpoint into Entry and Subtree
    rows, checking the root at every checkpoint; return the tree size restored, each VIN's
    entry indexes, and the last `vin_index` entry (its index and facts), if any."""
    target = checkpoints[-1].size
    upcoming = iter(checkpoints)
    due = next(upcoming)
    frontier = merkle.Frontier()
    restored_at = timezone.now()
    entries: list[tuple] = []
    subtrees: list[tuple] = []
    vins: dict[str, list[int]] = {}
    last_vin_index = None
    for index, data in store.iter_entries():
        if index >= target:
            break  # provisional entries, fetched for a checkpoint not yet verified
        leaf_hash = merkle.leaf_hash(data)
        try:
            entry = json.loads(data)
            fields = indexed_fields(entry)
        except ValueError as error:
            raise RestoreRefused(f"entry {index} is not a log entry: {error}") from None
        if fields["vin"] is not None:
            vins.setdefault(fields["vin"], []).append(index)
        if fields["type"] == protocol.VIN_INDEX:
            last_vin_index = (index, entry.get("facts"))
        entries.append(
            (
                index,
                leaf_hash,
                data,
                fields["vin"],
                fields["type"],
                fields["source"],
                fields["occurred_at"],
                None,  # pending_id: the submission rows were not mirrored
                restored_at,
            )
        )
        subtrees.extend(frontier.append(leaf_hash))
        while due is not None and due.size == frontier.size:
            _check_root(due, frontier)
            due = next(upcoming, None)
        if len(entries) >= ROWS_PER_COPY:
            _flush(entries, subtrees)
    _flush(entries, subtrees)
    if frontier.size != target:
        raise RestoreRefused(
            f"the store holds {frontier.size} entries but its latest checkpoint covers {target}"
        )
    return target, vins, last_vin_index


def _restore_vin_index(
    store: MirrorStore,
    size: int,
    vins: dict[str, list[int]],
    last_vin_index: tuple[int, dict] | None,
) -> None:
    """Rebuild the VIN index (SPEC §7) from the restored entries, with the VRF proofs the
    mirror verified (a VIN it has none for gets one from the log's VRF key), and check it is
    the map the log's last `vin_index` entry committed to. Without it the sequencer would
    extend an empty map and commit to a wrong one at its next batch."""
    known = store.known_vins()
    VinKey.objects.bulk_create(
        (
            VinKey(vin=vin, key=known[vin][0], vrf_proof=known[vin][1], indexes=b"")
            for vin in vins
            if vin in known
        ),
        batch_size=5_000,
    )
    root = vin_index.update_map(vins)
    if last_vin_index is None or last_vin_index[0] != size - 1:
        # A checkpoint from before the VIN index: the sequencer's next batch commits to it.
        return
    index, facts = last_vin_index
    committed = facts.get("root") if isinstance(facts, dict) else None
    rebuilt = b64encode(root)
    if committed != rebuilt:
        raise RestoreRefused(
            f"wrong map: the VIN index rebuilt from the store's entries has root {rebuilt}, but "
            f"the vin_index entry at {index} commits to {committed}"
        )


def _check_root(mirrored: MirroredCheckpoint, frontier: merkle.Frontier) -> None:
    root = frontier.root()
    if root != mirrored.checkpoint.root_hash:
        raise RestoreRefused(
            f"wrong root: the store's entries 0-{frontier.size - 1} hash to {b64encode(root)}, "
            f"but the checkpoint of size {frontier.size} it verified says "
            f"{b64encode(mirrored.checkpoint.root_hash)}"
        )


def _flush(entries: list[tuple], subtrees: list[tuple]) -> None:
    _insert_rows(Entry, ENTRY_COLUMNS, entries)
    _insert_rows(Subtree, SUBTREE_COLUMNS, subtrees)
    entries.clear()
    subtrees.clear()


def _restore_cosignatures(checkpoints: list[MirroredCheckpoint]) -> int:
    """The mirror's own cosignatures, for a mirror whose registration is back (from the
    accounts' backup, or `add_mirror` again with the same key); others are skipped."""
    restored = 0
    for mirrored in checkpoints:
        name = mirrored.cosignature.removeprefix("— ").split(" ", 1)[0]
        cosigner = Cosigner.objects.filter(name=name).first()
        if cosigner is None:
            continue
        try:
            verifier = note.CosignatureVerifier.from_key_string(cosigner.verifier_key)
            timestamp = note.verify_cosignature(mirrored.note + mirrored.cosignature, verifier)
        except note.NoteError:
            continue
        Cosignature.objects.create(
            checkpoint_id=mirrored.size,
            cosigner=cosigner,
            signature_line=mirrored.cosignature.rstrip("\n"),
            timestamp=timestamp,
        )
        restored += 1
    return restored

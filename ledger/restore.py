"""Disaster recovery: rebuild the log from a mirror's store (`manage.py restore_from_mirror`).

A mirror holds every entry's bytes and every checkpoint it verified, each signed by the log
key. That is enough to rebuild everything the log derives from them (leaf hashes, the subtree
rows every proof is made of, the checkpoints) into an empty database, and to prove the result
is the log that was lost: every checkpoint the mirror verified must be the tree hash of the
entries before it, and the latest is the one the mirror cosigned. A store that fails any of
this is refused and the database is left empty. What a mirror never sees (accounts, API keys,
private details and their salts, submissions) comes back from PostgreSQL's own backups.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from carhistory_verifier import merkle, note
from carhistory_verifier.entry import b64encode
from carhistory_verifier.mirror.store import MirroredCheckpoint, MirrorStore, StoreError
from django.db import transaction
from django.utils import timezone

from carhistory.errors import DomainError

from . import keys
from .models import Checkpoint, Cosignature, Cosigner, Entry, PendingEntry, Subtree
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
            size = _restore_entries(store, checkpoints)
            Checkpoint.objects.bulk_create(
                Checkpoint(tree_size=c.size, root_hash=c.checkpoint.root_hash, note=c.note)
                for c in checkpoints
            )
            cosignatures = _restore_cosignatures(checkpoints)
    finally:
        store.close()
    return RestoreResult(size, len(checkpoints), cosignatures)


def _refuse_unless_empty() -> None:
    if Entry.objects.exists() or Checkpoint.objects.exists() or PendingEntry.objects.exists():
        raise RestoreRefused(
            "the log is not empty: restore only into a freshly migrated database, never over "
            "a log that still has entries"
        )


def _restore_entries(store: MirrorStore, checkpoints: list[MirroredCheckpoint]) -> int:
    """Stream the store's entries up to its latest verified checkpoint into Entry and Subtree
    rows, checking the root at every checkpoint; return the tree size restored."""
    target = checkpoints[-1].size
    upcoming = iter(checkpoints)
    due = next(upcoming)
    frontier = merkle.Frontier()
    restored_at = timezone.now()
    entries: list[tuple] = []
    subtrees: list[tuple] = []
    for index, data in store.iter_entries():
        if index >= target:
            break  # provisional entries, fetched for a checkpoint not yet verified
        leaf_hash = merkle.leaf_hash(data)
        try:
            fields = indexed_fields(json.loads(data))
        except ValueError as error:
            raise RestoreRefused(f"entry {index} is not a log entry: {error}") from None
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
    return target


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

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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from carhistory_verifier import merkle, note, protocol
from carhistory_verifier.entry import b64encode
from carhistory_verifier.mirror.store import MirroredCheckpoint, MirrorStore, StoreError
from carhistory_verifier.vin_index import Leaf, VinIndex
from django.db import connection, transaction
from django.utils import timezone

from carhistory.errors import DomainError

from . import keys, pg_copy, vin_index
from .models import (
    Checkpoint,
    Cosignature,
    Cosigner,
    Entry,
    PendingEntry,
    Subtree,
    VinIndexNode,
    VinKey,
)
from .sequencer import ENTRY_COLUMNS, SUBTREE_COLUMNS, _insert_rows, indexed_fields

ROWS_PER_COPY = 50_000
VIN_KEY_COLUMNS = {
    "vin": pg_copy.text,
    "key": pg_copy.binary,
    "vrf_proof": pg_copy.binary,
    "indexes": pg_copy.binary,
}
VIN_INDEX_NODE_COLUMNS = {
    "path": pg_copy.binary,
    "hash": pg_copy.binary,
    "leaf_key": pg_copy.binary,
    "leaf_index_hash": pg_copy.binary,
}


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
            with _secondary_indexes_built_after(Entry):
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


@contextmanager
def _secondary_indexes_built_after(model: type[Entry]) -> Iterator[None]:
    """Drop the table's indexes that back no constraint, and build them again at the end: a
    million rows sorted once into each index is several times faster than a million
    insertions into each. Inside the restore's transaction, so a refusal puts them back."""
    if connection.vendor != "postgresql":
        yield
        return
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = %s AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = "
            "to_regclass(quote_ident(schemaname) || '.' || quote_ident(indexname)))",
            [table],
        )
        indexes = cursor.fetchall()
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _name, definition in indexes:
            cursor.execute(definition)


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
    entry_rows: list[tuple] = []
    subtree_rows: list[tuple] = []
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
        vin = fields["vin"]
        if vin is not None:
            known = vins.get(vin)
            if known is None:
                vins[vin] = [index]
            else:
                known.append(index)
        if fields["type"] == protocol.VIN_INDEX:
            last_vin_index = (index, entry.get("facts"))
        # pending_id is None: the submission rows were not mirrored.
        entry_rows.append(
            (index, leaf_hash, data, vin, fields["type"], fields["source"],
             fields["occurred_at"], None, restored_at)
        )  # fmt: skip
        subtree_rows.extend(frontier.append(leaf_hash))
        while due is not None and due.size == frontier.size:
            _check_root(due, frontier)
            due = next(upcoming, None)
        if len(entry_rows) >= ROWS_PER_COPY:
            _flush(entry_rows, subtree_rows)
    _flush(entry_rows, subtree_rows)
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
    extend an empty map and commit to a wrong one at its next batch.

    The map is built in memory and written in bulk: the stored nodes of a map built from
    empty are exactly those `VinIndex.nodes()` lists."""
    known = {vin: (key, proof) for vin, key, proof, _indexes in store.vin_rows() if vin in vins}
    # VINs the mirror holds no proof for (it mirrored a log from before the VIN index): the
    # log's VRF key computes them now, and their rows are written here.
    unproven = [vin for vin in vins if vin not in known]
    vin_index.ensure_vin_keys(unproven)
    places = vin_index.places(unproven)
    index = VinIndex()
    vin_rows = []
    for vin, entry_indexes in vins.items():
        key, proof = known[vin] if vin in known else (places[vin].key, places[vin].vrf_proof)
        encoded = b"".join(entry_index.to_bytes(8, "big") for entry_index in entry_indexes)
        index.add_encoded(key, encoded)
        if vin in known:
            vin_rows.append((vin, key, proof, encoded))
        else:
            VinKey.objects.filter(vin=vin).update(indexes=encoded)
    _check_map(size, index.root(), last_vin_index)
    _insert_rows(VinKey, VIN_KEY_COLUMNS, vin_rows)
    node_rows = [
        (node_id.to_bytes(), node.hash, node.key, node.index_hash)
        if isinstance(node, Leaf)
        else (node_id.to_bytes(), node.hash, None, None)
        for node_id, node in index.nodes().items()
    ]
    _insert_rows(VinIndexNode, VIN_INDEX_NODE_COLUMNS, node_rows)


def _check_map(size: int, root: bytes, last_vin_index: tuple[int, dict] | None) -> None:
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


def _flush(entry_rows: list[tuple], subtree_rows: list[tuple]) -> None:
    _insert_rows(Entry, ENTRY_COLUMNS, entry_rows)
    _insert_rows(Subtree, SUBTREE_COLUMNS, subtree_rows)
    entry_rows.clear()
    subtree_rows.clear()


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

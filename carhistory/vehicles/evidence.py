"""The evidence bundle of one VIN (SPEC §6): everything a buyer needs to check the report with no
trust in carhistory and no network, using `carhistory-verify`.

It holds the latest signed checkpoint, the log's key, each of the VIN's entries with its
inclusion proof against that checkpoint, in `source_keys` every `source_key` and
`source_status` entry (with proofs) about the sources behind those entries, so the verifier
can tell that a key was in the log before the entries it signed, was still the source's key
then (not rotated out), and that the source had not been revoked, and the VIN index proof
(SPEC §7) that these are all of the VIN's entries.

The map's stored nodes are the latest map's only, so the checkpoint, the entries and the map
proof are read in one REPEATABLE READ snapshot: a batch the sequencer commits meanwhile is
either wholly visible or not at all, and the bundle always verifies.
"""

import contextlib
import json
from collections.abc import Iterator

from carhistory_verifier import protocol
from carhistory_verifier.entry import b64encode
from django.db import connection, transaction

from ledger.selectors import (
    Checkpoint,
    VinHistory,
    inclusion_proofs,
    last_entry_inclusion_proof,
    latest_checkpoint,
    log_verifier_key,
    platform_entries,
    served_checkpoint_text,
    vin_history,
)
from ledger.services import ensure_checkpoint

FORMAT = protocol.BUNDLE_FORMAT
SOURCE_KEY = protocol.SOURCE_KEY
SOURCE_STATUS = protocol.SOURCE_STATUS
PLATFORM = protocol.PLATFORM_SOURCE


def build_evidence_bundle(*, vin: str, checkpoint: Checkpoint | None = None) -> dict:
    """The SPEC §6 bundle for a valid, normalised `vin`, proven against the latest checkpoint.

    `checkpoint` is the one the caller saw; when the sequencer has signed a newer one since,
    the bundle is proven against the newer one, since the map proof exists only for the
    latest. A VIN with no entries gets a bundle with no entries and its proof of absence.

    It reads a fixed handful of rows whatever the VIN's history holds: the checkpoint; the
    VIN's entries, the checkpoint's last entry, the VIN's map key and its map path in one
    statement; the cosignatures; the sources' key entries; and every inclusion proof's
    subtrees in one query (the last entry's once per checkpoint).
    """
    if checkpoint is None and latest_checkpoint() is None:
        ensure_checkpoint()
    with _one_snapshot():
        return _build(vin, latest_checkpoint())


@contextlib.contextmanager
def _one_snapshot() -> Iterator[None]:
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        # SQLite serialises transactions already; inside an outer transaction (a test, a
        # request in ATOMIC_REQUESTS) the snapshot is the outer one's to choose.
        with transaction.atomic():
            yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def _build(vin: str, checkpoint: Checkpoint) -> dict:
    history = vin_history(vin, checkpoint, with_map_proof=True)
    entries = {row.index: json.loads(bytes(row.data)) for row in history.entries}
    sources = {entry.get("source") for entry in entries.values()} - {PLATFORM, None}
    source_history = _source_history_entries(sources, checkpoint.tree_size)
    # Every inclusion proof of the bundle from one read of the stored subtrees.
    proofs = inclusion_proofs(indexes=[*entries, *source_history], checkpoint=checkpoint)
    return {
        "format": FORMAT,
        "vin": vin,
        # With the cosignatures the log holds for it now (SPEC §8), for a buyer's quorum.
        "checkpoint": served_checkpoint_text(checkpoint),
        "log_key": log_verifier_key(),
        "entries": [_proven(index, entry, proofs) for index, entry in entries.items()],
        "source_keys": [_proven(index, entry, proofs) for index, entry in source_history.items()],
        "vin_index": _vin_index_section(history, checkpoint),
    }


def _vin_index_section(history: VinHistory, checkpoint: Checkpoint) -> dict | None:
    """SPEC §7's proof that `history` holds all the VIN's entries: the checkpoint's last
    entry (its `vin_index` entry) proven, beside the VIN's proof in the map that entry commits
    to; None for a checkpoint from before the index."""
    if history.map_proof is None:
        return None
    index_entry = history.last_entry
    vrf_proof, proof = history.map_proof
    leaf = proof.leaf
    return {
        "index": index_entry.index,
        "entry": json.loads(bytes(index_entry.data)),
        "inclusion_proof": [b64encode(h) for h in last_entry_inclusion_proof(checkpoint)],
        "vrf_proof": b64encode(vrf_proof),
        "siblings": [b64encode(sibling) for sibling in proof.siblings],
        "leaf": None
        if leaf is None
        else {"key": b64encode(leaf.key), "index_hash": b64encode(leaf.index_hash)},
    }


def _proven(index: int, entry: dict, proofs: dict[int, list[bytes]]) -> dict:
    return {
        "index": index,
        "entry": entry,
        "inclusion_proof": [b64encode(h) for h in proofs[index]],
    }


def _source_history_entries(sources: set[str], tree_size: int) -> dict[int, dict]:
    """Every `source_key` and `source_status` entry about `sources`, by index: the keys each
    source had and when, and whether it was revoked. The log key needs no source_key entry
    (SPEC §2): the bundle carries it as `log_key`."""
    if not sources:
        return {}
    found: dict[int, dict] = {}
    for index, data in platform_entries(types=(SOURCE_KEY, SOURCE_STATUS), below=tree_size):
        entry = json.loads(data)
        if entry.get("facts", {}).get("source") in sources:
            found[index] = entry
    return found

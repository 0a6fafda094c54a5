"""The evidence bundle of one VIN (SPEC §6): everything a buyer needs to check the report with no
trust in carhistory and no network, using `carhistory-verify`.

It holds the latest signed checkpoint, the log's key, each of the VIN's entries with its
inclusion proof against that checkpoint, and in `source_keys` every `source_key` and
`source_status` entry (with proofs) about the sources behind those entries, so the verifier
can tell that a key was in the log before the entries it signed, was still the source's key
then (not rotated out), and that the source had not been revoked.
"""

import json

from carhistory_verifier import protocol
from carhistory_verifier.entry import b64encode

from ledger.selectors import (
    Checkpoint,
    entries_for_vin,
    inclusion_proof,
    latest_checkpoint,
    log_verifier_key,
    platform_entries,
    served_checkpoint_text,
)
from ledger.services import ensure_checkpoint

FORMAT = protocol.BUNDLE_FORMAT
SOURCE_KEY = protocol.SOURCE_KEY
SOURCE_STATUS = protocol.SOURCE_STATUS
PLATFORM = protocol.PLATFORM_SOURCE


def build_evidence_bundle(*, vin: str, checkpoint: Checkpoint | None = None) -> dict:
    """The SPEC §6 bundle for a valid, normalised `vin`, proven against `checkpoint` (the
    latest one when not given). A VIN with no entries gets a bundle with no entries."""
    checkpoint = checkpoint or latest_checkpoint() or ensure_checkpoint()
    tree_size = checkpoint.tree_size
    entries = {
        row.index: json.loads(bytes(row.data))
        for row in entries_for_vin(vin)
        if row.index < tree_size
    }
    log_key = log_verifier_key()
    sources = {entry.get("source") for entry in entries.values()} - {PLATFORM, None}
    return {
        "format": FORMAT,
        "vin": vin,
        # With the cosignatures the log holds for it now (SPEC §8), for a buyer's quorum.
        "checkpoint": served_checkpoint_text(checkpoint),
        "log_key": log_key,
        "entries": [_proven(index, entry, tree_size) for index, entry in entries.items()],
        "source_keys": [
            _proven(index, entry, tree_size)
            for index, entry in _source_history_entries(sources, tree_size).items()
        ],
    }


def _proven(index: int, entry: dict, tree_size: int) -> dict:
    proof = inclusion_proof(index=index, tree_size=tree_size)
    return {"index": index, "entry": entry, "inclusion_proof": [b64encode(h) for h in proof]}


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

"""The evidence bundle of one VIN (SPEC §6): everything a buyer needs to check the report with no
trust in carhistory and no network, using `carhistory-verify`.

It holds the latest signed checkpoint, the log's key, each of the VIN's entries with its
inclusion proof against that checkpoint, and the `source_key` entries (with proofs) that
introduced every source key that signed one of them, so the verifier can tell that the key
was in the log before the entries it signed.
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
)
from ledger.services import ensure_checkpoint

FORMAT = protocol.BUNDLE_FORMAT
SOURCE_KEY = protocol.SOURCE_KEY


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
    # The log key needs no source_key entry (SPEC §2): the bundle carries it as `log_key`.
    keys = {entry.get("source_key") for entry in entries.values()} - {log_key, None}
    return {
        "format": FORMAT,
        "vin": vin,
        "checkpoint": checkpoint.note,
        "log_key": log_key,
        "entries": [_proven(index, entry, tree_size) for index, entry in entries.items()],
        "source_keys": [
            _proven(index, entry, tree_size)
            for index, entry in _source_key_entries(keys, tree_size).items()
        ],
    }


def _proven(index: int, entry: dict, tree_size: int) -> dict:
    proof = inclusion_proof(index=index, tree_size=tree_size)
    return {"index": index, "entry": entry, "inclusion_proof": [b64encode(h) for h in proof]}


def _source_key_entries(keys: set[str], tree_size: int) -> dict[int, dict]:
    """The first `source_key` entry that logged each of `keys`, by index."""
    if not keys:
        return {}
    found: dict[str, tuple[int, dict]] = {}
    for index, data in platform_entries(type=SOURCE_KEY, below=tree_size):
        entry = json.loads(data)
        key = entry.get("facts", {}).get("key")
        if key in keys and key not in found:
            found[key] = (index, entry)
    return dict(sorted(found.values(), key=lambda pair: pair[0]))

"""The evidence bundle of one VIN (SPEC §6): everything a buyer needs to check the report with no
trust in carhistory and no network, using `carhistory-verify`.

It holds the latest signed checkpoint, the log's key, each of the VIN's entries with its
inclusion proof against that checkpoint, the `source_key` entries (with proofs) that
introduced every source key that signed one of them, so the verifier can tell that the key
was in the log before the entries it signed, and the VIN index proof (SPEC §7) that these are
all of the VIN's entries.

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

from ledger import vin_index
from ledger.keys import log_verifier_key
from ledger.models import Checkpoint, Entry
from ledger.selectors import entries_for_vin, inclusion_proof, latest_checkpoint
from ledger.services import ensure_checkpoint

FORMAT = protocol.BUNDLE_FORMAT
SOURCE_KEY = protocol.SOURCE_KEY
PLATFORM = protocol.PLATFORM_SOURCE


def build_evidence_bundle(*, vin: str, checkpoint: Checkpoint | None = None) -> dict:
    """The SPEC §6 bundle for a valid, normalised `vin`, proven against the latest checkpoint.

    `checkpoint` is the one the caller saw; when the sequencer has signed a newer one since,
    the bundle is proven against the newer one, since the map proof exists only for the
    latest. A VIN with no entries gets a bundle with no entries and its proof of absence.
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
        "vin_index": _vin_index_proof(vin, tree_size),
    }


def _vin_index_proof(vin: str, tree_size: int) -> dict | None:
    """SPEC §7's proof for `vin` against the checkpoint of `tree_size`, whose last entry is the
    `vin_index` entry; None for a checkpoint from before the VIN index."""
    last = Entry.objects.filter(index=tree_size - 1).values_list("type", "data").first()
    if last is None or last[0] != protocol.VIN_INDEX:
        return None
    place, proof = vin_index.proof_for(vin)
    leaf = proof.leaf
    return {
        **_proven(tree_size - 1, json.loads(bytes(last[1])), tree_size),
        "vrf_proof": b64encode(place.vrf_proof),
        "siblings": [b64encode(sibling) for sibling in proof.siblings],
        "leaf": None
        if leaf is None
        else {"key": b64encode(leaf.key), "index_hash": b64encode(leaf.index_hash)},
    }


def _proven(index: int, entry: dict, tree_size: int) -> dict:
    proof = inclusion_proof(index=index, tree_size=tree_size)
    return {"index": index, "entry": entry, "inclusion_proof": [b64encode(h) for h in proof]}


def _source_key_entries(keys: set[str], tree_size: int) -> dict[int, dict]:
    """The first `source_key` entry that logged each of `keys`, by index."""
    if not keys:
        return {}
    found: dict[str, tuple[int, dict]] = {}
    # `source` is indexed and only the platform writes source_key entries.
    rows = Entry.objects.filter(source=PLATFORM, type=SOURCE_KEY, index__lt=tree_size)
    for index, data in rows.order_by("index").values_list("index", "data").iterator():
        entry = json.loads(bytes(data))
        key = entry.get("facts", {}).get("key")
        if key in keys and key not in found:
            found[key] = (index, entry)
    return dict(sorted(found.values(), key=lambda pair: pair[0]))

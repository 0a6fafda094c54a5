"""A mirror run against a log that forges a VIN's VRF proof (to choose that VIN's place in the
map). The mirror reads map keys from proofs before their checks end, so these pin down that it
still names the forged proof, before the wrong map it makes and across an interruption."""

import json

import pytest
from carhistory_verifier import merkle, note, vrf
from carhistory_verifier.entry import b64encode
from carhistory_verifier.mirror import sync as mirror_sync
from carhistory_verifier.mirror.client import LogUnreachable
from carhistory_verifier.mirror.store import MirrorStore
from carhistory_verifier.vin_index import VinIndex

ORIGIN = "carhistory.localhost/log"
VINS = ["LSVAU2180N2183294", "LFV2A21K3J3041877", "LVSHFFAL9H5226410"]
FORGED, BORROWED = VINS[0], VINS[1]


class ListLog:
    """A log held in a list, served as the mirror API serves it. `keys` are the map keys its
    `vin_index` entries commit to, `proofs` the VRF proofs it serves; entries from
    `unreachable_from` on cannot be fetched (the connection drops)."""

    def __init__(self, vrf_key: vrf.VrfKey, proofs: dict[str, bytes], keys: dict[str, bytes]):
        self.signer = note.Signer.generate(ORIGIN)
        self.vrf_public_key = vrf_key.public_key
        self.proofs = proofs
        self.unreachable_from: int | None = None
        self.cosigned: list[str] = []
        self.log: list[bytes] = []
        index = VinIndex()
        # 300 entries, so that two ranges of 256 are fetched, then the entry committing to
        # the map of all of them.
        for number in range(300):
            vin = VINS[number % 3]
            index.add(keys[vin], len(self.log))
            self.log.append(json.dumps({"type": "service", "vin": vin}).encode())
        facts = {
            "size": len(self.log),
            "root": b64encode(index.root()),
            "vrf_key": b64encode(vrf_key.public_key),
        }
        self.log.append(json.dumps({"type": "vin_index", "facts": facts}).encode())

    def _leaf_hashes(self) -> list[bytes]:
        return [merkle.leaf_hash(data) for data in self.log]

    def checkpoint(self) -> str:
        root = merkle.root_from_leaf_hashes(self._leaf_hashes())
        return note.sign_checkpoint(note.Checkpoint(ORIGIN, len(self.log), root), self.signer)

    def consistency_proof(self, *, first: int, second: int) -> list[bytes]:
        return merkle.consistency_proof(first, self._leaf_hashes()[:second])

    def entries(self, start: int, end: int) -> list[bytes]:
        if self.unreachable_from is not None and end > self.unreachable_from:
            raise LogUnreachable("the connection dropped")
        return self.log[start:end]

    def vrf_key(self) -> bytes:
        return self.vrf_public_key

    def vrf_proofs(self, vins: list[str]) -> dict[str, bytes]:
        return {vin: self.proofs[vin] for vin in vins if vin in self.proofs}

    def submit_cosignature(self, cosigned_note: str) -> None:
        self.cosigned.append(cosigned_note)


@pytest.fixture(scope="module")
def proofs(vrf_key):
    return {vin: vrf.prove(vrf_key, vin.encode()) for vin in VINS}


@pytest.fixture(autouse=True)
def small_ranges(monkeypatch):
    monkeypatch.setattr(mirror_sync, "RANGE_ENTRIES", 256)
    monkeypatch.setattr(mirror_sync, "COMMIT_EVERY", 256)


def key_of(proof: bytes) -> bytes:
    return vrf.proof_to_hash(proof)[:32]


def run(log: ListLog, store: MirrorStore) -> mirror_sync.SyncResult:
    return mirror_sync.sync(
        client=log,
        store=store,
        log_key=log.signer.verifier(),
        mirror_key=note.CosignatureSigner.generate("registry.example/mirror"),
        timestamp=lambda: 1_700_000_000,
    )


def test_an_honest_log_interrupted_resumes_and_is_cosigned(tmp_path, vrf_key, proofs):
    log = ListLog(vrf_key, proofs, {vin: key_of(proof) for vin, proof in proofs.items()})
    store = MirrorStore(tmp_path / "m.sqlite3", log.signer.verifier())
    log.unreachable_from = 256
    with pytest.raises(LogUnreachable):
        run(log, store)
    assert store.size == 256
    log.unreachable_from = None
    result = run(log, store)
    assert (result.resumed_at, result.fetched) == (256, 45)
    assert len(log.cosigned) == 1


def test_a_forged_proof_is_named_before_the_wrong_map_it_makes(tmp_path, vrf_key, proofs):
    # The log's map is honest, but it serves another VIN's proof: the map the mirror computes
    # differs at the vin_index entry, and the proof is the first problem.
    log = ListLog(vrf_key, proofs, {vin: key_of(proof) for vin, proof in proofs.items()})
    log.proofs = {**proofs, FORGED: proofs[BORROWED]}
    store = MirrorStore(tmp_path / "m.sqlite3", log.signer.verifier())
    with pytest.raises(mirror_sync.MirrorRefused, match=f"VRF proof the log sent for VIN {FORGED}"):
        run(log, store)
    assert log.cosigned == []
    assert store.size == 0


def test_a_forged_proof_stored_before_an_interruption_is_checked_on_resume(
    tmp_path, vrf_key, proofs
):
    # The log chose FORGED's map key and commits to the map with it, so only the VRF check
    # stands between it and a cosignature. The first run stores the proof, then loses the
    # connection before that check ended; the resumed run must not take the stored key on trust.
    forged = {**proofs, FORGED: proofs[BORROWED]}
    log = ListLog(vrf_key, forged, {vin: key_of(proof) for vin, proof in forged.items()})
    store = MirrorStore(tmp_path / "m.sqlite3", log.signer.verifier())
    log.unreachable_from = 256
    with pytest.raises(LogUnreachable):
        run(log, store)
    assert {vin: proof for vin, _key, proof, _indexes in store.vin_rows()} == forged
    log.unreachable_from = None
    with pytest.raises(mirror_sync.MirrorRefused, match=f"VRF proof the log sent for VIN {FORGED}"):
        run(log, store)
    assert log.cosigned == []
    assert store.latest_checkpoint() is None

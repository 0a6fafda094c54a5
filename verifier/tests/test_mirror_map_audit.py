"""The mirror's recomputation of the VIN index (SPEC §7) over a log written here, honest and
with the map tampered: a hidden entry, an invented one, a wrong size, a foreign VRF key."""

import json

import pytest
from carhistory_verifier import vrf
from carhistory_verifier.entry import b64encode
from carhistory_verifier.mirror.map_audit import MapAudit, MapRefused
from carhistory_verifier.vin_index import VinIndex

VINS = ["LSVAU2180N2183294", "LFV2A21K3J3041877", "LVSHFFAL9H5226410"]


@pytest.fixture(scope="module")
def vrf_key():
    return vrf.VrfKey.generate()


@pytest.fixture(scope="module")
def proofs(vrf_key):
    return {vin: vrf.prove(vrf_key, vin.encode()) for vin in VINS}


def entry(vin: str) -> bytes:
    return json.dumps({"type": "service", "vin": vin}, separators=(",", ":")).encode()


def vin_index_entry(size: int, root: bytes, vrf_public_key: bytes) -> bytes:
    facts = {"size": size, "root": b64encode(root), "vrf_key": b64encode(vrf_public_key)}
    return json.dumps({"type": "vin_index", "facts": facts}, separators=(",", ":")).encode()


def honest_log(vrf_key, proofs, *, hide: int | None = None) -> list[bytes]:
    """Ten service entries over three VINs with a vin_index entry after every fifth; the log
    leaves entry `hide` out of its map when asked to."""
    log: list[bytes] = []
    index = VinIndex()
    for number in range(10):
        vin = VINS[number % 3]
        if number != hide:
            index.add(vrf.proof_to_hash(proofs[vin])[:32], len(log))
        log.append(entry(vin))
        if number % 5 == 4:
            log.append(vin_index_entry(len(log), index.root(), vrf_key.public_key))
    return log


def audit_all(audit: MapAudit, log: list[bytes]) -> None:
    for position, data in enumerate(log):
        audit.observe(position, data)


def test_an_honest_map_is_recomputed_exactly(vrf_key, proofs):
    audit = MapAudit(vrf_key=vrf_key.public_key, known={})
    audit.learn_keys(proofs)
    audit_all(audit, honest_log(vrf_key, proofs))
    assert set(audit.take_changes()) == set(VINS)


def test_a_map_hiding_an_entry_is_refused_at_the_next_vin_index_entry(vrf_key, proofs):
    audit = MapAudit(vrf_key=vrf_key.public_key, known={})
    audit.learn_keys(proofs)
    with pytest.raises(MapRefused, match="wrong map at index 11: the vin_index entry commits"):
        audit_all(audit, honest_log(vrf_key, proofs, hide=7))


def test_the_audit_resumes_from_what_the_store_kept(vrf_key, proofs):
    log = honest_log(vrf_key, proofs)
    first = MapAudit(vrf_key=vrf_key.public_key, known={})
    first.learn_keys(proofs)
    audit_all(first, log[:8])
    kept = first.take_changes()
    resumed = MapAudit(vrf_key=vrf_key.public_key, known=kept)
    for position in range(8, len(log)):
        resumed.observe(position, log[position])


def test_a_wrong_size_or_vrf_key_is_refused(vrf_key, proofs):
    audit = MapAudit(vrf_key=vrf_key.public_key, known={})
    audit.learn_keys(proofs)
    with pytest.raises(MapRefused, match="wrong map at index 0: the vin_index entry's size"):
        audit.observe(0, vin_index_entry(3, bytes(32), vrf_key.public_key))
    other = vrf.VrfKey.generate()
    with pytest.raises(MapRefused, match=r"wrong map at index 0: .* another VRF key"):
        audit.observe(0, vin_index_entry(0, bytes(32), other.public_key))


def test_a_vrf_proof_under_another_key_is_refused(vrf_key, proofs):
    other = vrf.VrfKey.generate()
    audit = MapAudit(vrf_key=other.public_key, known={})
    with pytest.raises(MapRefused, match=r"VRF proof .* does not verify"):
        audit.learn_keys(proofs)


def test_an_entry_whose_vin_has_no_proof_is_refused(vrf_key):
    audit = MapAudit(vrf_key=vrf_key.public_key, known={})
    with pytest.raises(MapRefused, match="no VRF proof for the VIN of entry 0"):
        audit.observe(0, entry(VINS[0]))

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
    audit = MapAudit(vrf_key=vrf_key.public_key)
    audit.learn_keys(proofs)
    audit_all(audit, honest_log(vrf_key, proofs))
    assert set(audit.take_changes()) == set(VINS)


def test_a_map_hiding_an_entry_is_refused_at_the_next_vin_index_entry(vrf_key, proofs):
    audit = MapAudit(vrf_key=vrf_key.public_key)
    audit.learn_keys(proofs)
    with pytest.raises(MapRefused, match="wrong map at index 11: the vin_index entry commits"):
        audit_all(audit, honest_log(vrf_key, proofs, hide=7))


def test_the_audit_resumes_from_what_the_store_kept(vrf_key, proofs):
    log = honest_log(vrf_key, proofs)
    first = MapAudit(vrf_key=vrf_key.public_key)
    first.learn_keys(proofs)
    audit_all(first, log[:8])
    kept = [
        (vin, key, proof, b"".join(index.to_bytes(8, "big") for index in indexes))
        for vin, (key, proof, indexes) in first.take_changes().items()
    ]
    resumed = MapAudit(vrf_key=vrf_key.public_key, known=kept)
    for position in range(8, len(log)):
        resumed.observe(position, log[position])


def test_a_wrong_size_or_vrf_key_is_refused(vrf_key, proofs):
    audit = MapAudit(vrf_key=vrf_key.public_key)
    audit.learn_keys(proofs)
    with pytest.raises(MapRefused, match="wrong map at index 0: the vin_index entry's size"):
        audit.observe(0, vin_index_entry(3, bytes(32), vrf_key.public_key))
    other = vrf.VrfKey.generate()
    with pytest.raises(MapRefused, match=r"wrong map at index 0: .* another VRF key"):
        audit.observe(0, vin_index_entry(0, bytes(32), other.public_key))


def test_a_vrf_proof_under_another_key_is_refused(vrf_key, proofs):
    other = vrf.VrfKey.generate()
    audit = MapAudit(vrf_key=other.public_key)
    with pytest.raises(MapRefused, match=r"VRF proof .* does not verify"):
        audit.learn_keys(proofs)


def test_an_entry_whose_vin_has_no_proof_is_refused(vrf_key):
    audit = MapAudit(vrf_key=vrf_key.public_key)
    with pytest.raises(MapRefused, match="no VRF proof for the VIN of entry 0"):
        audit.observe(0, entry(VINS[0]))


def many_vins(count: int) -> list[str]:
    return [f"LSVAU2180N{number:07d}" for number in range(count)]


def test_keys_of_many_new_vins_are_verified_in_worker_processes(vrf_key):
    from carhistory_verifier.mirror import map_audit

    # The second range brings enough new VINs for the worker processes.
    vins = many_vins(300 + map_audit.PARALLEL_FROM)
    proofs = {vin: vrf.prove(vrf_key, vin.encode()) for vin in vins}
    asked: list[list[str]] = []

    def fetch(wanted):
        asked.append(wanted)
        return {vin: proofs[vin] for vin in wanted}

    learner = map_audit.KeyLearner(vrf_key=vrf_key.public_key, known=vins[:5], fetch=fetch)
    try:
        first = learner.keys_for([*vins[:300], None])
        second = learner.keys_for(vins)
        # Each VIN is asked for once, by the first range that brings it, and a VIN the
        # store already knew is not asked for at all.
        assert asked == [vins[5:300], vins[300:]]
        # The audit takes each range's keys in order, and each batch's keys once: the
        # second range hands over only the VINs it asked for.
        first_keys = first.result()
        second_keys = second.result()
        assert learner._pool is not None
        assert set(first_keys) == set(vins[5:300])
        assert set(second_keys) == set(vins[300:])
        keys = {**first_keys, **second_keys}
        for vin in vins[5:]:
            assert keys[vin] == (vrf.proof_to_hash(proofs[vin])[:32], proofs[vin])
        assert first.result() == {}
    finally:
        learner.close()


def test_a_forged_proof_among_many_is_refused_naming_its_vin(vrf_key):
    from carhistory_verifier.mirror import map_audit

    vins = many_vins(map_audit.PARALLEL_FROM + 10)
    proofs = {vin: vrf.prove(vrf_key, vin.encode()) for vin in vins}
    # The log answers for one VIN with another VIN's proof: a map key it can choose.
    proofs[vins[400]] = proofs[vins[401]]
    learner = map_audit.KeyLearner(
        vrf_key=vrf_key.public_key, known=[], fetch=lambda wanted: proofs
    )
    try:
        # The key is read from the proof at once, so that the audit goes on; the check that
        # refuses the proof ends in `confirm`, which the mirror passes before it cosigns.
        keys = learner.keys_for(vins).result()
        assert keys[vins[400]][0] == vrf.proof_to_hash(proofs[vins[401]])[:32]
        with pytest.raises(MapRefused, match=f"VRF proof the log sent for VIN {vins[400]}"):
            learner.confirm()
    finally:
        learner.close()


def test_entries_are_read_as_json_loads_reads_them():
    from carhistory_verifier.mirror.map_audit import read_entries

    vin = VINS[0]
    entries = [
        entry(vin),
        # A nested "vin" is not the entry's; a later duplicate member wins, as in json.loads.
        json.dumps({"type": "service", "data": {"vin": vin}}).encode(),
        b'{"vin":"' + VINS[1].encode() + b'","vin":"' + VINS[2].encode() + b'"}',
        # Bytes json.loads reads as UTF-16 (the second byte is NUL), and a UTF-8 BOM.
        json.dumps({"vin": vin}).encode("utf-16-le"),
        b"\xef\xbb\xbf" + entry(vin),
        b'{"vin":7}',
        vin_index_entry(6, bytes(32), bytes(32)),
    ]
    read = read_entries(10, entries)
    assert read.vins == [vin, None, VINS[2], vin, vin, None, None]
    assert list(read.vin_index_facts) == [16]
    assert read.since(13).vins == read.vins[3:]
    assert list(read.since(13).vin_index_facts) == [16]


@pytest.mark.parametrize(
    # The last, 60 KB, fits in an entry; json.loads raises RecursionError on it.
    "data",
    [b"{", b"[1]", b'"vin"', b"{\xff}", b"", b"[" * 30_000 + b"]" * 30_000],
)
def test_an_entry_that_is_no_json_object_is_refused_not_a_crash(data):
    from carhistory_verifier.mirror.map_audit import read_entries

    with pytest.raises(MapRefused, match=r"entry 4 is not (JSON|a JSON object)"):
        read_entries(3, [entry(VINS[0]), data])

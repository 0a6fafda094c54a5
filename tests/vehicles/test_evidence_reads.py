"""An evidence bundle is built from a fixed handful of reads, whatever the VIN's history or
the log's size, and it is exactly the bundle the whole log, recomputed in memory, gives: the
same entries, source keys, inclusion proofs and VIN index proof, byte for byte."""

import json

import pytest
from carhistory_verifier import merkle, protocol, vrf
from carhistory_verifier.entry import b64encode
from carhistory_verifier.vin_index import VinIndex
from django.db import connection
from django.test.utils import CaptureQueriesContext

from carhistory.vehicles.evidence import build_evidence_bundle
from ledger import keys
from ledger.models import Entry
from ledger.selectors import latest_checkpoint, served_checkpoint_text
from tests.vehicles.logbook import OTHER_VIN, VIN

pytestmark = pytest.mark.django_db

NEVER_LOGGED = "LVSHFFAL9H5226410"
# SPEC §6: the fields of a bundle and of its `vin_index`, in the order the server writes them.
BUNDLE_KEYS = ["format", "vin", "checkpoint", "log_key", "entries", "source_keys", "vin_index"]


@pytest.fixture
def long_history(logbook):
    """Three sources (one signed for by the platform, one rotating its key, one revoked
    later), another car in between, corrections: every kind of row a bundle gathers."""
    dealer = logbook.source("sh-anting-vw-4s")
    insurer = logbook.source("donghai-insurance", kind="insurer")
    registry = logbook.source("sh-vehicle-registry", kind="registry", own_key=False)
    logbook.event(registry, "registration", "2014-04-01", event="first_registration",
                  region="SH", use="private")  # fmt: skip
    for year in range(2015, 2027):
        logbook.event(dealer, "service", f"{year}-05-01", odometer_km=(year - 2014) * 9000,
                      items=["oil"])  # fmt: skip
        logbook.event(dealer, "odometer", f"{year}-06-01", vin=OTHER_VIN, odometer_km=year)
        if year == 2020:
            logbook.rotate_key(dealer)
            accident = logbook.event(insurer, "accident", "2020-08-01", severity="minor",
                                     airbags_deployed=False)  # fmt: skip
            logbook.correct(accident, severity="moderate")
    logbook.set_status(insurer, "revoked")
    return logbook


def reads_of(vin: str) -> int:
    checkpoint = latest_checkpoint()
    with CaptureQueriesContext(connection) as reads:
        build_evidence_bundle(vin=vin, checkpoint=checkpoint)
    return len(reads.captured_queries)


def steady_reads_of(vin: str) -> int:
    """`reads_of` once the connection has prepared its statement and the checkpoint's last
    entry has been proven (once each per connection and per checkpoint)."""
    reads_of(NEVER_LOGGED)
    return reads_of(vin)


def test_a_bundle_takes_the_same_few_reads_whatever_the_history(logbook):
    dealer = logbook.source("sh-anting-vw-4s")
    logbook.event(dealer, "service", "2019-05-01", odometer_km=100, items=["oil"])
    first = reads_of(VIN)
    one_entry = steady_reads_of(VIN)
    insurer = logbook.source("donghai-insurance", kind="insurer")
    for day in range(1, 29):
        logbook.event(dealer, "odometer", f"2020-02-{day:02d}", odometer_km=day * 100,
                      integrate=False)  # fmt: skip
        logbook.event(insurer, "insurance_claim", f"2020-03-{day:02d}", claim_kind="glass",
                      total_loss=False, integrate=False)  # fmt: skip
        logbook.event(dealer, "odometer", "2020-01-01", vin=OTHER_VIN, integrate=False)
    logbook.rotate_key(dealer)
    logbook.event(dealer, "odometer", "2021-01-01", odometer_km=9000)
    # The snapshot's savepoint and release, the checkpoint, one statement for the VIN's
    # entries, the checkpoint's last entry, the VIN's map key and its path in the map, the
    # sources' key entries, the subtrees of every inclusion proof, the cosignatures (the last
    # entry's own inclusion proof is read once per checkpoint).
    assert one_entry <= 7
    # The first bundle on a connection prepares the statement and proves the last entry.
    assert first <= one_entry + 2
    assert steady_reads_of(VIN) == one_entry
    assert steady_reads_of(NEVER_LOGGED) <= one_entry


def test_the_bundle_is_the_one_the_whole_log_gives_in_memory(long_history):
    for vin in (VIN, OTHER_VIN, NEVER_LOGGED):
        built = build_evidence_bundle(vin=vin)
        assert list(built) == BUNDLE_KEYS
        assert json.dumps(built) == json.dumps(reference_bundle(vin)), vin


def reference_bundle(vin: str) -> dict:
    """The SPEC §6 bundle of `vin` from every entry of the log, hashed and proven here from
    scratch with the verifier's own functions, without one stored hash or map node."""
    checkpoint = latest_checkpoint()
    size = checkpoint.tree_size
    rows = list(Entry.objects.filter(index__lt=size).order_by("index"))
    entries = [json.loads(bytes(row.data)) for row in rows]
    leaves = [merkle.leaf_hash(bytes(row.data)) for row in rows]

    def proven(index: int) -> dict:
        proof = merkle.inclusion_proof(index, leaves)
        return {
            "index": index,
            "entry": entries[index],
            "inclusion_proof": [b64encode(node) for node in proof],
        }

    mine = [index for index, entry in enumerate(entries) if entry.get("vin") == vin]
    sources = {entries[index]["source"] for index in mine} - {protocol.PLATFORM_SOURCE}
    source_keys = [
        index
        for index, entry in enumerate(entries)
        if entry["type"] in (protocol.SOURCE_KEY, protocol.SOURCE_STATUS)
        and entry["facts"].get("source") in sources
    ]
    return {
        "format": protocol.BUNDLE_FORMAT,
        "vin": vin,
        "checkpoint": served_checkpoint_text(checkpoint),
        "log_key": keys.log_verifier_key(),
        "entries": [proven(index) for index in mine],
        "source_keys": [proven(index) for index in source_keys],
        "vin_index": {**proven(size - 1), **reference_map_proof(vin, entries[: size - 1])},
    }


def reference_map_proof(vin: str, entries: list[dict]) -> dict:
    """SPEC §7's map over `entries`, keyed by VRF outputs computed again from the VRF key."""

    def vrf_proof(of: str) -> bytes:
        return vrf.prove(keys.vrf_key(), of.encode("ascii"))

    def key(of: str) -> bytes:
        return vrf.proof_to_hash(vrf_proof(of))[:32]

    index = VinIndex()
    for position, entry in enumerate(entries):
        if entry.get("vin"):
            index.add(key(entry["vin"]), position)
    proof = index.prove(key(vin))
    leaf = proof.leaf
    return {
        "vrf_proof": b64encode(vrf_proof(vin)),
        "siblings": [b64encode(sibling) for sibling in proof.siblings],
        "leaf": None
        if leaf is None
        else {"key": b64encode(leaf.key), "index_hash": b64encode(leaf.index_hash)},
    }

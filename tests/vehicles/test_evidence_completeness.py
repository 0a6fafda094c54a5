"""The evidence bundle proves that it holds every entry of its VIN (SPEC §6, §7)."""

import copy
import threading

import pytest
from carhistory_verifier.verify import VerificationFailure, verify_bundle
from django.db import connection

from carhistory.vehicles.evidence import build_evidence_bundle
from ledger import selectors, services
from ledger.keys import log_verifier_key
from tests.ledger.factories import EntryFactory
from tests.vehicles.logbook import OTHER_VIN, VIN

EVIDENCE = f"/api/v1/vehicles/{VIN}/evidence"


@pytest.fixture
def history(logbook):
    dealer = logbook.source("sh-anting-vw-4s")
    insurer = logbook.source("donghai-insurance", kind="insurer")
    first = logbook.event(dealer, "service", "2019-05-01", odometer_km=45210, items=["oil"])
    logbook.event(insurer, "accident", "2020-01-01", severity="minor", airbags_deployed=False)
    logbook.event(dealer, "odometer", "2020-05-01", vin=OTHER_VIN, odometer_km=1)
    logbook.correct(first, odometer_km=45201)
    # The insurer's entries stay in the bundle after it is revoked: the index covers them.
    logbook.set_status(insurer, "revoked")
    return logbook


@pytest.mark.django_db
def test_the_bundle_holds_every_entry_of_the_vin_and_proves_it(client, history):
    bundle = client.get(EVIDENCE).json()
    summary = verify_bundle(bundle, log_key=log_verifier_key())
    types = [item["entry"]["type"] for item in bundle["entries"]]
    assert types == ["service", "accident", "correction"]
    assert summary.complete_as_of == selectors.tree_size() - 1
    assert bundle["vin_index"]["index"] == selectors.tree_size() - 1


@pytest.mark.django_db
def test_a_vin_with_no_entries_gets_200_and_a_proof_of_absence(client, history):
    response = client.get("/api/v1/vehicles/LVSHFFAL9H5226410/evidence")
    assert response.status_code == 200
    bundle = response.json()
    assert bundle["entries"] == []
    summary = verify_bundle(bundle, log_key=log_verifier_key())
    assert summary.complete_as_of == selectors.tree_size() - 1


@pytest.mark.django_db
def test_a_dropped_entry_loses_the_proof(client, history):
    bundle = client.get(EVIDENCE).json()
    hidden = copy.deepcopy(bundle)
    del hidden["entries"][1]  # the accident
    with pytest.raises(VerificationFailure, match="vin_index"):
        verify_bundle(hidden, log_key=log_verifier_key())


@pytest.mark.django_db
def test_absence_claimed_for_a_vin_with_entries_is_refused(client, history):
    bundle = client.get(EVIDENCE).json()
    bundle["entries"] = []
    with pytest.raises(VerificationFailure, match="vin_index"):
        verify_bundle(bundle, log_key=log_verifier_key())


@pytest.mark.django_db
def test_another_vins_vrf_proof_is_refused(client, history):
    bundle = client.get(EVIDENCE).json()
    other = client.get(f"/api/v1/vehicles/{OTHER_VIN}/evidence").json()
    bundle["vin_index"]["vrf_proof"] = other["vin_index"]["vrf_proof"]
    with pytest.raises(VerificationFailure, match="VRF proof"):
        verify_bundle(bundle, log_key=log_verifier_key())


@pytest.mark.django_db(transaction=True)
def test_bundles_built_while_the_sequencer_runs_always_verify(log_key):
    def entry(vin):
        return services.sign_as_platform(EntryFactory(vin=vin))

    services.enqueue_entries(entries=[entry(VIN)])
    services.integrate_pending()
    stop = threading.Event()
    failures = []

    def keep_sequencing():
        try:
            for number in range(40):
                services.enqueue_entries(entries=[entry(VIN), entry(f"LSVAU2180N{number:07d}")])
                services.integrate_pending(wait=True)
        except Exception as error:  # reported by the assertion below
            failures.append(error)
        finally:
            stop.set()
            connection.close()

    writer = threading.Thread(target=keep_sequencing)
    writer.start()
    seen = {}
    try:
        while not stop.is_set():
            bundle = build_evidence_bundle(vin=VIN)
            summary = verify_bundle(bundle, log_key=log_verifier_key())
            seen[summary.complete_as_of] = summary.entries_checked
    finally:
        writer.join()
    assert failures == []
    assert len(seen) > 1, "the sequencer never ran between two bundles"
    # Every entry of the VIN each bundle's index covers, none missing, none extra.
    indexes = [row.index for row in selectors.entries_for_vin(VIN)]
    for covered, shown in seen.items():
        assert shown == len([index for index in indexes if index < covered])


@pytest.mark.django_db
def test_a_stale_vin_index_is_refused(client, history):
    stale = client.get(EVIDENCE).json()["vin_index"]
    dealer = history.sources["sh-anting-vw-4s"]
    history.event(dealer, "odometer", "2021-05-01", odometer_km=60000)
    bundle = client.get(EVIDENCE).json()
    # The earlier map proof, which lists one entry fewer, against the newer checkpoint.
    bundle["vin_index"] = stale
    with pytest.raises(VerificationFailure, match="vin_index"):
        verify_bundle(bundle, log_key=log_verifier_key())


@pytest.mark.django_db
def test_an_entry_of_another_vin_is_refused(client, history):
    bundle = client.get(EVIDENCE).json()
    other = client.get(f"/api/v1/vehicles/{OTHER_VIN}/evidence").json()
    bundle["entries"].append(other["entries"][0])
    with pytest.raises(VerificationFailure):
        verify_bundle(bundle, log_key=log_verifier_key())

"""The public vehicles API: report, evidence and VIN check, with caching and throttling."""

import pytest
from carhistory_verifier.verify import verify_bundle

from carhistory.moderation.models import Dispute
from carhistory.vehicles.cache import forget_vehicle
from carhistory.vehicles.throttling import VinLookupThrottle
from ledger.keys import log_verifier_key
from tests.vehicles.logbook import VIN

pytestmark = pytest.mark.django_db

REPORT = f"/api/v1/vehicles/{VIN}/report"
EVIDENCE = f"/api/v1/vehicles/{VIN}/evidence"


@pytest.fixture
def dealer(logbook):
    return logbook.source("sh-anting-vw-4s")


@pytest.fixture
def strict_throttle(monkeypatch):
    monkeypatch.setattr(VinLookupThrottle, "THROTTLE_RATES", {"vin_lookup": "3/minute"})


def test_report_is_public_json(client, dealer, logbook):
    index = logbook.event(dealer, "service", "2019-05-01", odometer_km=45210, items=["oil"])
    response = client.get(REPORT)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["vin"] == VIN
    assert [event["index"] for event in body["events"]] == [index]


def test_lowercase_vin_with_spaces_is_normalised(client, logbook):
    response = client.get(f"/api/v1/vehicles/%20{VIN.lower()}%20/report")
    assert response.status_code == 200
    assert response.json()["vin"] == VIN


def test_unknown_but_valid_vin_is_200_and_empty(client, logbook):
    response = client.get(REPORT)
    assert response.status_code == 200
    assert response.json()["empty"] is True


@pytest.mark.parametrize(
    ("vin", "code", "position"),
    [
        ("LFV2A21K0E30000O1", "forbidden_letter", 16),
        ("LFV2A21K8E3000001", "check_digit", 9),
        ("LFV2A21K0E300000", "length", None),
        ("LFV2A21K0E30000*1", "invalid_character", 16),
    ],
)
@pytest.mark.parametrize("endpoint", ["report", "evidence"])
def test_invalid_vin_is_400_naming_what_failed(client, logbook, vin, code, position, endpoint):
    response = client.get(f"/api/v1/vehicles/{vin}/{endpoint}")
    assert response.status_code == 400
    body = response.json()
    assert body["vin"]
    assert {"code": code, "position": position} in [
        {"code": error["code"], "position": error["position"]}
        for error in body["vin_check"]["errors"]
    ]


def test_new_entry_changes_the_cached_report_at_once(client, dealer, logbook):
    logbook.event(dealer, "service", "2019-05-01", odometer_km=45210, items=[])
    assert len(client.get(REPORT).json()["events"]) == 1
    assert len(client.get(REPORT).json()["events"]) == 1  # served from the cache
    logbook.event(dealer, "odometer", "2020-05-01", odometer_km=50000)
    assert len(client.get(REPORT).json()["events"]) == 2


def test_report_is_served_from_the_cache_without_rebuilding(
    client, dealer, logbook, django_assert_max_num_queries
):
    logbook.event(dealer, "service", "2019-05-01", odometer_km=45210, items=[])
    client.get(REPORT)
    with django_assert_max_num_queries(1):  # the log's size, nothing more
        assert client.get(REPORT).status_code == 200


def test_forgetting_a_vehicle_shows_a_new_dispute(client, dealer, logbook):
    index = logbook.event(dealer, "service", "2019-05-01", odometer_km=45210, items=[])
    assert client.get(REPORT).json()["events"][0]["disputed"] is False
    Dispute.objects.create(entry_index=index, vin=VIN, reason="not my car", status="under_review")
    forget_vehicle(vin=VIN)
    assert client.get(REPORT).json()["events"][0]["disputed"] is True


def test_cached_reports_are_kept_apart_by_language(client, dealer, logbook):
    logbook.event(dealer, "service", "2019-05-01", odometer_km=45210, items=[])
    english = client.get(REPORT, headers={"accept-language": "en"})
    chinese = client.get(REPORT, headers={"accept-language": "zh-hans"})
    assert english["Content-Language"] == "en"
    assert chinese["Content-Language"] == "zh-hans"
    assert "Accept-Language" in chinese["Vary"]


def test_evidence_endpoint_serves_a_bundle_that_verifies(client, dealer, logbook):
    logbook.event(dealer, "service", "2019-05-01", odometer_km=45210, items=[])
    response = client.get(EVIDENCE)
    assert response.status_code == 200
    summary = verify_bundle(response.json(), log_key=log_verifier_key())
    assert summary.entries_checked == 1
    logbook.event(dealer, "odometer", "2020-05-01", odometer_km=50000)
    assert len(client.get(EVIDENCE).json()["entries"]) == 2


def test_too_many_lookups_get_429_with_retry_after(client, logbook, strict_throttle):
    statuses = [client.get(REPORT).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    response = client.get(EVIDENCE)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


def test_invalid_vins_count_towards_the_limit(client, logbook, strict_throttle):
    for _ in range(3):
        client.get("/api/v1/vehicles/NOT-A-VIN/report")
    assert client.get(REPORT).status_code == 429


def test_forged_forwarded_for_does_not_escape_the_limit(client, logbook, strict_throttle):
    statuses = [
        client.get(REPORT, headers={"x-forwarded-for": f"203.0.113.{n}"}).status_code
        for n in range(5)
    ]
    assert statuses[-1] == 429


def test_other_clients_are_not_throttled_by_one(client, logbook, strict_throttle):
    for _ in range(4):
        client.get(REPORT)
    assert client.get(REPORT, REMOTE_ADDR="198.51.100.7").status_code == 200


def test_vin_check_names_the_problem(client):
    response = client.get("/api/v1/vins/lfv2a21k8e3000001/check")
    assert response.status_code == 200
    body = response.json()
    assert body["vin"] == "LFV2A21K8E3000001"
    assert body["is_valid"] is False
    assert body["errors"][0]["code"] == "check_digit"
    assert body["errors"][0]["position"] == 9
    assert body["vehicle"] is None


def test_vin_check_decodes_a_valid_vin(client):
    body = client.get(f"/api/v1/vins/{VIN}/check").json()
    assert body["is_valid"] is True
    assert body["check_digit"] == "valid"
    assert body["vehicle"]["country"] == "China"
    assert body["vehicle"]["model_years"]


def test_schema_documents_the_vehicle_endpoints(client):
    response = client.get("/api/schema/", headers={"accept": "application/json"})
    assert response.status_code == 200
    schema = response.content.decode()
    for path in (
        "/api/v1/vehicles/{vin}/report",
        "/api/v1/vehicles/{vin}/evidence",
        "/api/v1/vins/{raw}/check",
    ):
        assert path in schema


def test_vin_check_of_blank_text_says_enter_a_vin(client):
    body = client.get("/api/v1/vins/%20%20/check").json()
    assert body["is_valid"] is False
    assert body["errors"][0]["code"] == "empty"

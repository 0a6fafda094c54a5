"""The submissions API (SPEC §4), including the attacks it must withstand."""

import gc
import threading
import time

import pytest
from carhistory_verifier import entry as entry_format
from carhistory_verifier import note
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from carhistory.rest import MAX_JSON_DEPTH
from carhistory.sources.models import Submission
from carhistory.sources.services import (
    create_api_key,
    register_signing_key,
    revoke_api_key,
    set_source_status,
    submit_event,
)
from ledger.models import PendingEntry
from ledger.services import integrate_pending
from tests.sources.factories import OrganisationFactory, api_key_for, event_payload, make_vin

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/events"
BATCH = "/api/v1/events/batch"


def _client(raw_key: str | None = None) -> APIClient:
    client = APIClient()
    if raw_key:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def test_an_event_is_accepted_with_its_id_and_status(dealer_client):
    response = dealer_client.post(EVENTS, event_payload(), format="json")
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    submission_id = response.json()["id"]

    integrate_pending(wait=True)
    status = dealer_client.get(f"{EVENTS}/{submission_id}")
    assert status.status_code == 200
    assert status.json()["status"] == "integrated"
    assert isinstance(status.json()["index"], int)


def test_the_index_is_in_the_answer_once_integrated(
    dealer_client, django_capture_on_commit_callbacks
):
    # Celery runs eagerly in the suite: integration happens when the request's transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        response = dealer_client.post(EVENTS, event_payload(external_id="RO-1"), format="json")
    again = dealer_client.post(EVENTS, event_payload(external_id="RO-1"), format="json")
    assert again.json()["id"] == response.json()["id"]
    assert again.json()["status"] == "integrated"


# --- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Bearer wrong", "Bearer ch-000000000000.nope", "Basic dXNlcjpwYXNz"]
)
def test_missing_or_wrong_key_is_401(dealer, header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.post(EVENTS, event_payload(), format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Submission.objects.exists()


def test_revoked_key_is_401(dealer):
    api_key, raw = create_api_key(organisation=dealer, label="old")
    revoke_api_key(api_key=api_key)
    assert _client(raw).post(EVENTS, event_payload(), format="json").status_code == 401


@pytest.mark.parametrize("status", ["suspended", "revoked"])
def test_suspended_or_revoked_source_is_403_at_once(dealer, dealer_client, status):
    assert dealer_client.post(EVENTS, event_payload(), format="json").status_code == 202
    set_source_status(organisation=dealer, status=status, reason="investigation")
    response = dealer_client.post(EVENTS, event_payload(), format="json")
    assert response.status_code == 403
    assert dealer_client.get(f"{EVENTS}/{Submission.objects.get().public_id}").status_code == 403


def test_an_applicant_cannot_submit_yet():
    applicant = OrganisationFactory(applied=True)
    response = _client(api_key_for(applicant)).post(EVENTS, event_payload(), format="json")
    assert response.status_code == 403


# --- authorisation ----------------------------------------------------------------------------


def test_a_type_outside_the_role_is_403(dealer_client):
    response = dealer_client.post(EVENTS, event_payload("insurance_claim"), format="json")
    assert response.status_code == 403
    assert not Submission.objects.exists()


def test_a_dealer_may_not_open_a_recall(dealer_client):
    facts = {"campaign": "RC-1", "status": "open", "component": "airbag"}
    response = dealer_client.post(EVENTS, event_payload("recall", facts=facts), format="json")
    assert response.status_code == 403


@pytest.mark.parametrize("event_type", ["source_key", "source_status", "correction"])
def test_a_source_cannot_write_platform_entries(dealer_client, event_type):
    body = {"vin": make_vin(1), "type": event_type, "occurred_at": "2024-01-01", "facts": {}}
    assert dealer_client.post(EVENTS, body, format="json").status_code == 403


def test_another_sources_submission_and_private_details_are_404(dealer_client):
    other = OrganisationFactory(kind="repair_shop")
    theirs = submit_event(
        organisation=other, payload=event_payload(private={"customer": "Wang Fang"})
    )
    response = dealer_client.get(f"{EVENTS}/{theirs.submission.public_id}")
    assert response.status_code == 404
    assert "Wang Fang" not in response.content.decode()
    own = _client(api_key_for(other)).get(f"{EVENTS}/{theirs.submission.public_id}")
    assert own.json()["private"] == {"customer": "Wang Fang"}


# --- content negotiation ----------------------------------------------------------------------


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_a_client_that_takes_json_gets_json(dealer_client, accept):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = dealer_client.post(EVENTS, event_payload(), format="json", **headers)
    assert response.status_code == 202
    assert response["Content-Type"] == "application/json"
    assert response.json()["status"] == "pending"


@pytest.mark.parametrize(
    ("accept", "query", "status"),
    [
        ("text/html", "", 406),
        ("application/json; indent=2", "", 202),
        ("text/html, application/json;q=0.9", "", 202),
        (None, "?format=xml", 404),
        (None, "?format=json", 202),
    ],
)
def test_other_accept_headers_and_formats_are_negotiated(dealer_client, accept, query, status):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = dealer_client.post(EVENTS + query, event_payload(), format="json", **headers)
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    assert Submission.objects.count() == (1 if status == 202 else 0)


def test_a_submission_answers_with_the_sites_headers_and_no_session_work(dealer_client):
    # Session, user and message middleware are skipped for the sources API
    # (carhistory/browser_middleware.py); the security headers and the language are not.
    dealer_client.cookies["sessionid"] = "a-session-the-api-never-reads"
    response = dealer_client.post(
        EVENTS, event_payload(), format="json", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert response.status_code == 202
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["Content-Language"] == "zh-hans"
    assert "Cookie" not in response.get("Vary", "")
    assert not response.cookies
    refused = dealer_client.post(
        EVENTS, {"vin": "bad"}, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert refused.status_code == 400
    assert refused["Content-Language"] == "zh-hans"


# --- bad input --------------------------------------------------------------------------------


def test_bad_input_gets_field_errors_and_stores_nothing(dealer_client):
    body = event_payload(vin="LSVAU2180N218329O", odometer_km=-5, facts={"items": []})
    response = dealer_client.post(EVENTS, body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"vin", "odometer_km", "facts.items"}
    assert not Submission.objects.exists()
    assert not PendingEntry.objects.exists()


@pytest.mark.parametrize(
    "raw", [b"{", b"[]", b"null", b'"text"', b'{"vin": NaN}', b"\xff\xfe", b'{"events": 1}']
)
def test_malformed_bodies_are_400_not_500(dealer_client, raw):
    response = dealer_client.post(EVENTS, raw, content_type="application/json")
    assert response.status_code == 400


def test_json_nested_too_deeply_is_400_not_500(dealer_client):
    body = b'{"vin": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = dealer_client.post(EVENTS, body, content_type="application/json")
    assert response.status_code == 400


def test_private_details_nested_too_deeply_are_400(dealer_client):
    nested: list = []
    for _ in range(50):
        nested = [nested]
    response = dealer_client.post(EVENTS, event_payload(private={"a": nested}), format="json")
    assert response.status_code == 400
    assert "private" in response.json()


def test_nul_characters_are_refused_not_stored(dealer_client):
    single = dealer_client.post(
        EVENTS, event_payload(external_id="RO\x001", private={"k\x00": "v"}), format="json"
    )
    assert single.status_code == 400
    assert set(single.json()) == {"external_id", "private"}
    batch = [
        event_payload(vin="LSV\x00U2180N2183294"),
        {**event_payload(), "\x00": 1},
        event_payload(facts={"items": ["oil\x00"]}),
    ]
    response = dealer_client.post(BATCH, {"events": batch}, format="json")
    assert response.status_code == 202
    assert [r["status"] for r in response.json()["results"]] == ["rejected"] * 3


def test_forged_source_signature_is_400(dealer, dealer_client):
    signer = note.Signer.generate(dealer.slug)
    key = register_signing_key(organisation=dealer, verifier_key=signer.verifier().key_string())
    forged = entry_format.b64encode(note.Signer.generate(dealer.slug).sign(b"anything"))
    response = dealer_client.post(EVENTS, event_payload(source_sig=forged), format="json")
    assert response.status_code == 400
    assert "source_sig" in response.json()
    # Only the key's own entry waits; nothing of the forged event was kept.
    assert list(PendingEntry.objects.values_list("id", flat=True)) == [key.pending_id]


@pytest.mark.parametrize("nested", [MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH])
def test_nesting_is_refused_from_the_limit_on(dealer_client, nested):
    # The object is at depth 0, so its innermost array is at depth `nested`.
    body = b'{"vin": ' + b"[" * nested + b"]" * nested + b"}"
    response = dealer_client.post(EVENTS, body, content_type="application/json")
    assert response.status_code == 400
    refused_for_depth = "nested too deeply" in str(response.json())
    assert refused_for_depth == (nested >= MAX_JSON_DEPTH)


def test_a_deeply_nested_body_is_400_not_500(dealer_client):
    # DRF's plain JSONParser once let `[[[[…` escape as a RecursionError (a 500).
    body = b'{"vin": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = dealer_client.post(EVENTS, body, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]
    assert not Submission.objects.exists()


def test_oversize_body_is_413_json(dealer_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = {"events": [event_payload(external_id=f"x-{n}") for n in range(200)]}
    response = dealer_client.post(BATCH, body, format="json")
    assert response.status_code == 413
    assert "detail" in response.json()
    assert not Submission.objects.exists()


def test_rate_limit_is_per_source_with_retry_after(dealer, dealer_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"source": "3/minute", "vin_lookup": "100/minute"},
    }
    second_key = _client(api_key_for(dealer))
    codes = [
        dealer_client.post(EVENTS, event_payload(), format="json").status_code for _ in range(3)
    ]
    refused = second_key.post(EVENTS, event_payload(), format="json")
    assert codes == [202, 202, 202]
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    other = _client(api_key_for(OrganisationFactory()))
    assert other.post(EVENTS, event_payload(), format="json").status_code == 202


@pytest.mark.django_db(transaction=True)
def test_the_rate_limit_holds_against_concurrent_posts_that_take_leases(
    dealer, settings, monkeypatch
):
    from ledger import tasks

    settings.CELERY_TASK_ALWAYS_EAGER = False  # a worker: submissions take leases
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"source": "3/minute", "vin_lookup": "100/minute"},
    }
    monkeypatch.setattr(tasks.integrate_pending, "apply_async", lambda countdown: None)
    raw_key = api_key_for(dealer)
    answers = []

    def submit(number: int) -> None:
        try:
            response = _client(raw_key).post(
                EVENTS, event_payload(vin=make_vin(number)), format="json"
            )
            answers.append((response.status_code, response.get("Retry-After")))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(number,)) for number in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(code for code, _wait in answers) == [202] * 3 + [429] * 7
    assert all(int(wait) > 0 for code, wait in answers if code == 429)
    assert Submission.objects.count() == 3


def test_the_source_limit_opens_again_when_its_window_closes(dealer_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"source": "2/second", "vin_lookup": "100/minute"},
    }
    codes = [
        dealer_client.post(EVENTS, event_payload(), format="json").status_code for _ in range(3)
    ]
    assert codes == [202, 202, 429]
    time.sleep(1.5)
    assert dealer_client.post(EVENTS, event_payload(), format="json").status_code == 202


# --- batches ----------------------------------------------------------------------------------


def test_a_batch_answers_item_by_item_in_input_order(dealer_client):
    events = [
        event_payload(vin=make_vin(1), external_id="a"),
        event_payload(vin="SHORT"),
        event_payload("accident"),
        event_payload(vin=make_vin(2), external_id="a"),
    ]
    response = dealer_client.post(BATCH, {"events": events}, format="json")
    assert response.status_code == 202
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["pending", "rejected", "rejected", "conflict"]
    assert results[3]["first_submission"] == results[0]["id"]
    assert "vin" in results[1]["errors"]
    assert "type" in results[2]["errors"]
    rejected = dealer_client.get(f"{EVENTS}/{results[1]['id']}")
    assert rejected.json()["status"] == "rejected"


def test_a_batch_answers_new_resent_refused_and_conflicting_items_apart(
    dealer_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = dealer_client.post(
            BATCH, {"events": [event_payload(vin=make_vin(1), external_id="ro-1")]}, format="json"
        ).json()["results"][0]
    events = [
        event_payload(vin=make_vin(2), external_id="ro-2"),
        event_payload(vin=make_vin(1), external_id="ro-1"),  # resent: its first result
        event_payload(vin="SHORT", external_id="ro-3"),
        event_payload(vin=make_vin(3), external_id="ro-1"),  # another body: a conflict
        event_payload(vin=make_vin(2), external_id="ro-2"),  # repeated within the batch
    ]
    results = dealer_client.post(BATCH, {"events": events}, format="json").json()["results"]
    assert [r["status"] for r in results] == [
        "pending",
        "integrated",
        "rejected",
        "conflict",
        "pending",
    ]
    assert results[0]["external_id"] == "ro-2"
    assert results[1]["id"] == first["id"] and isinstance(results[1]["index"], int)
    assert "vin" in results[2]["errors"]
    assert results[3]["first_submission"] == first["id"]
    assert results[4]["id"] == results[0]["id"]


def test_a_batch_costs_the_same_queries_whatever_its_size(dealer_client):
    def queries_for(events: list[dict]) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = dealer_client.post(BATCH, {"events": events}, format="json")
        assert response.status_code == 202
        return len(captured.captured_queries)

    queries_for([event_payload(vin=make_vin(0), external_id="warm-up")])
    small = queries_for([event_payload(vin=make_vin(n), external_id=f"s-{n}") for n in range(1, 3)])
    large = [event_payload(vin=make_vin(n), external_id=f"l-{n}") for n in range(100, 400)]
    assert queries_for(large) == small


def test_a_batch_of_more_than_1000_is_400(dealer_client):
    events = [event_payload()] * 1001
    response = dealer_client.post(BATCH, {"events": events}, format="json")
    assert response.status_code == 400
    assert "events" in response.json()
    assert not Submission.objects.exists()


@pytest.mark.parametrize("body", [{}, {"events": []}, {"events": {}}, [], {"events": [1], "x": 1}])
def test_a_malformed_batch_is_400(dealer_client, body):
    assert dealer_client.post(BATCH, body, format="json").status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {"events": [event_payload(vin=make_vin(1)), event_payload(vin="NOT-A-VIN")]},
        {"events": []},
        {"events": [1], "x": 1},
    ],
)
def test_a_batch_leaves_the_garbage_collector_on(dealer_client, body):
    # The batch view pauses the cyclic collector while it works; a worker left without it
    # would keep every reference cycle its later requests make.
    assert gc.isenabled()
    dealer_client.post(BATCH, body, format="json")
    dealer_client.post("/api/v1/imports/repair-records", [{"basicInfo": {}}], format="json")
    assert gc.isenabled()


# --- idempotency under concurrency --------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_of_one_external_id_append_once(log_key):
    source = OrganisationFactory(kind="repair_shop")
    raw = api_key_for(source)
    answers: list[dict] = []
    barrier = threading.Barrier(6)

    def submit() -> None:
        try:
            barrier.wait()
            response = _client(raw).post(
                EVENTS, event_payload(external_id="RO-RACE"), format="json"
            )
            answers.append({"code": response.status_code, **response.json()})
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {answer["code"] for answer in answers} == {202}
    assert len({answer["id"] for answer in answers}) == 1
    assert len(answers) == 6
    assert Submission.objects.filter(organisation=source).count() == 1


@pytest.mark.parametrize(
    "body",
    [[], {"key": 7}, {"key": ""}, {"key": "not a key"}, {"key": "x", "extra": 1}],
)
def test_registering_a_bad_signing_key_is_a_field_error(dealer_client, body):
    from carhistory.sources.models import SigningKey

    response = dealer_client.post("/api/v1/signing-keys", body, format="json")
    assert response.status_code == 400
    assert set(response.json()) & {"key", "extra", "non_field_errors"}
    assert not SigningKey.objects.exists()


def test_registering_a_signing_key_through_the_api_logs_it_first(dealer_client, dealer):
    from carhistory_verifier import note

    from ledger.models import Entry

    signer = note.Signer.generate(dealer.slug)
    response = dealer_client.post(
        "/api/v1/signing-keys", {"key": signer.verifier().key_string()}, format="json"
    )
    assert response.status_code == 201
    # Enqueued, not waited for: the index is null until the sequencer has logged the entry.
    assert response.json()["index"] is None
    integrate_pending(wait=True)
    key = dealer.signing_keys.get()
    assert Entry.objects.get(pending_id=key.pending_id).type == "source_key"


# --- integration after quick single submissions ------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("leases", [False, True], ids=["claims", "leases"])
def test_quick_single_posts_queue_one_integration_run_and_all_are_integrated(
    dealer_client, monkeypatch, settings, leases
):
    from ledger import tasks

    # With a worker (tasks not eager), each POST takes a lease with its rate limit and claims
    # nothing after its commit (ledger.sequencer.count_and_lease).
    settings.CELERY_TASK_ALWAYS_EAGER = not leases
    queued = []
    monkeypatch.setattr(
        tasks.integrate_pending, "apply_async", lambda countdown: queued.append("run")
    )
    ids = []
    for number in range(50):
        response = dealer_client.post(
            EVENTS, event_payload(vin=make_vin(number), external_id=f"RO-{number}"), format="json"
        )
        assert response.status_code == 202
        ids.append(response.json()["id"])
    # Every commit came before the queued run started: that one run serves them all.
    assert queued == ["run"]
    assert tasks.integrate_pending() == 50
    states = [dealer_client.get(f"{EVENTS}/{submission_id}").json() for submission_id in ids]
    assert {state["status"] for state in states} == {"integrated"}
    assert sorted(state["index"] for state in states) == list(range(50))

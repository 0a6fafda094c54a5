"""No input gives a 5xx (issue 14 §3): lone surrogates, VINs that change length or meaning when
upper-cased, floods of unknown field names, and a changed body under a repeated external_id."""

import json

import pytest

from carhistory.sources.models import Submission
from tests.sources.factories import event_payload, make_vin

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/events"
BATCH = "/api/v1/events/batch"
LONE_SURROGATE = "\ud800"


def post_json(client, url: str, body: object):
    # json.dumps escapes a lone surrogate as \ud800, which is valid JSON text; the test client's
    # own encoder would refuse to send it.
    return client.post(url, json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(
    ("field", "payload"),
    [
        ("vin", event_payload(vin=f"LSVAU2180N218329{LONE_SURROGATE}")),
        ("external_id", event_payload(external_id=f"RO-{LONE_SURROGATE}")),
        ("facts.items", event_payload(facts={"items": [f"oil{LONE_SURROGATE}"]})),
        ("private", event_payload(private={"owner": LONE_SURROGATE})),
        ("private", event_payload(private={LONE_SURROGATE: "x"})),
        ("source_sig", event_payload(source_sig=LONE_SURROGATE * 4)),
        ("occurred_at", event_payload(occurred_at=f"2024-01-0{LONE_SURROGATE}")),
    ],
)
def test_a_lone_surrogate_is_a_field_error(dealer_client, field, payload):
    response = post_json(dealer_client, EVENTS, payload)

    assert response.status_code == 400
    assert field in response.json()
    assert not Submission.objects.exists()


def test_a_lone_surrogate_in_an_unknown_field_name_is_refused(dealer_client):
    response = post_json(dealer_client, EVENTS, {**event_payload(), LONE_SURROGATE: 1})

    assert response.status_code == 400
    assert LONE_SURROGATE not in response.content.decode("utf-8")


def test_a_lone_surrogate_in_a_batch_refuses_that_item_only(dealer_client):
    events = [
        event_payload(vin=make_vin(1)),
        event_payload(vin=LONE_SURROGATE * 17, external_id=LONE_SURROGATE),
        {**event_payload(vin=make_vin(2)), LONE_SURROGATE: 1},
        event_payload(vin=make_vin(3), facts={"items": [LONE_SURROGATE]}),
    ]

    response = post_json(dealer_client, BATCH, {"events": events})

    assert response.status_code == 202
    statuses = [result["status"] for result in response.json()["results"]]
    assert statuses == ["pending", "rejected", "rejected", "rejected"]


@pytest.mark.parametrize("letter", ["ſ", "ß", "ﬀ", "ı", "\u212a"])
def test_a_vin_is_ascii_before_it_is_upper_cased(dealer_client, letter):
    # ſ.upper() is S and K (Kelvin) lower-cases to k: a VIN that only matches after Unicode
    # case mapping is not the VIN the source typed. ß and ﬀ grow when upper-cased.
    vin = make_vin(7)
    typed = vin[:10] + letter + vin[11:]

    response = post_json(dealer_client, EVENTS, event_payload(vin=typed))

    assert response.status_code == 400
    assert "vin" in response.json()


def test_a_growing_vin_in_a_batch_refuses_that_item_and_keeps_the_others(dealer_client):
    events = [
        event_payload(vin=make_vin(1)),
        event_payload(vin="ß" * 17),
        event_payload(vin="ﬀ" * 17),
        event_payload(vin=make_vin(2)),
    ]

    response = post_json(dealer_client, BATCH, {"events": events})

    assert response.status_code == 202
    statuses = [result["status"] for result in response.json()["results"]]
    assert statuses == ["pending", "rejected", "rejected", "pending"]


def test_unknown_fields_are_refused_without_storing_each_name(dealer_client):
    flood = {f"field-{number:05d}-" + "x" * 100: 1 for number in range(5000)}
    events = [{**event_payload(), **flood}, event_payload(vin=make_vin(2))]

    response = post_json(dealer_client, BATCH, {"events": events})

    assert response.status_code == 202
    rejected = Submission.objects.get(status="rejected")
    assert len(json.dumps(rejected.errors)) < 2000
    assert len(response.content) < 4000


# --- a repeated external_id ---------------------------------------------------------------------


def test_a_repeated_external_id_with_the_same_body_answers_the_first_result(dealer_client):
    first = post_json(dealer_client, EVENTS, event_payload(external_id="RO-7"))
    again = post_json(dealer_client, EVENTS, event_payload(external_id="RO-7"))

    assert again.status_code == 202
    assert again.json()["id"] == first.json()["id"]


def test_a_repeated_external_id_with_another_body_is_409_naming_the_first(dealer_client):
    first = post_json(dealer_client, EVENTS, event_payload(external_id="RO-7"))
    changed = post_json(dealer_client, EVENTS, event_payload(external_id="RO-7", odometer_km=9))

    assert changed.status_code == 409
    assert changed.json()["first_submission"] == first.json()["id"]
    assert "external_id" in changed.json()["errors"]
    assert Submission.objects.count() == 1


def test_changed_private_details_under_a_repeated_external_id_are_409(dealer_client):
    post_json(dealer_client, EVENTS, event_payload(external_id="RO-8", private={"owner": "Li"}))
    changed = post_json(
        dealer_client, EVENTS, event_payload(external_id="RO-8", private={"owner": "Wang"})
    )

    assert changed.status_code == 409


def test_a_batch_answers_409_for_each_changed_repeat(dealer_client):
    earlier = post_json(dealer_client, EVENTS, event_payload(vin=make_vin(1), external_id="a"))
    events = [
        event_payload(vin=make_vin(1), external_id="a"),  # the same as before: its result
        event_payload(vin=make_vin(9), external_id="a"),  # changed since before: 409
        event_payload(vin=make_vin(2), external_id="b"),
        event_payload(vin=make_vin(2), external_id="b"),  # the same within the batch
        event_payload(vin=make_vin(3), external_id="b"),  # changed within the batch: 409
    ]

    response = post_json(dealer_client, BATCH, {"events": events})

    assert response.status_code == 202
    results = response.json()["results"]
    assert [result["status"] for result in results] == [
        "pending",
        "conflict",
        "pending",
        "pending",
        "conflict",
    ]
    assert results[0]["id"] == earlier.json()["id"]
    assert results[1]["first_submission"] == earlier.json()["id"]
    assert results[3]["id"] == results[2]["id"]
    assert results[4]["first_submission"] == results[2]["id"]
    assert "external_id" in results[4]["errors"]


def test_a_lone_surrogate_in_a_batch_envelope_name_is_refused(dealer_client):
    response = post_json(dealer_client, BATCH, {"events": [event_payload()], LONE_SURROGATE: 1})

    assert response.status_code == 400
    assert "U+D800" in response.json()

"""The event schemas (SPEC §5): what a source may send, and the errors it gets otherwise."""

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carhistory.sources.schemas import SOURCE_EVENT_TYPES, validate_submission
from tests.sources.factories import event_payload, make_vin


@pytest.mark.parametrize("event_type", SOURCE_EVENT_TYPES)
def test_every_source_event_type_has_a_valid_example(event_type):
    event, errors = validate_submission(event_payload(event_type))
    assert errors == {}
    assert event.type == event_type


def test_vin_is_trimmed_and_upper_cased():
    vin = make_vin(7)
    event, _ = validate_submission(event_payload(vin=f"  {vin.lower()} "))
    assert event.vin == vin


def test_invalid_vin_names_the_offending_character():
    vin = make_vin(7)
    bad = vin[:4] + "O" + vin[5:]
    _, errors = validate_submission(event_payload(vin=bad))
    assert "Character 5" in errors["vin"][0]


def test_wrong_check_digit_is_refused_for_a_chinese_vin():
    vin = make_vin(7)
    wrong = "0" if vin[8] != "0" else "1"
    _, errors = validate_submission(event_payload(vin=vin[:8] + wrong + vin[9:]))
    assert "check digit" in errors["vin"][0]


def test_future_date_is_refused():
    tomorrow_and_more = (datetime.date.today() + datetime.timedelta(days=3)).isoformat()
    _, errors = validate_submission(event_payload(occurred_at=tomorrow_and_more))
    assert "future" in errors["occurred_at"][0]


def test_future_time_is_refused():
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=2)
    _, errors = validate_submission(event_payload(occurred_at=later.strftime("%Y-%m-%dT%H:%M:%SZ")))
    assert "future" in errors["occurred_at"][0]


@pytest.mark.parametrize(
    "occurred_at", ["2024-05-03", "2024-05-03T09:12:44Z", "2024-05-03T09:12:44.120Z"]
)
def test_dates_and_utc_times_are_accepted_as_written(occurred_at):
    event, errors = validate_submission(event_payload(occurred_at=occurred_at))
    assert errors == {}
    assert event.occurred_at == occurred_at


@pytest.mark.parametrize(
    "occurred_at",
    [
        "2024-02-30",
        "03/05/2024",
        "2024-05-03T09:12:44+08:00",
        "2024-05-03\n",
        "２０２４-05-03",
        20240503,
        None,
    ],
)
def test_other_dates_are_refused(occurred_at):
    _, errors = validate_submission(event_payload(occurred_at=occurred_at))
    assert "occurred_at" in errors


@pytest.mark.parametrize("reading", [-1, 1.5, "45210", True, 10_000_000])
def test_odometer_must_be_a_plausible_whole_number(reading):
    _, errors = validate_submission(event_payload("odometer", odometer_km=reading))
    assert "odometer_km" in errors


def test_odometer_reading_is_required_where_the_table_says_so():
    payload = event_payload("service")
    del payload["odometer_km"]
    _, errors = validate_submission(payload)
    assert "odometer_km" in errors


def test_repair_odometer_reading_is_optional():
    payload = event_payload("repair")
    del payload["odometer_km"]
    event, errors = validate_submission(payload)
    assert errors == {}
    assert event.odometer_km is None


def test_types_without_a_reading_refuse_one():
    _, errors = validate_submission(event_payload("title_brand", odometer_km=1000))
    assert "odometer_km" in errors


def test_unknown_fields_and_facts_are_refused():
    payload = event_payload("accident", colour="red")
    payload["facts"]["weather"] = "rain"
    _, errors = validate_submission(payload)
    assert set(errors) == {"colour", "facts.weather"}


def test_missing_and_out_of_range_facts_are_named_one_by_one():
    _, errors = validate_submission(
        event_payload("accident", facts={"severity": "catastrophic", "airbags_deployed": "yes"})
    )
    assert set(errors) == {"facts.severity", "facts.airbags_deployed", "facts.damage_areas"}
    assert "minor" in errors["facts.severity"][0]


@pytest.mark.parametrize("event_type", ["source_key", "source_status", "correction", "rumour"])
def test_platform_and_unknown_types_are_never_accepted(event_type):
    _, errors = validate_submission(event_payload("odometer", type=event_type))
    assert "type" in errors


def test_manufacture_date_in_the_future_is_refused():
    facts = dict(event_payload("manufacture")["facts"], built_on="2999-01-01")
    _, errors = validate_submission(event_payload("manufacture", facts=facts))
    assert "facts.built_on" in errors


def test_private_details_must_be_exactly_representable():
    _, errors = validate_submission(event_payload(private={"claim": 2**60}))
    assert "private" in errors


def test_a_non_object_body_is_an_error_not_a_crash():
    _, errors = validate_submission(["not", "an", "object"])
    assert "non_field_errors" in errors


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["vin", "type", "occurred_at", "odometer_km", "facts", "private", "external_id"]
        ),
        json_values,
    )
)
def test_any_json_body_gets_errors_or_an_event_never_an_exception(body):
    event, errors = validate_submission(body)
    assert (event is None) == bool(errors)
    assert all(isinstance(messages, list) and messages for messages in errors.values())


def test_the_protocol_fact_kinds_match_the_schemas():
    """The verifier package reads CSV cells by `protocol.FACT_KINDS`; the schemas hold the
    rules. A fact added to one and not the other fails here."""
    from carhistory_verifier import protocol

    from carhistory.sources.schemas import EVENT_SCHEMAS

    def kind(rule):
        if rule.choices:
            return "text"
        for name, sample in (("list", ["x"]), ("boolean", True), ("integer", 2000)):
            try:
                rule.check(sample)
            except (ValueError, TypeError):
                continue
            return name
        return "text"

    from_schemas = {
        event_type: {name: kind(rule) for name, rule in schema.facts.items()}
        for event_type, schema in EVENT_SCHEMAS.items()
    }
    assert from_schemas == protocol.FACT_KINDS

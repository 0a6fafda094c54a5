"""The role matrix (SPEC §5): which kinds of source may submit which events."""

import pytest

from carhistory.sources.roles import event_types_for, refusal_reason

ALLOWED = [
    ("dealer_4s", "service"),
    ("repair_shop", "repair"),
    ("registry", "odometer"),
    ("inspection_station", "inspection"),
    ("insurer", "insurance_claim"),
    ("insurer", "title_brand"),
    ("registry", "registration"),
    ("oem", "manufacture"),
    ("oem", "recall"),
]
REFUSED = [
    ("repair_shop", "accident"),
    ("insurer", "service"),
    ("dealer_4s", "registration"),
    ("inspection_station", "title_brand"),
    ("repair_shop", "manufacture"),
    ("registry", "insurance_claim"),
]


@pytest.mark.parametrize(("kind", "event_type"), ALLOWED)
def test_sources_may_submit_what_their_role_covers(kind, event_type):
    assert refusal_reason(kind=kind, event_type=event_type, facts={}) is None


@pytest.mark.parametrize(("kind", "event_type"), REFUSED)
def test_sources_may_not_submit_outside_their_role(kind, event_type):
    assert refusal_reason(kind=kind, event_type=event_type, facts={})


@pytest.mark.parametrize("kind", ["dealer_4s", "registry", "oem", "insurer"])
@pytest.mark.parametrize("event_type", ["source_key", "source_status", "correction"])
def test_no_source_may_submit_platform_entries(kind, event_type):
    assert refusal_reason(kind=kind, event_type=event_type, facts={})


def test_a_dealer_may_report_a_recall_remedied_but_not_open_one():
    remedied = {"status": "remedied"}
    assert refusal_reason(kind="dealer_4s", event_type="recall", facts=remedied) is None
    assert refusal_reason(kind="dealer_4s", event_type="recall", facts={"status": "open"})
    assert refusal_reason(kind="oem", event_type="recall", facts={"status": "open"}) is None


def test_the_form_offers_each_kind_its_own_types():
    assert event_types_for("insurer") == ["accident", "insurance_claim", "title_brand"]
    assert "manufacture" not in event_types_for("dealer_4s")

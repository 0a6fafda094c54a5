"""The history report: what a buyer reads about a car, built from the log."""

import pytest
from django.utils import timezone

from carhistory.moderation.models import Dispute
from carhistory.sources.services import submit_event
from carhistory.vehicles.report import build_report
from ledger.selectors import latest_checkpoint
from ledger.services import integrate_pending
from tests.vehicles.logbook import OTHER_VIN, VIN

pytestmark = pytest.mark.django_db


@pytest.fixture
def dealer(logbook):
    return logbook.source("sh-anting-vw-4s")


@pytest.fixture
def registry(logbook):
    return logbook.source("sh-vehicle-registry", kind="registry", own_key=False)


def flag_codes(report) -> list[str]:
    return [flag["code"] for flag in report["flags"]]


def test_unknown_but_valid_vin_is_an_empty_report(logbook):
    report = build_report(vin=VIN)
    assert report["empty"] is True
    assert report["events"] == []
    assert report["summary"]["records"] == 0
    assert report["summary"]["last_odometer"] is None
    assert report["vehicle"]["manufacturer"]
    assert report["vin_check"] == {"is_valid": True, "check_digit": "valid", "errors": []}


def test_report_lists_events_in_log_order_with_who_said_them(logbook, dealer, registry):
    first = logbook.event(dealer, "service", "2019-05-01", odometer_km=45210, items=["oil"])
    second = logbook.event(
        registry,
        "registration",
        "2014-04-01",
        event="first_registration",
        region="SH",
        use="private",
    )
    logbook.event(dealer, "service", "2019-06-01", vin=OTHER_VIN, odometer_km=1, items=[])
    report = build_report(vin=VIN)

    assert report["empty"] is False
    assert [event["index"] for event in report["events"]] == [first, second]
    service = report["events"][0]
    assert service["source"] == {
        "slug": "sh-anting-vw-4s",
        "name": "Sh Anting Vw 4S",
        "kind": "dealer_4s",
        "kind_label": "4S dealer",
        "status": "approved",
    }
    assert service["signed_by"] == "source"
    assert service["odometer_km"] == 45210
    assert service["facts"] == {"items": ["oil"]}
    assert "45,210" in service["summary"]
    # The registry has no key of its own: the platform signed for it, and the report says so.
    assert report["events"][1]["signed_by"] == "platform"
    assert report["checkpoint"]["tree_size"] > second
    assert report["checkpoint"]["note"].startswith("carhistory.localhost/log\n")


def test_summary_counts_owners_accidents_brands_recalls_and_uses(logbook, dealer, registry):
    insurer = logbook.source("pingan-insurance", kind="insurer")
    oem = logbook.source("faw-vw-oem", kind="oem")
    logbook.event(oem, "manufacture", "2014-03-02", plant="Changchun", built_on="2014-03-02",
                  model="Sagitar", model_year=2014)  # fmt: skip
    logbook.event(registry, "registration", "2014-04-01", event="first_registration",
                  region="SH", use="private")  # fmt: skip
    logbook.event(registry, "registration", "2018-04-01", event="ownership_transfer",
                  region="SH", use="rental")  # fmt: skip
    logbook.event(insurer, "accident", "2019-01-01", severity="moderate",
                  airbags_deployed=False, damage_areas=["front"])  # fmt: skip
    logbook.event(insurer, "title_brand", "2019-02-01", brand="salvage")
    logbook.event(oem, "recall", "2020-01-01", campaign="R1", status="open", component="airbag")
    logbook.event(oem, "recall", "2020-01-01", campaign="R2", status="open", component="brakes")
    logbook.event(dealer, "recall", "2020-03-01", campaign="R2", status="remedied",
                  component="brakes")  # fmt: skip
    last = logbook.event(dealer, "service", "2024-05-03", odometer_km=84210, items=["oil"])

    report = build_report(vin=VIN)
    summary = report["summary"]
    assert summary["records"] == 9
    assert summary["owners"] == 2
    assert summary["accidents"] == 1
    assert summary["title_brands"] == ["salvage"]
    assert summary["open_recalls"] == 1
    assert summary["uses"] == ["private", "rental"]
    assert summary["last_odometer"] == {"km": 84210, "occurred_at": "2024-05-03", "index": last}
    assert (summary["first_seen"], summary["last_seen"]) == ("2014-03-02", "2024-05-03")
    assert report["vehicle"]["manufacture"]["plant"] == "Changchun"
    assert report["vehicle"]["manufacture"]["model_year"] == 2014
    assert "title_brand" in flag_codes(report)
    assert report["flags"][0]["severity"] == "danger"


def test_rollback_is_flagged_naming_both_readings(logbook, dealer):
    earlier = logbook.event(dealer, "service", "2019-05-01", odometer_km=90100, items=[])
    later = logbook.event(dealer, "odometer", "2020-05-01", odometer_km=45200)
    report = build_report(vin=VIN)

    [flag] = [flag for flag in report["flags"] if flag["code"] == "odometer_rollback"]
    assert flag["severity"] == "danger"
    assert flag["indexes"] == [earlier, later]
    [finding] = report["odometer"]["findings"]
    assert (finding["earlier_km"], finding["later_km"]) == (90100, 45200)
    assert {reading["finding"] for reading in report["odometer"]["readings"]} == {"rollback"}


def test_correction_is_applied_before_judging_the_odometer(logbook, dealer):
    logbook.event(dealer, "service", "2019-05-01", odometer_km=90100, items=[])
    typo = logbook.event(dealer, "odometer", "2020-05-01", odometer_km=9520)
    correction = logbook.correct(typo, odometer_km=95200)
    report = build_report(vin=VIN)

    assert "odometer_rollback" not in flag_codes(report)
    assert report["summary"]["last_odometer"]["km"] == 95200
    corrected = next(event for event in report["events"] if event["index"] == typo)
    assert corrected["corrected_by"] == [correction]
    assert corrected["odometer_km"] == 9520  # what was logged stays shown
    correction_event = next(event for event in report["events"] if event["index"] == correction)
    assert correction_event["corrects"] == typo
    assert correction_event["source"]["slug"] == "platform"
    assert correction_event["signed_by"] == "platform"
    [flag] = [flag for flag in report["flags"] if flag["code"] == "corrected_entry"]
    assert flag["indexes"] == [typo, correction]
    assert report["summary"]["records"] == 2


def test_voided_record_is_not_counted(logbook, dealer):
    insurer = logbook.source("pingan-insurance", kind="insurer")
    accident = logbook.event(insurer, "accident", "2019-01-01", severity="severe",
                             airbags_deployed=True, damage_areas=["front"])  # fmt: skip
    logbook.correct(accident, void=True, reason="wrong car")
    report = build_report(vin=VIN)
    assert report["summary"]["accidents"] == 0
    assert report["events"][0]["voided"] is True


def test_revoked_source_records_are_shown_but_not_counted(logbook, dealer):
    shady = logbook.source("shady-garage", kind="repair_shop")
    logbook.event(dealer, "service", "2019-05-01", odometer_km=90100, items=[])
    bad = logbook.event(shady, "odometer", "2020-05-01", odometer_km=20000)
    logbook.set_status(shady, "revoked")
    report = build_report(vin=VIN)

    assert "odometer_rollback" not in flag_codes(report)
    [flag] = [flag for flag in report["flags"] if flag["code"] == "revoked_source"]
    assert flag["indexes"] == [bad]
    assert "Shady Garage" in flag["message"]
    assert report["events"][1]["source"]["status"] == "revoked"
    reading = next(r for r in report["odometer"]["readings"] if r["index"] == bad)
    assert reading["finding"] == "excluded"
    assert report["summary"]["last_odometer"]["km"] == 90100


def test_suspended_source_is_weighed_with_a_warning(logbook, dealer):
    lax = logbook.source("lax-garage", kind="repair_shop")
    logbook.event(dealer, "service", "2019-05-01", odometer_km=90100, items=[])
    logbook.event(lax, "odometer", "2020-05-01", odometer_km=20000)
    logbook.set_status(lax, "suspended")
    report = build_report(vin=VIN)

    codes = flag_codes(report)
    assert "suspended_source" in codes
    [rollback] = [flag for flag in report["flags"] if flag["code"] == "odometer_rollback"]
    assert rollback["severity"] == "warning"
    assert "suspended" in rollback["message"]


def test_a_dispute_under_review_marks_the_entry_and_a_new_one_does_not(logbook, dealer):
    disputed = logbook.event(dealer, "service", "2019-05-01", odometer_km=100, items=[])
    settled = logbook.event(dealer, "service", "2019-06-01", odometer_km=200, items=[])
    fresh = logbook.event(dealer, "service", "2019-07-01", odometer_km=300, items=[])
    Dispute.objects.create(
        entry_index=disputed, vin=VIN, reason="not my car", status=Dispute.Status.UNDER_REVIEW
    )
    Dispute.objects.create(entry_index=fresh, vin=VIN, reason="one anonymous click")
    Dispute.objects.create(
        entry_index=settled,
        vin=VIN,
        reason="wrong",
        status=Dispute.Status.REJECTED,
        resolution_reason="checked",
        resolved_at=timezone.now(),
    )
    report = build_report(vin=VIN)
    assert [event["disputed"] for event in report["events"]] == [True, False, False]
    [flag] = [flag for flag in report["flags"] if flag["code"] == "disputed_entry"]
    assert flag["indexes"] == [disputed]


def test_event_dated_before_manufacture_is_flagged(logbook, dealer):
    oem = logbook.source("faw-vw-oem", kind="oem")
    logbook.event(oem, "manufacture", "2014-03-02", plant="Changchun", built_on="2014-03-02",
                  model="Sagitar", model_year=2014)  # fmt: skip
    early = logbook.event(dealer, "service", "2013-01-01", odometer_km=10, items=[])
    report = build_report(vin=VIN)
    [flag] = [flag for flag in report["flags"] if flag["code"] == "date_before_manufacture"]
    assert flag["indexes"] == [early]


def test_entries_after_the_checkpoint_read_are_left_out(logbook, dealer):
    logbook.event(dealer, "service", "2019-05-01", odometer_km=100, items=[])
    checkpoint = latest_checkpoint()
    logbook.event(dealer, "service", "2019-06-01", odometer_km=200, items=[])
    report = build_report(vin=VIN, checkpoint=checkpoint)
    assert len(report["events"]) == 1
    assert report["checkpoint"]["tree_size"] == checkpoint.tree_size


@pytest.mark.parametrize("events", [1, 40])
def test_report_reads_a_fixed_handful_of_rows(
    logbook, dealer, django_assert_max_num_queries, events
):
    for day in range(events):
        logbook.event(dealer, "service", f"2019-05-{day % 28 + 1:02d}", odometer_km=day * 10,
                      items=[], integrate=False)  # fmt: skip
    logbook.event(dealer, "odometer", "2020-01-01", odometer_km=1000)
    # The checkpoint, the VIN's entries with the checkpoint's last entry (whether it is a
    # vin_index entry, SPEC §7), their sources, their disputes.
    with django_assert_max_num_queries(4):
        report = build_report(vin=VIN)
    assert len(report["events"]) == events + 1


def test_odd_but_logged_facts_never_break_the_report(logbook, dealer):
    registry = logbook.source("sh-vehicle-registry", kind="registry")
    logbook.event(registry, "title_brand", "2020-05-01T10:00:00Z", brand=["salvage", "flood"])
    logbook.event(registry, "registration", "not a date", event=None, use={"private": True})
    logbook.event(dealer, "odometer", "2020-06-01")
    report = build_report(vin=VIN)
    assert len(report["events"]) == 3
    assert report["summary"]["title_brands"] == []
    assert report["summary"]["first_seen"] == "2020-05-01"
    assert report["odometer"]["readings"] == []


def test_events_submitted_by_sources_reach_the_report(logbook, dealer, registry):
    accepted = [
        submit_event(organisation=organisation, payload=payload)
        for organisation, payload in [
            (dealer.organisation, {"vin": VIN.lower(), "type": "service",
                                   "occurred_at": "2021-03-04", "odometer_km": 30100,
                                   "facts": {"items": ["oil"]}}),
            (registry.organisation, {"vin": VIN, "type": "registration",
                                     "occurred_at": "2020-01-02",
                                     "facts": {"event": "first_registration",
                                               "region": "SH", "use": "taxi"}}),
        ]
    ]  # fmt: skip
    assert all(result.is_accepted for result in accepted), [r.errors for r in accepted]
    integrate_pending(wait=True)
    report = build_report(vin=VIN)
    assert [event["type"] for event in report["events"]] == ["service", "registration"]
    # Neither sent a signature of its own, so the platform signed for both, and says so.
    assert [event["signed_by"] for event in report["events"]] == ["platform", "platform"]
    assert report["summary"]["uses"] == ["taxi"]
    assert report["summary"]["last_odometer"]["km"] == 30100


def test_a_correction_filed_under_another_car_changes_nothing(logbook, dealer):
    index = logbook.event(dealer, "odometer", "2020-05-01", odometer_km=45000)
    logbook.correct(index, vin=OTHER_VIN, odometer_km=1)
    report = build_report(vin=VIN)
    assert report["events"][0]["corrected_by"] == []
    assert report["summary"]["last_odometer"]["km"] == 45000
    other = build_report(vin=OTHER_VIN)
    assert other["events"][0]["corrects"] == index
    assert other["summary"]["last_odometer"] is None

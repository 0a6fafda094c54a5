"""Each report flag rule on its own, over plain logged events (no database)."""

import datetime

import pytest
from django.utils import translation

from carhistory.vehicles.flags import (
    HIGH_KM_PER_YEAR,
    FlagCode,
    RiskLevel,
    Severity,
    report_flags,
    risk_level,
)
from carhistory.vehicles.history import LoggedEvent, attach_corrections
from carhistory.vehicles.odometer import analyse_readings

SOURCE = {"slug": "s", "name": "S", "kind": "dealer_4s", "kind_label": "", "status": "approved"}


def history(*events: tuple) -> list[LoggedEvent]:
    """(type, date, km or None, facts) in log order, indexed from 1."""
    logged = [
        LoggedEvent(
            index=index,
            entry={
                "type": event_type,
                "occurred_at": day,
                "facts": facts,
                **({"odometer_km": km} if km is not None else {}),
            },
            source=SOURCE,
            signed_by="source",
        )
        for index, (event_type, day, km, facts) in enumerate(events, start=1)
    ]
    attach_corrections(logged)
    return logged


def flags_of(events: list[LoggedEvent], built_on: datetime.date | None = None) -> list:
    odometer = analyse_readings(
        reading for event in events if (reading := event.odometer_reading()) is not None
    )
    return report_flags(events=events, odometer=odometer, built_on=built_on)


def only(flags: list, code: FlagCode):
    [flag] = [flag for flag in flags if flag.code == code]
    return flag


def first_registration(day: str, use: str = "private") -> tuple:
    return ("registration", day, None, {"event": "first_registration", "use": use, "region": "SH"})


def transfer(day: str, use: str = "private") -> tuple:
    return ("registration", day, None, {"event": "ownership_transfer", "use": use, "region": "SH"})


def test_taxi_car_is_former_commercial_use_naming_its_registration():
    events = history(first_registration("2020-08-03", "taxi"), transfer("2023-09-01"))
    flag = only(flags_of(events), FlagCode.FORMER_COMMERCIAL_USE)
    assert flag.severity == Severity.WARNING
    assert flag.indexes == [1]
    assert "Former taxi" in flag.message


def test_rental_and_commercial_use_are_flagged_too():
    events = history(
        first_registration("2019-01-03", "rental"), transfer("2021-01-04", "commercial")
    )
    flags = [f for f in flags_of(events) if f.code == FlagCode.FORMER_COMMERCIAL_USE]
    assert sorted(f.indexes[0] for f in flags) == [1, 2]


def test_private_car_has_no_commercial_use_flag():
    events = history(first_registration("2019-01-03"), transfer("2021-01-04"))
    assert FlagCode.FORMER_COMMERCIAL_USE not in {f.code for f in flags_of(events)}


def test_former_taxi_reads_ying_zhuan_fei_in_chinese():
    events = history(first_registration("2020-08-03", "taxi"), transfer("2023-09-01"))
    with translation.override("zh-hans"):
        flag = only(flags_of(events), FlagCode.FORMER_COMMERCIAL_USE)
    assert "营转非" in flag.message


def test_open_recall_names_campaign_and_component():
    events = history(
        ("recall", "2022-01-20", None, {"campaign": "SAMR-2022-017", "status": "open",
                                         "component": "fuel pump"}),
    )  # fmt: skip
    flag = only(flags_of(events), FlagCode.OPEN_RECALL)
    assert "SAMR-2022-017" in flag.message and "fuel pump" in flag.message
    assert flag.indexes == [1]


def test_remedied_recall_is_not_flagged():
    events = history(
        ("recall", "2021-10-05", None, {"campaign": "C1", "status": "open", "component": "x"}),
        ("recall", "2021-11-22", None, {"campaign": "C1", "status": "remedied", "component": "x"}),
    )
    assert FlagCode.OPEN_RECALL not in {f.code for f in flags_of(events)}


def test_severe_accident_with_airbags_is_danger():
    events = history(
        ("accident", "2020-11-08", None, {"severity": "severe", "airbags_deployed": True,
                                           "damage_areas": ["front"]}),
    )  # fmt: skip
    flag = only(flags_of(events), FlagCode.SEVERE_ACCIDENT)
    assert flag.severity == Severity.DANGER
    assert "airbags" in flag.message


def test_minor_accident_with_airbags_is_still_danger():
    events = history(
        ("accident", "2020-11-08", None, {"severity": "minor", "airbags_deployed": True,
                                           "damage_areas": []}),
    )  # fmt: skip
    assert only(flags_of(events), FlagCode.SEVERE_ACCIDENT).severity == Severity.DANGER


def test_minor_accident_is_no_risk_flag():
    events = history(
        ("accident", "2020-11-08", None, {"severity": "minor", "airbags_deployed": False,
                                           "damage_areas": ["rear"]}),
    )  # fmt: skip
    assert flags_of(events) == []


def test_total_loss_is_danger():
    events = history(
        ("insurance_claim", "2020-11-09", None, {"claim_kind": "collision", "total_loss": True}),
    )
    assert only(flags_of(events), FlagCode.TOTAL_LOSS).severity == Severity.DANGER


@pytest.mark.parametrize("area", ["front subframe", "Frame rail", "A-pillar", "副车架"])
def test_frame_damage_in_accidents_and_repairs_is_danger(area):
    events = history(("repair", "2021-03-02", None, {"parts": [area, "bonnet"], "area": "front"}))
    flag = only(flags_of(events), FlagCode.FRAME_DAMAGE)
    assert area in flag.message and "bonnet" not in flag.message


def test_failed_inspection_is_flagged():
    events = history(
        ("inspection", "2022-08-16", 201350, {"result": "fail"}),
        ("inspection", "2022-08-19", 201420, {"result": "pass"}),
    )
    assert only(flags_of(events), FlagCode.FAILED_INSPECTION).indexes == [1]


@pytest.mark.parametrize("brand", ["flood", "fire", "stolen", "scrapped", "salvage"])
def test_every_title_brand_is_danger(brand):
    events = history(("title_brand", "2020-12-15", None, {"brand": brand}))
    assert only(flags_of(events), FlagCode.TITLE_BRAND).severity == Severity.DANGER


def test_mileage_far_above_the_cars_age_is_flagged():
    # The demo taxi: 201,420 km two years after its first registration.
    events = history(
        first_registration("2020-08-03", "taxi"),
        ("inspection", "2022-08-19", 201420, {"result": "pass"}),
    )
    flag = only(flags_of(events), FlagCode.MILEAGE_IMPLAUSIBLE)
    assert flag.indexes == [2]
    assert "far above" in flag.message


def test_mileage_just_under_the_high_limit_is_not_flagged():
    events = history(
        first_registration("2020-01-01"),
        ("odometer", "2022-01-01", int(HIGH_KM_PER_YEAR * 2 * 0.98), {}),
    )
    assert FlagCode.MILEAGE_IMPLAUSIBLE not in {f.code for f in flags_of(events)}


def test_mileage_far_below_the_cars_age_is_flagged():
    events = history(first_registration("2016-01-01"), ("odometer", "2022-01-01", 6000, {}))
    assert "far below" in only(flags_of(events), FlagCode.MILEAGE_IMPLAUSIBLE).message


def test_a_new_cars_low_mileage_is_not_judged():
    events = history(first_registration("2022-01-01"), ("odometer", "2023-06-01", 800, {}))
    assert FlagCode.MILEAGE_IMPLAUSIBLE not in {f.code for f in flags_of(events)}


def test_mileage_is_judged_from_the_build_date_when_known():
    events = history(("odometer", "2021-01-01", 90_000, {}))
    flags = flags_of(events, built_on=datetime.date(2019, 1, 1))
    assert FlagCode.MILEAGE_IMPLAUSIBLE in {f.code for f in flags}


def test_three_owners_in_two_years_is_flagged():
    events = history(
        first_registration("2018-01-01"),
        transfer("2021-01-10"),
        transfer("2021-09-01"),
        transfer("2022-12-01"),
    )
    assert only(flags_of(events), FlagCode.MANY_OWNERS).indexes == [2, 3, 4]


def test_owners_changing_every_few_years_is_not_flagged():
    events = history(
        first_registration("2012-01-01"),
        transfer("2015-01-10"),
        transfer("2018-09-01"),
        transfer("2022-12-01"),
    )
    assert FlagCode.MANY_OWNERS not in {f.code for f in flags_of(events)}


def test_voided_record_raises_no_flag():
    events = history(
        ("title_brand", "2020-12-15", None, {"brand": "flood"}),
        ("correction", "2021-01-01", None, {"corrects": 1, "void": True, "reason": "wrong car"}),
    )
    assert FlagCode.TITLE_BRAND not in {f.code for f in flags_of(events)}


def test_flags_run_worst_first():
    events = history(
        ("recall", "2022-01-20", None, {"campaign": "C", "status": "open", "component": "x"}),
        ("title_brand", "2022-02-20", None, {"brand": "flood"}),
    )
    assert [f.code for f in flags_of(events)] == [FlagCode.TITLE_BRAND, FlagCode.OPEN_RECALL]


def test_risk_level_is_the_worst_flag():
    recall = ("recall", "2022-01-20", None, {"campaign": "C", "status": "open", "component": "x"})
    assert risk_level(flags_of(history(recall))) == RiskLevel.MEDIUM
    brand = ("title_brand", "2022-02-20", None, {"brand": "flood"})
    assert risk_level(flags_of(history(recall, brand))) == RiskLevel.HIGH
    assert risk_level([]) == RiskLevel.LOW


def test_every_flag_code_is_raised_somewhere_in_the_rules():
    import inspect

    from carhistory.vehicles import flags

    source = inspect.getsource(flags)
    # Once where it is defined, at least once where a rule raises it.
    unused = [code.name for code in FlagCode if source.count(f"FlagCode.{code.name}") < 1]
    assert unused == []

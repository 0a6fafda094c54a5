"""The odometer rules, judged on plain readings (no database)."""

import datetime

from hypothesis import given
from hypothesis import strategies as st

from carhistory.vehicles.odometer import (
    LONG_GAP_DAYS,
    MAX_KM_PER_DAY,
    Correction,
    OdometerFinding,
    Reading,
    ReadingMark,
    SourceStatus,
    analyse_readings,
)

START = datetime.date(2015, 1, 1)


def day(offset: int) -> datetime.date:
    return START + datetime.timedelta(days=offset)


def kinds(analysis) -> list[OdometerFinding]:
    return [finding.kind for finding in analysis.findings]


def marks(analysis) -> dict[int, ReadingMark | None]:
    return {reading.index: reading.mark for reading in analysis.readings}


def test_steady_history_has_no_findings():
    readings = [Reading(index=i, occurred_at=day(i * 180), km=i * 7000) for i in range(6)]
    analysis = analyse_readings(readings)
    assert analysis.findings == []
    assert analysis.last_reading.km == 35000


def test_rollback_names_both_conflicting_readings():
    analysis = analyse_readings(
        [
            Reading(index=3, occurred_at=day(0), km=45210),
            Reading(index=9, occurred_at=day(300), km=90100),
            Reading(index=12, occurred_at=day(400), km=45200),
        ]
    )
    assert kinds(analysis) == [OdometerFinding.ROLLBACK]
    finding = analysis.findings[0].as_dict()
    assert (finding["earlier_index"], finding["later_index"]) == (9, 12)
    assert (finding["earlier_km"], finding["later_km"]) == (90100, 45200)
    assert "90,100" in finding["message"] and "45,200" in finding["message"]
    assert marks(analysis) == {3: None, 9: ReadingMark.ROLLBACK, 12: ReadingMark.ROLLBACK}


def test_small_drop_within_tolerance_is_not_a_rollback():
    # 400 km below a reading of 30,000: under the 500 km floor of the tolerance.
    analysis = analyse_readings(
        [
            Reading(index=1, occurred_at=day(0), km=30000),
            Reading(index=2, occurred_at=day(10), km=29600),
        ]
    )
    assert analysis.findings == []


def test_tolerance_grows_with_the_reading():
    # 1% of 200,000 is 2,000 km: a 1,500 km drop is tolerated, a 2,500 km drop is not.
    tolerated = analyse_readings(
        [Reading(index=1, occurred_at=day(0), km=200000), Reading(2, day(30), 198500)]
    )
    flagged = analyse_readings(
        [Reading(index=1, occurred_at=day(0), km=200000), Reading(2, day(30), 197500)]
    )
    assert tolerated.findings == []
    assert kinds(flagged) == [OdometerFinding.ROLLBACK]


def test_one_rollback_is_reported_once_not_for_every_later_reading():
    analysis = analyse_readings(
        [
            Reading(1, day(0), 10000),
            Reading(2, day(100), 80000),
            Reading(3, day(200), 20000),
            Reading(4, day(300), 25000),
            Reading(5, day(400), 30000),
        ]
    )
    assert kinds(analysis) == [OdometerFinding.ROLLBACK]


def test_readings_are_judged_in_date_order_not_submission_order():
    # A late-submitted old reading is not a rollback.
    analysis = analyse_readings(
        [Reading(index=1, occurred_at=day(400), km=50000), Reading(2, day(0), 10000)]
    )
    assert analysis.findings == []
    assert [reading.index for reading in analysis.readings] == [2, 1]


def test_impossible_jump_is_flagged():
    analysis = analyse_readings(
        [Reading(1, day(0), 10000), Reading(2, day(2), 10000 + 3 * MAX_KM_PER_DAY)]
    )
    assert kinds(analysis) == [OdometerFinding.IMPOSSIBLE_JUMP]
    assert marks(analysis)[2] == ReadingMark.IMPOSSIBLE_JUMP


def test_long_drive_within_the_daily_limit_is_not_a_jump():
    analysis = analyse_readings(
        [Reading(1, day(0), 10000), Reading(2, day(2), 10000 + 2 * MAX_KM_PER_DAY)]
    )
    assert analysis.findings == []


def test_same_day_readings_count_as_one_day_apart():
    analysis = analyse_readings([Reading(1, day(0), 10000), Reading(2, day(0), 10800)])
    assert analysis.findings == []


def test_long_gap_is_flagged():
    analysis = analyse_readings(
        [Reading(1, day(0), 10000), Reading(2, day(LONG_GAP_DAYS + 1), 40000)]
    )
    assert kinds(analysis) == [OdometerFinding.LONG_GAP]
    assert analysis.findings[0].indexes == [1, 2]


def test_corrected_reading_is_judged_on_its_corrected_value():
    # Reading 2 was typed as 9,000 instead of 90,000; a moderator corrected it.
    readings = [
        Reading(1, day(0), 80000),
        Reading(2, day(100), 9000, corrections=(Correction(index=5, km=90000),)),
    ]
    analysis = analyse_readings(readings)
    assert analysis.findings == []
    assert analysis.last_reading.km == 90000


def test_the_last_correction_wins():
    corrections = (Correction(index=9, km=70000), Correction(index=7, km=1))
    analysis = analyse_readings([Reading(1, day(0), 5, corrections=corrections)])
    assert analysis.last_reading.km == 70000


def test_corrected_date_reorders_the_reading():
    readings = [
        Reading(1, day(0), 10000),
        Reading(2, day(100), 50000),
        Reading(3, day(200), 20000, corrections=(Correction(index=8, occurred_at=day(50)),)),
    ]
    assert analyse_readings(readings).findings == []


def test_voided_reading_is_excluded_from_judging():
    readings = [
        Reading(1, day(0), 80000),
        Reading(2, day(100), 1000, corrections=(Correction(index=5, void=True),)),
        Reading(3, day(200), 85000),
    ]
    analysis = analyse_readings(readings)
    assert analysis.findings == []
    assert marks(analysis)[2] == ReadingMark.EXCLUDED


def test_revoked_source_reading_is_excluded_and_said_so():
    readings = [
        Reading(1, day(0), 80000),
        Reading(2, day(100), 1000, source_status=SourceStatus.REVOKED),
        Reading(3, day(200), 85000),
    ]
    analysis = analyse_readings(readings)
    assert kinds(analysis) == [OdometerFinding.EXCLUDED_REVOKED_SOURCE]
    assert analysis.findings[0].indexes == [2]
    assert "revoked" in analysis.findings[0].message
    assert marks(analysis)[2] == ReadingMark.EXCLUDED


def test_revoked_source_reading_is_never_the_last_odometer():
    readings = [
        Reading(1, day(0), 80000),
        Reading(2, day(100), 999999, source_status=SourceStatus.REVOKED),
    ]
    assert analyse_readings(readings).last_reading.index == 1


def test_suspended_source_reading_counts_but_the_finding_says_so():
    readings = [
        Reading(1, day(0), 80000),
        Reading(2, day(100), 20000, source_status=SourceStatus.SUSPENDED),
    ]
    analysis = analyse_readings(readings)
    assert kinds(analysis) == [OdometerFinding.ROLLBACK]
    finding = analysis.findings[0]
    assert finding.rests_on_suspended_source
    assert "suspended" in finding.message


def test_no_readings_no_findings():
    analysis = analyse_readings([])
    assert analysis.findings == []
    assert analysis.last_reading is None
    assert analysis.as_dict() == {"readings": [], "findings": []}


increments = st.lists(
    st.tuples(st.integers(min_value=0, max_value=400), st.integers(min_value=0, max_value=50000)),
    min_size=1,
    max_size=40,
)


@given(increments, st.randoms())
def test_monotonic_readings_never_flag_a_rollback(steps, random):
    readings, date, km = [], START, 0
    for index, (days, added) in enumerate(steps):
        date += datetime.timedelta(days=days)
        km += added
        readings.append(Reading(index=index, occurred_at=date, km=km))
    random.shuffle(readings)
    analysis = analyse_readings(readings)
    assert OdometerFinding.ROLLBACK not in kinds(analysis)


@given(
    st.integers(min_value=0, max_value=1_000_000),
    st.integers(min_value=1, max_value=1_000_000),
    st.integers(min_value=1, max_value=3000),
)
def test_any_drop_beyond_the_tolerance_is_a_rollback(high, drop, days):
    readings = [Reading(1, day(0), high), Reading(2, day(days), max(high - drop, 0))]
    analysis = analyse_readings(readings)
    real_drop = high - max(high - drop, 0)
    expected = real_drop > max(500, high * 0.01)
    assert (OdometerFinding.ROLLBACK in kinds(analysis)) is expected


@given(st.lists(st.integers(min_value=0, max_value=500_000), min_size=1, max_size=30))
def test_every_reading_is_shown_once(kms):
    readings = [Reading(i, day(i * 30), km) for i, km in enumerate(kms)]
    analysis = analyse_readings(readings)
    assert sorted(reading.index for reading in analysis.readings) == list(range(len(kms)))

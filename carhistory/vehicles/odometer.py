"""The odometer rules: where a car's mileage history stops making sense.

Plain functions over plain values (no ORM), so every rule is tested on its own. The report
gathers readings from the log; here they are judged:

- corrections are applied first: a corrected reading is judged on its corrected value and date,
  a reading corrected to void is left out;
- readings from revoked sources are left out (and the findings say so): the platform no longer
  vouches for anything that source said; readings from suspended sources still count, but every
  finding that rests on one says so, so that a buyer weighs it;
- a rollback is a reading lower than the highest earlier one by more than a tolerance (typing
  slips and instrument changes cost a few hundred km, a tampered dashboard costs tens of
  thousands);
- an impossible jump is more km per day than a car can keep up between two readings;
- a long gap is a stretch with no reading at all, where a rollback could hide.
"""

import datetime
import enum
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from django.utils.translation import gettext as _

from carhistory.vehicles import formats

# A drop is a rollback only beyond the larger of these: small drops are typos and rounding.
ROLLBACK_TOLERANCE_KM = 500
ROLLBACK_TOLERANCE_RATIO = 0.01
# Twenty hours a day at 75 km/h; readings on the same day count as one day apart.
MAX_KM_PER_DAY = 1500
LONG_GAP_DAYS = 730


class SourceStatus(enum.StrEnum):
    APPROVED = "approved"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class OdometerFinding(enum.StrEnum):
    ROLLBACK = "rollback"
    IMPOSSIBLE_JUMP = "impossible_jump"
    LONG_GAP = "long_gap"
    EXCLUDED_REVOKED_SOURCE = "excluded_revoked_source"


class ReadingMark(enum.StrEnum):
    """What the report marks next to one reading on the chart."""

    ROLLBACK = "rollback"
    IMPOSSIBLE_JUMP = "impossible_jump"
    EXCLUDED = "excluded"


@dataclass(frozen=True)
class Correction:
    """A moderator's correction of one reading; of several, the one appended last wins."""

    index: int
    km: int | None = None
    occurred_at: datetime.date | None = None
    void: bool = False


@dataclass(frozen=True)
class Reading:
    index: int
    occurred_at: datetime.date
    km: int
    source_status: str = SourceStatus.APPROVED
    corrections: tuple[Correction, ...] = ()


@dataclass(frozen=True)
class JudgedReading:
    index: int
    occurred_at: datetime.date
    km: int
    suspended_source: bool
    revoked_source: bool
    void: bool
    mark: ReadingMark | None = None

    @property
    def excluded(self) -> bool:
        return self.void or self.revoked_source


@dataclass(frozen=True)
class Finding:
    kind: OdometerFinding
    message: str
    earlier: JudgedReading | None = None
    later: JudgedReading | None = None

    @property
    def indexes(self) -> list[int]:
        return [reading.index for reading in (self.earlier, self.later) if reading is not None]

    @property
    def rests_on_suspended_source(self) -> bool:
        readings = (self.earlier, self.later)
        return any(reading is not None and reading.suspended_source for reading in readings)

    def as_dict(self) -> dict:
        return {
            "kind": str(self.kind),
            "message": self.message,
            "indexes": self.indexes,
            "earlier_index": self.earlier.index if self.earlier else None,
            "later_index": self.later.index if self.later else None,
            "earlier_km": self.earlier.km if self.earlier else None,
            "later_km": self.later.km if self.later else None,
            "suspended_source": self.rests_on_suspended_source,
        }


@dataclass(frozen=True)
class OdometerAnalysis:
    readings: list[JudgedReading] = field(default_factory=list)  # by date, then log order
    findings: list[Finding] = field(default_factory=list)

    @property
    def last_reading(self) -> JudgedReading | None:
        """The most recent reading that counts: what the odometer showed last."""
        counted = [reading for reading in self.readings if not reading.excluded]
        return counted[-1] if counted else None

    def as_dict(self) -> dict:
        return {
            "readings": [
                {
                    "index": reading.index,
                    "occurred_at": reading.occurred_at.isoformat(),
                    "km": reading.km,
                    "finding": str(reading.mark) if reading.mark else None,
                }
                for reading in self.readings
            ],
            "findings": [finding.as_dict() for finding in self.findings],
        }


def rollback_tolerance_km(earlier_km: int) -> float:
    return max(ROLLBACK_TOLERANCE_KM, earlier_km * ROLLBACK_TOLERANCE_RATIO)


def analyse_readings(readings: Iterable[Reading]) -> OdometerAnalysis:
    """Judge a car's odometer readings, in any order, and say what does not add up."""
    judged = sorted(
        (_apply_corrections(reading) for reading in readings),
        key=lambda reading: (reading.occurred_at, reading.index),
    )
    findings = [_excluded_finding(reading) for reading in judged if reading.revoked_source]
    counted = [reading for reading in judged if not reading.excluded]
    findings += _rollbacks(counted) + _jumps(counted) + _gaps(counted)
    marks = _marks(findings)
    marked = [
        replace(reading, mark=ReadingMark.EXCLUDED)
        if reading.excluded
        else replace(reading, mark=marks.get(reading.index))
        for reading in judged
    ]
    return OdometerAnalysis(readings=marked, findings=findings)


def _apply_corrections(reading: Reading) -> JudgedReading:
    km, occurred_at, void = reading.km, reading.occurred_at, False
    for correction in sorted(reading.corrections, key=lambda correction: correction.index):
        if correction.void:
            void = True
        if correction.km is not None:
            km = correction.km
        if correction.occurred_at is not None:
            occurred_at = correction.occurred_at
    return JudgedReading(
        index=reading.index,
        occurred_at=occurred_at,
        km=km,
        suspended_source=reading.source_status == SourceStatus.SUSPENDED,
        revoked_source=reading.source_status == SourceStatus.REVOKED,
        void=void,
    )


def _excluded_finding(reading: JudgedReading) -> Finding:
    message = _(
        "The reading of %(km)s km on %(date)s is not counted: it comes from a source whose "
        "registration was revoked."
    ) % {"km": _km(reading.km), "date": reading.occurred_at.isoformat()}
    return Finding(OdometerFinding.EXCLUDED_REVOKED_SOURCE, message, later=reading)


def _rollbacks(counted: list[JudgedReading]) -> list[Finding]:
    findings = []
    highest: JudgedReading | None = None
    for reading in counted:
        if highest is not None and highest.km - reading.km > rollback_tolerance_km(highest.km):
            message = _(
                "The odometer went backwards: %(earlier_km)s km on %(earlier_date)s, then "
                "%(later_km)s km on %(later_date)s."
            ) % {
                "earlier_km": _km(highest.km),
                "earlier_date": highest.occurred_at.isoformat(),
                "later_km": _km(reading.km),
                "later_date": reading.occurred_at.isoformat(),
            }
            findings.append(_weighed(Finding(OdometerFinding.ROLLBACK, message, highest, reading)))
            # Judge what follows against the lowered reading, so that one rollback is reported
            # once, not again for every later reading below the old high.
            highest = reading
        elif highest is None or reading.km > highest.km:
            highest = reading
    return findings


def _jumps(counted: list[JudgedReading]) -> list[Finding]:
    findings = []
    for earlier, later in itertools.pairwise(counted):
        days = max((later.occurred_at - earlier.occurred_at).days, 1)
        if (later.km - earlier.km) / days > MAX_KM_PER_DAY:
            message = _(
                "The odometer rose from %(earlier_km)s km on %(earlier_date)s to %(later_km)s km "
                "on %(later_date)s: more than %(limit)s km a day, which no car keeps up."
            ) % {
                "earlier_km": _km(earlier.km),
                "earlier_date": earlier.occurred_at.isoformat(),
                "later_km": _km(later.km),
                "later_date": later.occurred_at.isoformat(),
                "limit": _km(MAX_KM_PER_DAY),
            }
            findings.append(
                _weighed(Finding(OdometerFinding.IMPOSSIBLE_JUMP, message, earlier, later))
            )
    return findings


def _gaps(counted: list[JudgedReading]) -> list[Finding]:
    findings = []
    for earlier, later in itertools.pairwise(counted):
        days = (later.occurred_at - earlier.occurred_at).days
        if days > LONG_GAP_DAYS:
            message = _(
                "No odometer reading for %(years).1f years, from %(earlier_date)s to "
                "%(later_date)s: the history cannot show what happened in between."
            ) % {
                "years": days / 365.25,
                "earlier_date": earlier.occurred_at.isoformat(),
                "later_date": later.occurred_at.isoformat(),
            }
            findings.append(Finding(OdometerFinding.LONG_GAP, message, earlier, later))
    return findings


def _weighed(finding: Finding) -> Finding:
    if not finding.rests_on_suspended_source:
        return finding
    note = _("One of these readings comes from a source that is currently suspended.")
    return replace(finding, message=f"{finding.message} {note}")


def _marks(findings: list[Finding]) -> dict[int, ReadingMark]:
    marks: dict[int, ReadingMark] = {}
    for finding in findings:
        if finding.kind == OdometerFinding.IMPOSSIBLE_JUMP and finding.later:
            marks.setdefault(finding.later.index, ReadingMark.IMPOSSIBLE_JUMP)
    # Both readings of a rollback conflict, and either may be the wrong one.
    for finding in findings:
        if finding.kind == OdometerFinding.ROLLBACK:
            for index in finding.indexes:
                marks[index] = ReadingMark.ROLLBACK
    return marks


def _km(km: int) -> str:
    return formats.number(km)

"""The report's alerts: every risk a buyer pays a history report to hear about, worst first.

Each rule is one function from the car's history to its flags, listed once in `RULES`; a new
flag is one function and one line there. Every flag names the log lines it rests on, so the
page links each risk to its proof and the risk level can be traced to rules and lines.

Rules judge *effective* values (corrections applied) of *counted* events (not voided, not from
a revoked source): what the platform now holds true.
"""

import datetime
import enum
from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from carhistory.vehicles import formats
from carhistory.vehicles.describe import label, listed
from carhistory.vehicles.history import CORRECTION, LoggedEvent
from carhistory.vehicles.odometer import OdometerAnalysis, OdometerFinding, SourceStatus


class Severity(enum.StrEnum):
    DANGER = "danger"
    WARNING = "warning"
    INFO = "info"


class FlagCode(enum.StrEnum):
    ODOMETER_ROLLBACK = "odometer_rollback"
    ODOMETER_IMPOSSIBLE_JUMP = "odometer_impossible_jump"
    LONG_GAP = "long_gap"
    TITLE_BRAND = "title_brand"
    TOTAL_LOSS = "total_loss"
    SEVERE_ACCIDENT = "severe_accident"
    FRAME_DAMAGE = "frame_damage"
    OPEN_RECALL = "open_recall"
    FORMER_COMMERCIAL_USE = "former_commercial_use"
    FAILED_INSPECTION = "failed_inspection"
    MILEAGE_IMPLAUSIBLE = "mileage_implausible"
    MANY_OWNERS = "many_owners"
    SUSPENDED_SOURCE = "suspended_source"
    REVOKED_SOURCE = "revoked_source"
    DISPUTED_ENTRY = "disputed_entry"
    CORRECTED_ENTRY = "corrected_entry"
    DATE_BEFORE_MANUFACTURE = "date_before_manufacture"


class RiskLevel(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True)
class Flag:
    code: FlagCode
    severity: Severity
    message: str
    indexes: list[int]

    def as_dict(self) -> dict:
        return {
            "code": str(self.code),
            "severity": str(self.severity),
            "message": self.message,
            "indexes": self.indexes,
        }


@dataclass(frozen=True)
class History:
    """What the rules read: the logged events, the odometer's analysis and the car's start."""

    events: list[LoggedEvent]
    odometer: OdometerAnalysis
    built_on: datetime.date | None = None

    @property
    def counted(self) -> list[LoggedEvent]:
        return [event for event in self.events if event.counted]

    def counted_of_type(self, event_type: str) -> list[LoggedEvent]:
        return [event for event in self.counted if event.type == event_type]

    @property
    def started_on(self) -> datetime.date | None:
        """The car's first day on the road as far as the log knows: built, else registered,
        else its earliest dated record."""
        if self.built_on is not None:
            return self.built_on
        dates = sorted(event.occurred_on for event in self.counted if event.occurred_on)
        registered = [
            event.occurred_on
            for event in self.counted_of_type("registration")
            if event.effective["facts"].get("event") == "first_registration" and event.occurred_on
        ]
        return min(registered) if registered else (dates[0] if dates else None)


_ORDER = {Severity.DANGER: 0, Severity.WARNING: 1, Severity.INFO: 2}

# Recalls may be dated by the campaign rather than the car, so they are not held to the build date.
_DATED_BY_THE_CAR_EXCEPT = ("manufacture", "recall", CORRECTION)
COMMERCIAL_USES = ("commercial", "taxi", "rental")
# Words that put damage on the load-bearing structure, in the languages sources write in.
FRAME_WORDS = (
    "frame",
    "subframe",
    "chassis",
    "pillar",
    "rail",
    "车架",
    "大梁",
    "纵梁",
    "副车架",
    "立柱",
)
# Mileage a car's age makes plausible (see docs/REPORT.md): Chinese private cars average
# 10,000-15,000 km a year; taxis and ride-hailing cars 80,000-120,000. Beyond 40,000 km a year
# the car was worked hard (or a reading is wrong); under 2,000 km a year over three years or
# more, the car stood still or its odometer was wound back before the first reading we hold.
HIGH_KM_PER_YEAR = 40_000
LOW_KM_PER_YEAR = 2_000
MIN_YEARS_FOR_HIGH = 1.0
MIN_YEARS_FOR_LOW = 3.0
# Owners changing this often is the pattern of a car passed on because of a hidden fault.
MANY_OWNERS_COUNT = 3
MANY_OWNERS_WITHIN_DAYS = 730
DAYS_PER_YEAR = 365.25


def report_flags(
    *, events: list[LoggedEvent], odometer: OdometerAnalysis, built_on: datetime.date | None
) -> list[Flag]:
    history = History(events=events, odometer=odometer, built_on=built_on)
    flags = [flag for rule in RULES for flag in rule(history)]
    return sorted(flags, key=lambda flag: _ORDER[flag.severity])


def risk_level(flags: list[Flag]) -> RiskLevel:
    """High when any flag is a danger, medium when any is a warning, low otherwise: the level
    is exactly its worst flag, so each step of it is a rule and a line on the page."""
    severities = {flag.severity for flag in flags}
    if Severity.DANGER in severities:
        return RiskLevel.HIGH
    if Severity.WARNING in severities:
        return RiskLevel.MEDIUM
    return RiskLevel.LOW


def _date(day: datetime.date | None) -> str:
    return day.isoformat() if day else "?"


def title_brand_flags(history: History) -> list[Flag]:
    """Salvage, flood, fire, stolen, scrapped, rebuilt, lemon: a branded title, always danger."""
    return [
        Flag(
            FlagCode.TITLE_BRAND,
            Severity.DANGER,
            _("The title was branded %(brand)s on %(date)s.")
            % {
                "brand": label(event.effective["facts"].get("brand")),
                "date": _date(event.occurred_on),
            },
            [event.index],
        )
        for event in history.counted_of_type("title_brand")
    ]


def total_loss_flags(history: History) -> list[Flag]:
    return [
        Flag(
            FlagCode.TOTAL_LOSS,
            Severity.DANGER,
            _("An insurer declared the car a total loss on %(date)s.")
            % {"date": _date(event.occurred_on)},
            [event.index],
        )
        for event in history.counted_of_type("insurance_claim")
        if event.effective["facts"].get("total_loss") is True
    ]


def severe_accident_flags(history: History) -> list[Flag]:
    """A severe accident or one that set off the airbags: the car's safety systems were used."""
    flags = []
    for event in history.counted_of_type("accident"):
        facts = event.effective["facts"]
        severe, airbags = facts.get("severity") == "severe", facts.get("airbags_deployed") is True
        if not (severe or airbags):
            continue
        if severe and airbags:
            message = _("Severe accident on %(date)s; the airbags deployed.")
        elif severe:
            message = _("Severe accident on %(date)s.")
        else:
            message = _("Accident on %(date)s in which the airbags deployed.")
        flags.append(
            Flag(
                FlagCode.SEVERE_ACCIDENT,
                Severity.DANGER,
                message % {"date": _date(event.occurred_on)},
                [event.index],
            )
        )
    return flags


def frame_damage_flags(history: History) -> list[Flag]:
    """Damage to or repairs of the frame, subframe or pillars: what protects in a crash."""
    flags = []
    for event in history.counted:
        facts = event.effective["facts"]
        if event.type == "accident":
            named = facts.get("damage_areas")
        elif event.type == "repair":
            named = facts.get("parts")
        else:
            continue
        structural = [
            item
            for item in (named if isinstance(named, list) else [])
            if isinstance(item, str) and any(word in item.lower() for word in FRAME_WORDS)
        ]
        if structural:
            flags.append(
                Flag(
                    FlagCode.FRAME_DAMAGE,
                    Severity.DANGER,
                    _("Structural damage or repair on %(date)s: %(parts)s.")
                    % {"date": _date(event.occurred_on), "parts": listed(structural)},
                    [event.index],
                )
            )
    return flags


def open_recall_flags(history: History) -> list[Flag]:
    """One flag per campaign whose latest record is still open, naming campaign and component."""
    latest: dict[str, LoggedEvent] = {}
    for event in history.counted_of_type("recall"):
        campaign = str(event.effective["facts"].get("campaign"))
        known = latest.get(campaign)
        if known is None or (_date(event.occurred_on), event.index) > (
            _date(known.occurred_on),
            known.index,
        ):
            latest[campaign] = event
    flags = []
    for campaign, event in latest.items():
        facts = event.effective["facts"]
        if facts.get("status") != "open":
            continue
        flags.append(
            Flag(
                FlagCode.OPEN_RECALL,
                Severity.WARNING,
                _("Open recall %(campaign)s (%(component)s): ask a dealer to fix it for free.")
                % {"campaign": campaign, "component": label(facts.get("component"))},
                [event.index],
            )
        )
    return flags


def former_commercial_use_flags(history: History) -> list[Flag]:
    """Taxi, rental or commercial registration (营转非 when later private): heavy wear."""
    flags = []
    registrations = history.counted_of_type("registration")
    for use in COMMERCIAL_USES:
        lines = [event for event in registrations if event.effective["facts"].get("use") == use]
        if not lines:
            continue
        later_private = any(
            event.effective["facts"].get("use") == "private"
            and (event.occurred_on or datetime.date.min)
            > (lines[-1].occurred_on or datetime.date.min)
            for event in registrations
        )
        values = {"use": label(use), "date": _date(lines[0].occurred_on)}
        if later_private:
            message = _(
                "Former %(use)s use: registered for it on %(date)s, later re-registered for "
                "private use."
            )
        else:
            message = _("Registered for %(use)s use on %(date)s.")
        flags.append(
            Flag(
                FlagCode.FORMER_COMMERCIAL_USE,
                Severity.WARNING,
                message % values,
                [event.index for event in lines],
            )
        )
    return flags


def failed_inspection_flags(history: History) -> list[Flag]:
    return [
        Flag(
            FlagCode.FAILED_INSPECTION,
            Severity.WARNING,
            _("Failed an inspection on %(date)s.") % {"date": _date(event.occurred_on)},
            [event.index],
        )
        for event in history.counted_of_type("inspection")
        if event.effective["facts"].get("result") == "fail"
    ]


def mileage_plausibility_flags(history: History) -> list[Flag]:
    """The last reading against the car's age: far above or below what owners drive."""
    last, started_on = history.odometer.last_reading, history.started_on
    if last is None or started_on is None or last.occurred_at <= started_on:
        return []
    years = (last.occurred_at - started_on).days / DAYS_PER_YEAR
    per_year = last.km / years
    values = {
        "km": formats.km(last.km),
        "date": last.occurred_at.isoformat(),
        "years": f"{years:.1f}",
        "per_year": formats.km(int(round(per_year, -2))),
    }
    if years >= MIN_YEARS_FOR_HIGH and per_year > HIGH_KM_PER_YEAR:
        message = _(
            "%(km)s on %(date)s after %(years)s years: about %(per_year)s a year, far above the "
            "10,000–15,000 km of a private car."
        )
    elif years >= MIN_YEARS_FOR_LOW and per_year < LOW_KM_PER_YEAR:
        message = _(
            "%(km)s on %(date)s after %(years)s years: about %(per_year)s a year, far below what "
            "cars are driven; the car stood still or its odometer was wound back."
        )
    else:
        return []
    return [Flag(FlagCode.MILEAGE_IMPLAUSIBLE, Severity.WARNING, message % values, [last.index])]


def many_owners_flags(history: History) -> list[Flag]:
    """Three or more changes of owner within two years: a car being passed on quickly."""
    transfers = sorted(
        (
            event
            for event in history.counted_of_type("registration")
            if event.effective["facts"].get("event") == "ownership_transfer" and event.occurred_on
        ),
        key=lambda event: event.occurred_on,
    )
    for start in range(len(transfers) - MANY_OWNERS_COUNT + 1):
        window = transfers[start : start + MANY_OWNERS_COUNT]
        if (window[-1].occurred_on - window[0].occurred_on).days <= MANY_OWNERS_WITHIN_DAYS:
            return [
                Flag(
                    FlagCode.MANY_OWNERS,
                    Severity.WARNING,
                    _("The car changed owner %(count)d times between %(first)s and %(last)s.")
                    % {
                        "count": len(window),
                        "first": _date(window[0].occurred_on),
                        "last": _date(window[-1].occurred_on),
                    },
                    [event.index for event in window],
                )
            ]
    return []


_ODOMETER_FLAGS = {
    OdometerFinding.ROLLBACK: (FlagCode.ODOMETER_ROLLBACK, Severity.DANGER),
    OdometerFinding.IMPOSSIBLE_JUMP: (FlagCode.ODOMETER_IMPOSSIBLE_JUMP, Severity.WARNING),
    OdometerFinding.LONG_GAP: (FlagCode.LONG_GAP, Severity.INFO),
}


def odometer_flags(history: History) -> list[Flag]:
    """Rollbacks, impossible jumps and long gaps, as `odometer.py` finds them."""
    # Readings left out because their source was revoked are said once per source, below.
    flags = []
    for finding in history.odometer.findings:
        if finding.kind not in _ODOMETER_FLAGS:
            continue
        code, severity = _ODOMETER_FLAGS[finding.kind]
        if finding.rests_on_suspended_source and severity == Severity.DANGER:
            severity = Severity.WARNING
        flags.append(Flag(code, severity, finding.message, finding.indexes))
    return flags


def source_flags(history: History) -> list[Flag]:
    """Records from a suspended or revoked source, once per source."""
    by_source: dict[str, list[LoggedEvent]] = {}
    for event in history.events:
        if event.source["status"] in (SourceStatus.SUSPENDED, SourceStatus.REVOKED):
            by_source.setdefault(event.source["slug"], []).append(event)
    return [_source_flag(source_events) for source_events in by_source.values()]


def _source_flag(source_events: list[LoggedEvent]) -> Flag:
    source, count = source_events[0].source, len(source_events)
    if source["status"] == SourceStatus.REVOKED:
        code = FlagCode.REVOKED_SOURCE
        message = ngettext(
            "%(count)d record comes from %(name)s, whose registration was revoked: it is "
            "shown but not counted.",
            "%(count)d records come from %(name)s, whose registration was revoked: they are "
            "shown but not counted.",
            count,
        )
    else:
        code = FlagCode.SUSPENDED_SOURCE
        message = ngettext(
            "%(count)d record comes from %(name)s, which is currently suspended: weigh it "
            "with care.",
            "%(count)d records come from %(name)s, which is currently suspended: weigh them "
            "with care.",
            count,
        )
    return Flag(
        code,
        Severity.WARNING,
        message % {"count": count, "name": source["name"]},
        [event.index for event in source_events],
    )


def date_before_manufacture_flags(history: History) -> list[Flag]:
    built_on = history.built_on
    if built_on is None:
        return []
    return [
        Flag(
            FlagCode.DATE_BEFORE_MANUFACTURE,
            Severity.WARNING,
            _("Record #%(index)d is dated %(date)s, before the car was built on %(built_on)s.")
            % {
                "index": event.index,
                "date": event.occurred_on.isoformat(),
                "built_on": built_on.isoformat(),
            },
            [event.index],
        )
        for event in history.counted
        if event.type not in _DATED_BY_THE_CAR_EXCEPT
        and event.occurred_on is not None
        and event.occurred_on < built_on
    ]


def dispute_flags(history: History) -> list[Flag]:
    return [
        Flag(
            FlagCode.DISPUTED_ENTRY,
            Severity.WARNING,
            _("Record #%(index)d is disputed and under review by the moderators.")
            % {"index": event.index},
            [event.index],
        )
        for event in history.events
        if event.disputed
    ]


def correction_flags(history: History) -> list[Flag]:
    flags = []
    for event in history.events:
        for correction in event.corrections:
            reason = label(correction.facts.get("reason"))
            if correction.facts.get("void") is True:
                message = _("Record #%(index)d was withdrawn by the moderators: %(reason)s")
            else:
                message = _("Record #%(index)d was corrected by the moderators: %(reason)s")
            flags.append(
                Flag(
                    FlagCode.CORRECTED_ENTRY,
                    Severity.INFO,
                    message % {"index": event.index, "reason": reason},
                    [event.index, correction.index],
                )
            )
    return flags


RULES: list[Callable[[History], list[Flag]]] = [
    title_brand_flags,
    total_loss_flags,
    severe_accident_flags,
    frame_damage_flags,
    odometer_flags,
    open_recall_flags,
    former_commercial_use_flags,
    failed_inspection_flags,
    mileage_plausibility_flags,
    many_owners_flags,
    source_flags,
    date_before_manufacture_flags,
    dispute_flags,
    correction_flags,
]

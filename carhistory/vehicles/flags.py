"""The report's alerts: what a buyer should look at before anything else, most serious first."""

import datetime
import enum
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from carhistory.vehicles.describe import label
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
    SUSPENDED_SOURCE = "suspended_source"
    REVOKED_SOURCE = "revoked_source"
    DISPUTED_ENTRY = "disputed_entry"
    CORRECTED_ENTRY = "corrected_entry"
    DATE_BEFORE_MANUFACTURE = "date_before_manufacture"


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


_ORDER = {Severity.DANGER: 0, Severity.WARNING: 1, Severity.INFO: 2}

# Recalls may be dated by the campaign rather than the car, so they are not held to the build date.
_DATED_BY_THE_CAR_EXCEPT = ("manufacture", "recall", CORRECTION)


def report_flags(
    *, events: list[LoggedEvent], odometer: OdometerAnalysis, built_on: datetime.date | None
) -> list[Flag]:
    flags = (
        _title_brand_flags(events)
        + _odometer_flags(odometer)
        + _source_flags(events)
        + _date_flags(events, built_on)
        + _dispute_flags(events)
        + _correction_flags(events)
    )
    return sorted(flags, key=lambda flag: _ORDER[flag.severity])


def _title_brand_flags(events: list[LoggedEvent]) -> list[Flag]:
    return [
        Flag(
            FlagCode.TITLE_BRAND,
            Severity.DANGER,
            _("The title was branded %(brand)s on %(date)s.")
            % {
                "brand": label(event.effective["facts"].get("brand")),
                "date": event.occurred_on.isoformat() if event.occurred_on else "?",
            },
            [event.index],
        )
        for event in events
        if event.counted and event.type == "title_brand"
    ]


_ODOMETER_FLAGS = {
    OdometerFinding.ROLLBACK: (FlagCode.ODOMETER_ROLLBACK, Severity.DANGER),
    OdometerFinding.IMPOSSIBLE_JUMP: (FlagCode.ODOMETER_IMPOSSIBLE_JUMP, Severity.WARNING),
    OdometerFinding.LONG_GAP: (FlagCode.LONG_GAP, Severity.INFO),
}


def _odometer_flags(odometer: OdometerAnalysis) -> list[Flag]:
    # Readings left out because their source was revoked are said once per source, below.
    flags = []
    for finding in odometer.findings:
        if finding.kind not in _ODOMETER_FLAGS:
            continue
        code, severity = _ODOMETER_FLAGS[finding.kind]
        if finding.rests_on_suspended_source and severity == Severity.DANGER:
            severity = Severity.WARNING
        flags.append(Flag(code, severity, finding.message, finding.indexes))
    return flags


def _source_flags(events: list[LoggedEvent]) -> list[Flag]:
    by_source: dict[str, list[LoggedEvent]] = {}
    for event in events:
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


def _date_flags(events: list[LoggedEvent], built_on: datetime.date | None) -> list[Flag]:
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
        for event in events
        if event.counted
        and event.type not in _DATED_BY_THE_CAR_EXCEPT
        and event.occurred_on is not None
        and event.occurred_on < built_on
    ]


def _dispute_flags(events: list[LoggedEvent]) -> list[Flag]:
    return [
        Flag(
            FlagCode.DISPUTED_ENTRY,
            Severity.WARNING,
            _("Record #%(index)d is disputed and under review by the moderators.")
            % {"index": event.index},
            [event.index],
        )
        for event in events
        if event.disputed
    ]


def _correction_flags(events: list[LoggedEvent]) -> list[Flag]:
    flags = []
    for event in events:
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

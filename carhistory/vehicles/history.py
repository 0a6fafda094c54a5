"""A car's logged events as the report reads them: each entry with who said it, whether it is
disputed, and the moderators' corrections applied.

The log never changes an entry; a `correction` entry names the one it corrects and carries the
corrected fields. Here each event gets its *effective* values (the logged ones with every
correction laid over, in log order) so that the summary, the flags and the odometer judge what
the platform now holds true, while the report still shows what was logged.
"""

import datetime
from dataclasses import dataclass, field

from carhistory.vehicles.odometer import Correction, Reading, SourceStatus

CORRECTION = "correction"
# Fields of a correction's facts that say what it is rather than what it changes.
_CORRECTION_META = ("corrects", "reason", "void")
# Fields a correction may change at the top level of the entry object; the rest are facts.
_TOP_LEVEL_FIELDS = ("occurred_at", "odometer_km")


@dataclass
class LoggedEvent:
    index: int
    entry: dict
    source: dict
    signed_by: str
    disputed: bool = False
    corrections: list["LoggedEvent"] = field(default_factory=list)

    @property
    def type(self) -> str:
        return self.entry.get("type", "")

    @property
    def facts(self) -> dict:
        facts = self.entry.get("facts")
        return facts if isinstance(facts, dict) else {}

    @property
    def voided(self) -> bool:
        return any(correction.facts.get("void") is True for correction in self.corrections)

    @property
    def counted(self) -> bool:
        """Whether the summary and flags rely on this event: not voided, not a correction, and
        not from a source whose registration was revoked."""
        return (
            self.type != CORRECTION
            and not self.voided
            and self.source["status"] != SourceStatus.REVOKED
        )

    @property
    def effective(self) -> dict:
        """The entry with every correction applied, later corrections winning."""
        entry = dict(self.entry)
        facts = dict(self.facts)
        for correction in self.corrections:
            for name, value in correction.facts.items():
                if name in _CORRECTION_META:
                    continue
                if name in _TOP_LEVEL_FIELDS:
                    entry[name] = value
                else:
                    facts[name] = value
        entry["facts"] = facts
        return entry

    @property
    def changes(self) -> list[dict]:
        """What each correction changed, in log order: the field, its value before and after,
        the public reason and the correction's index, so a report can show old -> new."""
        current = {**self.facts, **{name: self.entry.get(name) for name in _TOP_LEVEL_FIELDS}}
        changes = []
        for correction in self.corrections:
            for name, value in correction.facts.items():
                if name in _CORRECTION_META:
                    continue
                changes.append(
                    {
                        "field": name,
                        "old": current.get(name),
                        "new": value,
                        "reason": correction.facts.get("reason"),
                        "correction": correction.index,
                    }
                )
                current[name] = value
        return changes

    @property
    def occurred_on(self) -> datetime.date | None:
        return parse_date(self.effective.get("occurred_at"))

    def odometer_reading(self) -> Reading | None:
        """This event as an odometer reading, if it (or a correction of it) records one."""
        occurred_on = parse_date(self.entry.get("occurred_at"))
        km = self.entry.get("odometer_km")
        corrections = tuple(_as_odometer_correction(correction) for correction in self.corrections)
        if not isinstance(km, int):
            # Only a correction supplied the reading: judge it on that.
            km = next((c.km for c in reversed(corrections) if c.km is not None), None)
        if self.type == CORRECTION or km is None or occurred_on is None:
            return None
        return Reading(
            index=self.index,
            occurred_at=occurred_on,
            km=km,
            source_status=self.source["status"],
            corrections=corrections,
        )


def parse_date(value: object) -> datetime.date | None:
    """The calendar date of an `occurred_at` (a date or an RFC 3339 UTC time)."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.date.fromisoformat(value[:10])
    except ValueError:
        return None


def attach_corrections(events: list[LoggedEvent]) -> None:
    """Give each event the corrections that name it, in log order."""
    by_index = {event.index: event for event in events}
    for event in events:
        if event.type != CORRECTION:
            continue
        corrected = by_index.get(event.facts.get("corrects"))
        if corrected is not None and corrected.type != CORRECTION:
            corrected.corrections.append(event)


def _as_odometer_correction(correction: LoggedEvent) -> Correction:
    km = correction.facts.get("odometer_km")
    return Correction(
        index=correction.index,
        km=km if isinstance(km, int) and not isinstance(km, bool) else None,
        occurred_at=parse_date(correction.facts.get("occurred_at")),
        void=correction.facts.get("void") is True,
    )

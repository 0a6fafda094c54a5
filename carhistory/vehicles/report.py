"""The buyer's history report for one VIN: what `GET /api/v1/vehicles/<VIN>/report` returns and
what the HTML report renders.

It reads a fixed handful of rows whatever the car's history holds: the latest checkpoint, the
VIN's entries together with the checkpoint's last entry (one query on two indexes; the last
says whether the checkpoint commits to the VIN index), their sources (one query) and their
disputes (one query).
Entries integrated after the checkpoint it read are left out, so every line it shows is
covered by the checkpoint it shows.
"""

import json
from collections.abc import Iterable

from carhistory_verifier import protocol
from carhistory_verifier.entry import b64encode
from django.utils.translation import gettext as _

from carhistory.moderation.selectors import disputes_by_index
from carhistory.sources.models import Organisation
from carhistory.vehicles.describe import describe_event
from carhistory.vehicles.flags import report_flags, risk_level
from carhistory.vehicles.formats import is_chinese
from carhistory.vehicles.history import LoggedEvent, attach_corrections, parse_date
from carhistory.vehicles.odometer import OdometerAnalysis, SourceStatus, analyse_readings
from carhistory.vin import (
    ModelYearBasis,
    VinCheck,
    check_vin,
    decode_vin,
    settle_model_year,
)
from ledger.selectors import (
    Checkpoint,
    VinHistory,
    latest_checkpoint,
    log_verifier_key,
    vin_history,
)

PLATFORM = protocol.PLATFORM_SOURCE
OPEN = "open"  # a recall's status
UNDER_REVIEW = "under_review"  # a dispute's status once a moderator accepts it (moderation)
OWNER_EVENTS = ("first_registration", "ownership_transfer")


def build_report(*, vin: str, checkpoint: Checkpoint | None = None) -> dict:
    """The report for `vin` as of `checkpoint` (the latest one when not given), JSON-ready."""
    vin_check = check_vin(vin)
    if checkpoint is None:
        checkpoint = latest_checkpoint()
    history = vin_history(vin_check.vin, checkpoint) if vin_check.is_valid else None
    events = _logged_events(history) if history is not None else []
    odometer = analyse_readings(
        reading for event in events if (reading := event.odometer_reading()) is not None
    )
    manufacture = _manufacture(events)
    built_on = parse_date(manufacture["built_on"]) if manufacture else None
    flags = report_flags(events=events, odometer=odometer, built_on=built_on)
    return {
        "vin": vin_check.vin,
        "vin_check": _vin_check(vin_check),
        "vehicle": _vehicle(vin_check, manufacture, events),
        "checkpoint": _checkpoint(checkpoint),
        "summary": _summary(events, odometer),
        "flags": [flag.as_dict() for flag in flags],
        "risk_level": str(risk_level(flags)),
        "odometer": odometer.as_dict(),
        "events": [_event(event) for event in events],
        "empty": not events,
        "completeness": _completeness(checkpoint, history, events),
    }


def _completeness(checkpoint: Checkpoint | None, history: VinHistory | None, events: list) -> dict:
    """SPEC §7: whether the checkpoint commits to the VIN index, so that the evidence bundle
    proves these are all the VIN's records. The buyer's browser checks that proof itself and
    only then says so; this tells the page which words to prepare."""
    size = checkpoint.tree_size if checkpoint is not None else 0
    proven = history is not None and history.commits_to_vin_index
    return {"proven": proven, "records": len(events), "log_size": size}


def _vin_check(vin_check: VinCheck) -> dict:
    checked = vin_check.as_dict()
    return {name: checked[name] for name in ("is_valid", "check_digit", "errors")}


def _logged_events(history: VinHistory) -> list[LoggedEvent]:
    entries = {row.index: json.loads(bytes(row.data)) for row in history.entries}
    if not entries:
        return []
    sources = _sources({entry.get("source", "") for entry in entries.values()})
    disputes = disputes_by_index(entries)
    log_key = log_verifier_key()
    events = [
        LoggedEvent(
            index=index,
            entry=entry,
            source=sources[entry.get("source", "")],
            signed_by=PLATFORM if entry.get("source_key") == log_key else "source",
            # Only once a moderator has accepted it for review: one anonymous click is not enough.
            disputed=any(dispute.status == UNDER_REVIEW for dispute in disputes.get(index, ())),
        )
        for index, entry in entries.items()
    ]
    attach_corrections(events)
    return events


def _sources(slugs: set[str]) -> dict[str, dict]:
    found = {
        organisation.slug: {
            "slug": organisation.slug,
            # The Chinese name on Chinese pages when it has one; reports are built, and cached,
            # per language (cache.py).
            "name": (is_chinese() and organisation.name_zh_hans) or organisation.name,
            "kind": organisation.kind,
            "kind_label": str(organisation.get_kind_display()),
            "status": organisation.status,
        }
        for organisation in Organisation.objects.filter(slug__in=slugs).only(
            "slug", "name", "name_zh_hans", "kind", "status"
        )
    }
    found[PLATFORM] = {
        "slug": PLATFORM,
        "name": _("carhistory"),
        "kind": PLATFORM,
        "kind_label": _("The platform"),
        "status": SourceStatus.APPROVED,
    }
    # A slug with no organisation row (a source deleted from the database but not from the
    # log) is shown as logged, and trusted no more than the log itself.
    for slug in slugs - found.keys():
        found[slug] = {"slug": slug, "name": slug, "kind": None, "kind_label": "", "status": ""}
    return found


def _manufacture(events: list[LoggedEvent]) -> dict | None:
    for event in events:
        if event.counted and event.type == "manufacture":
            facts = event.effective["facts"]
            return {
                "index": event.index,
                "plant": facts.get("plant"),
                "built_on": facts.get("built_on"),
                "model": facts.get("model"),
                "model_year": facts.get("model_year"),
            }
    return None


def _vehicle(vin_check: VinCheck, manufacture: dict | None, events: list[LoggedEvent]) -> dict:
    decoded = decode_vin(vin_check.vin) if vin_check.is_valid else None
    candidates = decoded.model_years if decoded else []
    return {
        "manufacturer": decoded.manufacturer if decoded else None,
        "country": decoded.country if decoded else None,
        "region": decoded.region if decoded else None,
        "model_years": candidates,
        "model_year": _model_year(candidates, manufacture, events),
        "manufacture": manufacture,
    }


def _model_year(candidates: list[int], manufacture: dict | None, events: list[LoggedEvent]) -> dict:
    """The model year and what settled it: the maker's record, else the log's dates."""
    if manufacture and isinstance(manufacture.get("model_year"), int):
        return {"year": manufacture["model_year"], "basis": ModelYearBasis.MANUFACTURE}
    counted = [event for event in events if event.counted and event.occurred_on]
    first_registered = min(
        (
            event.occurred_on
            for event in counted
            if event.type == "registration"
            and event.effective["facts"].get("event") == "first_registration"
        ),
        default=None,
    )
    earliest = min((event.occurred_on for event in counted), default=None)
    settled = settle_model_year(
        candidates, first_registered=first_registered, earliest_record=earliest
    )
    return {"year": settled.year, "basis": settled.basis}


def _checkpoint(checkpoint: Checkpoint | None) -> dict | None:
    if checkpoint is None:
        return None
    return {
        "tree_size": checkpoint.tree_size,
        "root_hash": b64encode(bytes(checkpoint.root_hash)),
        "note": checkpoint.note,
    }


def _summary(events: list[LoggedEvent], odometer: OdometerAnalysis) -> dict:
    counted = [event for event in events if event.counted]
    facts = [(event, event.effective["facts"]) for event in counted]
    dates = sorted(event.occurred_on for event in counted if event.occurred_on)
    last = odometer.last_reading
    return {
        "records": sum(1 for event in events if event.type != "correction"),
        "owners": sum(
            1
            for event, fact in facts
            if event.type == "registration" and fact.get("event") in OWNER_EVENTS
        ),
        "accidents": sum(1 for event in counted if event.type == "accident"),
        "title_brands": _unique(
            fact.get("brand") for event, fact in facts if event.type == "title_brand"
        ),
        "last_odometer": (
            {"km": last.km, "occurred_at": last.occurred_at.isoformat(), "index": last.index}
            if last
            else None
        ),
        "open_recalls": _open_recalls(counted),
        "uses": _unique(fact.get("use") for event, fact in facts if event.type == "registration"),
        "first_seen": dates[0].isoformat() if dates else None,
        "last_seen": dates[-1].isoformat() if dates else None,
    }


def _unique(values: Iterable[object]) -> list[str]:
    """Distinct non-empty strings in the order they first appear."""
    return list(dict.fromkeys(value for value in values if isinstance(value, str) and value))


def _open_recalls(counted: list[LoggedEvent]) -> int:
    # A campaign's latest record decides: a dealer's "remedied" closes the maker's "open".
    latest: dict[str, tuple] = {}
    for event in counted:
        if event.type != "recall":
            continue
        facts = event.effective["facts"]
        key = (event.occurred_on.isoformat() if event.occurred_on else "", event.index)
        campaign = str(facts.get("campaign"))
        if campaign not in latest or key > latest[campaign][0]:
            latest[campaign] = (key, facts.get("status"))
    return sum(1 for _key, status in latest.values() if status == OPEN)


def _event(event: LoggedEvent) -> dict:
    entry = event.entry
    corrects = event.facts.get("corrects") if event.type == "correction" else None
    return {
        "index": event.index,
        "type": event.type,
        "occurred_at": entry.get("occurred_at"),
        "odometer_km": entry.get("odometer_km"),
        "facts": event.facts,
        "submitted_at": entry.get("submitted_at"),
        "source": event.source,
        "signed_by": event.signed_by,
        "disputed": event.disputed,
        "corrected_by": [correction.index for correction in event.corrections],
        "changes": event.changes,
        "corrects": corrects,
        "voided": event.voided,
        "summary": describe_event(entry),
    }

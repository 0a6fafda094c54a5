"""The event types and their public facts (SPEC §5), in one place.

The API, the web form and the CSV importer all call `validate_submission`, which returns the
cleaned event or a field-by-field list of errors a person can act on. Validation is plain Python
(no serializer per item) because the batch API validates thousands of events a second.

What a source must sign (SPEC §2) is built from the cleaned event, so a source that signs its
own submissions signs the upper-cased VIN, `facts` as `{}` when it sends none, and no
`odometer_km` key when it sends none.
"""

import datetime
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from carhistory_verifier import protocol
from carhistory_verifier.entry import canonical_json
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from carhistory.plain_text import quoted, unstorable_reason
from carhistory.vin import check_vin


class EventType(models.TextChoices):
    ODOMETER = "odometer", gettext_lazy("Odometer reading")
    SERVICE = "service", gettext_lazy("Service")
    REPAIR = "repair", gettext_lazy("Repair")
    ACCIDENT = "accident", gettext_lazy("Accident")
    INSURANCE_CLAIM = "insurance_claim", gettext_lazy("Insurance claim")
    REGISTRATION = "registration", gettext_lazy("Registration")
    TITLE_BRAND = "title_brand", gettext_lazy("Title brand")
    INSPECTION = "inspection", gettext_lazy("Inspection")
    RECALL = "recall", gettext_lazy("Recall")
    MANUFACTURE = "manufacture", gettext_lazy("Manufacture")
    SOURCE_KEY = "source_key", gettext_lazy("Source key")
    SOURCE_STATUS = "source_status", gettext_lazy("Source status")
    CORRECTION = "correction", gettext_lazy("Correction")


# Written only by the platform itself (moderators, key registration, the sequencer), never by
# a source: the protocol's own list, shared with both verifiers.
PLATFORM_TYPES = frozenset(
    EventType(value) for value in protocol.PLATFORM_TYPES if value in EventType.values
)

SUBMISSION_FIELDS = frozenset(
    {"vin", "type", "occurred_at", "odometer_km", "facts", "private", "external_id", "source_sig"}
)
TEXT_MAX_LENGTH = 200
LIST_MAX_ITEMS = 100
EXTERNAL_ID_MAX_LENGTH = 200
# Odometers show at most seven digits; anything larger is a typing error, not a reading.
ODOMETER_MAX_KM = 9_999_999
# A calendar date may be "today" in China while it is still yesterday in UTC.
DATE_TOLERANCE = datetime.timedelta(days=1)
TIME_TOLERANCE = datetime.timedelta(minutes=5)  # clock skew between a source and us
EARLIEST_YEAR = 1900
PRIVATE_MAX_BYTES = 16 * 1024
PRIVATE_MAX_DEPTH = 8
# Unknown field names are named back to the sender up to this many; the rest are counted, so a
# body of 45,000 made-up names costs a few hundred bytes of errors, not megabytes.
UNKNOWN_NAMES_SHOWN = 5
_RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z", re.ASCII)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)

Errors = dict[str, list[str]]


class Odometer(models.TextChoices):
    REQUIRED = "required"
    OPTIONAL = "optional"
    ABSENT = "absent"


@dataclass(frozen=True)
class FactRule:
    """One public fact: how to check it. `check` returns the cleaned value or raises ValueError."""

    check: Callable[[Any], Any]
    required: bool = True
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventSchema:
    odometer: str
    facts: Mapping[str, FactRule] = field(default_factory=dict)


@dataclass(frozen=True)
class CleanEvent:
    type: str
    vin: str
    occurred_at: str
    odometer_km: int | None
    facts: dict[str, Any]
    private: dict[str, Any] | None
    external_id: str | None
    source_sig: str | None


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(_("Enter some text."))
    _refuse_unstorable(value)
    if len(value) > TEXT_MAX_LENGTH:
        raise ValueError(_("Keep this under %(max)d characters.") % {"max": TEXT_MAX_LENGTH})
    return value.strip()


def _text_list(*, allow_empty: bool) -> Callable[[Any], list[str]]:
    def check(value: Any) -> list[str]:
        if not isinstance(value, list):
            raise ValueError(_("Enter a list of short texts."))
        if not value and not allow_empty:
            raise ValueError(_("Enter at least one item."))
        if len(value) > LIST_MAX_ITEMS:
            raise ValueError(_("Enter at most %(max)d items.") % {"max": LIST_MAX_ITEMS})
        return [_text(item) for item in value]

    return check


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(_("Enter true or false."))
    return value


def _choice(*choices: str) -> FactRule:
    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError(_("Choose one of: %(choices)s.") % {"choices": ", ".join(choices)})
        return value

    return FactRule(check=check, choices=choices)


def _past_date(value: Any) -> str:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError(_("Enter a date as YYYY-MM-DD."))
    try:
        day = datetime.date.fromisoformat(value)
    except ValueError:
        raise ValueError(_("This date does not exist.")) from None
    _refuse_implausible_day(day)
    return value


def _model_year(value: Any) -> int:
    latest = datetime.datetime.now(datetime.UTC).year + 2
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not EARLIEST_YEAR <= value <= latest
    ):
        raise ValueError(
            _("Enter a year between %(first)d and %(last)d.")
            % {"first": EARLIEST_YEAR, "last": latest}
        )
    return value


def _refuse_implausible_day(day: datetime.date) -> None:
    today = datetime.datetime.now(datetime.UTC).date()
    if day > today + DATE_TOLERANCE:
        raise ValueError(_("This date is in the future."))
    if day.year < EARLIEST_YEAR:
        raise ValueError(_("This date is before %(year)d.") % {"year": EARLIEST_YEAR})


def _refuse_unstorable(text: str) -> None:
    # PostgreSQL cannot hold U+0000, nor UTF-8 a lone surrogate; no real record needs either.
    reason = unstorable_reason(text)
    if reason:
        raise ValueError(reason)


TEXT = FactRule(check=_text)
BOOLEAN = FactRule(check=_boolean)

EVENT_SCHEMAS: dict[str, EventSchema] = {
    EventType.ODOMETER: EventSchema(odometer=Odometer.REQUIRED),
    EventType.SERVICE: EventSchema(
        odometer=Odometer.REQUIRED,
        facts={"items": FactRule(check=_text_list(allow_empty=False))},
    ),
    EventType.REPAIR: EventSchema(
        odometer=Odometer.OPTIONAL,
        facts={"parts": FactRule(check=_text_list(allow_empty=False)), "area": TEXT},
    ),
    EventType.ACCIDENT: EventSchema(
        odometer=Odometer.ABSENT,
        facts={
            "severity": _choice("minor", "moderate", "severe"),
            "airbags_deployed": BOOLEAN,
            "damage_areas": FactRule(check=_text_list(allow_empty=True)),
        },
    ),
    EventType.INSURANCE_CLAIM: EventSchema(
        odometer=Odometer.ABSENT, facts={"claim_kind": TEXT, "total_loss": BOOLEAN}
    ),
    EventType.REGISTRATION: EventSchema(
        odometer=Odometer.ABSENT,
        facts={
            "event": _choice("first_registration", "ownership_transfer", "deregistration"),
            "region": TEXT,
            "use": _choice("private", "commercial", "rental", "taxi"),
        },
    ),
    EventType.TITLE_BRAND: EventSchema(
        odometer=Odometer.ABSENT,
        facts={
            "brand": _choice(
                "salvage", "flood", "fire", "rebuilt", "lemon", "scrapped", "stolen", "recovered"
            )
        },
    ),
    EventType.INSPECTION: EventSchema(
        odometer=Odometer.REQUIRED, facts={"result": _choice("pass", "fail")}
    ),
    EventType.RECALL: EventSchema(
        odometer=Odometer.ABSENT,
        facts={"campaign": TEXT, "status": _choice("open", "remedied"), "component": TEXT},
    ),
    EventType.MANUFACTURE: EventSchema(
        odometer=Odometer.ABSENT,
        facts={
            "plant": TEXT,
            "built_on": FactRule(check=_past_date),
            "model": TEXT,
            "model_year": FactRule(check=_model_year),
        },
    ),
}
SOURCE_EVENT_TYPES = tuple(EVENT_SCHEMAS)


def validate_submission(payload: Any) -> tuple[CleanEvent | None, Errors]:
    """Check one submission body (SPEC §5); return the cleaned event, or None and the errors."""
    if not isinstance(payload, Mapping):
        return None, {"non_field_errors": [_("Send one event as a JSON object.")]}
    errors: Errors = {}
    _refuse_unknown(errors, payload.keys() - SUBMISSION_FIELDS, prefix="")

    event_type = payload.get("type")
    schema = EVENT_SCHEMAS.get(event_type) if isinstance(event_type, str) else None
    if schema is None:
        errors["type"] = [
            _("Unknown event type. Choose one of: %(types)s.")
            % {"types": ", ".join(SOURCE_EVENT_TYPES)}
        ]

    vin = _collect(errors, "vin", payload.get("vin"), _vin)
    occurred_at = _collect(errors, "occurred_at", payload.get("occurred_at"), _occurred_at)
    odometer_km = _odometer(errors, payload, schema)
    facts = _facts(errors, payload.get("facts"), schema)
    private = _collect(errors, "private", payload.get("private"), _private)
    external_id = _collect(errors, "external_id", payload.get("external_id"), _external_id)
    source_sig = _collect(errors, "source_sig", payload.get("source_sig"), _source_sig)
    if errors:
        return None, errors
    return CleanEvent(
        type=event_type,
        vin=vin,
        occurred_at=occurred_at,
        odometer_km=odometer_km,
        facts=facts,
        private=private,
        external_id=external_id,
        source_sig=source_sig,
    ), {}


def _refuse_unknown(errors: Errors, names: set, *, prefix: str) -> None:
    """An error for each unknown field name, quoted safely; past a few, one that counts them."""
    if not names:
        return
    ordered = sorted(str(name) for name in names)
    message = _("Unknown field.") if not prefix else _("Unknown fact for this event type.")
    for name in ordered[:UNKNOWN_NAMES_SHOWN]:
        errors[prefix + quoted(name)] = [message]
    if len(ordered) > UNKNOWN_NAMES_SHOWN:
        errors[prefix.rstrip(".") or "non_field_errors"] = [
            _("%(count)d more unknown fields: send only the fields SPEC §5 names.")
            % {"count": len(ordered) - UNKNOWN_NAMES_SHOWN}
        ]


def _collect(errors: Errors, name: str, value: Any, check: Callable[[Any], Any]) -> Any:
    try:
        return check(value)
    except ValueError as problem:
        errors.setdefault(name, []).extend(problem.args)
        return None


def _vin(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(_("Enter a VIN: 17 letters and digits."))
    result = check_vin(value)
    if not result.is_valid:
        raise ValueError(*(problem.message for problem in result.errors))
    return result.vin


def _occurred_at(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(_("Enter a date (YYYY-MM-DD) or a UTC time (YYYY-MM-DDTHH:MM:SSZ)."))
    if _DATE.fullmatch(value):
        return _past_date(value)
    if not _RFC3339_UTC.fullmatch(value):
        raise ValueError(_("Enter a date (YYYY-MM-DD) or a UTC time (YYYY-MM-DDTHH:MM:SSZ)."))
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(_("This time does not exist.")) from None
    if moment > datetime.datetime.now(datetime.UTC) + TIME_TOLERANCE:
        raise ValueError(_("This time is in the future."))
    _refuse_implausible_day(moment.date())
    return value


def _odometer(errors: Errors, payload: Mapping, schema: EventSchema | None) -> int | None:
    value = payload.get("odometer_km")
    if schema is None:
        return None
    if value is None:
        if schema.odometer == Odometer.REQUIRED:
            errors["odometer_km"] = [_("This event type needs the odometer reading in km.")]
        return None
    if schema.odometer == Odometer.ABSENT:
        errors["odometer_km"] = [_("This event type carries no odometer reading.")]
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        errors["odometer_km"] = [_("Enter the odometer reading as a whole number of km.")]
        return None
    if not 0 <= value <= ODOMETER_MAX_KM:
        errors["odometer_km"] = [
            _("Enter a reading between 0 and %(max)d km.") % {"max": ODOMETER_MAX_KM}
        ]
        return None
    return value


def _facts(errors: Errors, facts: Any, schema: EventSchema | None) -> dict[str, Any]:
    if facts is None:
        facts = {}
    if not isinstance(facts, Mapping):
        errors["facts"] = [_("Send the facts as a JSON object.")]
        return {}
    if schema is None:
        return {}
    cleaned: dict[str, Any] = {}
    _refuse_unknown(errors, facts.keys() - schema.facts.keys(), prefix="facts.")
    for name, rule in schema.facts.items():
        if name not in facts:
            if rule.required:
                errors[f"facts.{name}"] = [_("This fact is required.")]
            continue
        value = _collect(errors, f"facts.{name}", facts[name], rule.check)
        if f"facts.{name}" not in errors:
            cleaned[name] = value
    return cleaned


def _private(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(_("Send the private details as a JSON object."))
    if _nesting(value) > PRIVATE_MAX_DEPTH:
        message = _("Nest the private details at most %(max)d levels deep.")
        raise ValueError(message % {"max": PRIVATE_MAX_DEPTH})
    try:
        size = len(canonical_json(value))
    except (TypeError, ValueError):
        raise ValueError(
            _("These details cannot be stored exactly (numbers must fit in 53 bits).")
        ) from None
    if size > PRIVATE_MAX_BYTES:
        raise ValueError(
            _("Keep the private details under %(max)d bytes.") % {"max": PRIVATE_MAX_BYTES}
        )
    return dict(value)


def _nesting(value: Any) -> int:
    """How deeply objects and arrays nest in `value`, refusing NUL in any text on the way;
    iterative, so no depth can crash it."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _refuse_unstorable(item)
            continue
        if isinstance(item, Mapping):
            children = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if depth <= PRIVATE_MAX_DEPTH:
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _external_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(_("Enter your own reference for this event as text."))
    _refuse_unstorable(value)
    if len(value) > EXTERNAL_ID_MAX_LENGTH:
        raise ValueError(_("Keep this under %(max)d characters.") % {"max": EXTERNAL_ID_MAX_LENGTH})
    return value


def _source_sig(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > TEXT_MAX_LENGTH:
        raise ValueError(_("Send the signature as base64 text."))
    _refuse_unstorable(value)
    return value


# --- corrections ---------------------------------------------------------------------------

# A correction (SPEC §5) names the entry it corrects and why; "void": true withdraws it.
CORRECTION_META_FIELDS = frozenset({"corrects", "reason"})
VOID = "void"


def correctable_fields(event_type: str) -> list[str]:
    """The fields a correction of an entry of this type may set, in the order a form shows
    them: the date, the odometer reading when the type carries one, then its facts."""
    schema = EVENT_SCHEMAS.get(event_type)
    if schema is None:
        return []
    fields = ["occurred_at"]
    if schema.odometer != Odometer.ABSENT:
        fields.append("odometer_km")
    return [*fields, *schema.facts]


def validate_correction(
    *, entry: Mapping[str, Any], corrected_fields: Mapping[str, Any]
) -> tuple[dict[str, Any], Errors]:
    """Check a correction of `entry` (a logged entry object) exactly as a submission of its
    type would be checked, with the corrected fields laid over the logged ones.

    Returns the cleaned corrected fields, or the errors by field name (facts by their own
    name: a correction carries its fields flat). `{"void": true}` alone withdraws the entry.
    """
    event_type = entry.get("type")
    if event_type not in EVENT_SCHEMAS:
        return {}, {"non_field_errors": [_("Only a source's event can be corrected.")]}
    if not corrected_fields:
        return {}, {"non_field_errors": [_("Change at least one field, or void the entry.")]}
    if VOID in corrected_fields:
        if corrected_fields[VOID] is not True or len(corrected_fields) > 1:
            return {}, {VOID: [_("Voiding withdraws the whole entry: change nothing else.")]}
        return {VOID: True}, {}
    allowed = correctable_fields(event_type)
    errors: Errors = {
        str(name): [_("This type of entry has no such field.")]
        for name in corrected_fields
        if name not in allowed
    }
    if errors:
        return {}, errors
    payload = _submission_from_entry(entry)
    for name, value in corrected_fields.items():
        if name in ("occurred_at", "odometer_km"):
            payload[name] = value
        else:
            payload["facts"][name] = value
    event, submission_errors = validate_submission(payload)
    if event is None:
        return {}, {
            name.removeprefix("facts."): messages for name, messages in submission_errors.items()
        }
    cleaned = {"occurred_at": event.occurred_at, "odometer_km": event.odometer_km, **event.facts}
    return {name: cleaned[name] for name in corrected_fields}, {}


def _submission_from_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    payload = {
        "vin": entry.get("vin"),
        "type": entry.get("type"),
        "occurred_at": entry.get("occurred_at"),
        "facts": dict(entry.get("facts") or {}),
    }
    if entry.get("odometer_km") is not None:
        payload["odometer_km"] = entry["odometer_km"]
    return payload


# --- documentation ---------------------------------------------------------------------------

# One plausible value of every fact, for the OpenAPI examples (carhistory/openapi.py); a test
# fails when a fact has none, so a new fact cannot reach the API docs undocumented.
FACT_EXAMPLES: dict[str, Any] = {
    "items": ["oil", "oil filter"],
    "parts": ["front bumper"],
    "area": "front",
    "severity": "moderate",
    "airbags_deployed": False,
    "damage_areas": ["front", "left door"],
    "claim_kind": "collision",
    "total_loss": False,
    "event": "ownership_transfer",
    "region": "Shanghai",
    "use": "private",
    "brand": "flood",
    "result": "pass",
    "campaign": "RC-2023-041",
    "status": "open",
    "component": "airbag inflator",
    "plant": "Anting",
    "built_on": "2019-03-02",
    "model": "Lavida 1.5L",
    "model_year": 2019,
}

"""Repair records as Chinese shops already produce them: the 汽车维修电子健康档案 upload.

JT/T 1132.2-2017 and the provincial platforms built on it send one record per repair order:
`basicInfo` (company, VIN, plate, repair date `yyyyMMdd`, mileage, fault description, settlement
date and number), `vehiclepartslist` (parts with name, code, quantity) and `repairprojectlist`
(repair projects with labour hours), often inside a `transaction`/`header`/`body`/`reqInfo`
envelope. This module turns one such record into a submission body (SPEC §5) that goes through
`submit_events` like any other; docs/REPAIR_RECORDS.md documents the mapping with an example
of each field.

What becomes public and what stays behind the private commitment (SPEC §2):
- public: the VIN, the repair date, the mileage, the projects and part names;
- private: the plate number, the company's name, the settlement date and number, part codes,
  quantities and labour hours, and the fault description (free text a shop may fill with the
  customer's name or phone number: we cannot tell, so it is never public).

A record whose projects are all routine maintenance (保养, 维护 …) is a `service` (items: the
projects, then the parts); any other is a `repair` (parts: the part names, or the projects when
no part was fitted; area: the projects, as the shop named them, since the record has no
separate field for where on the car the work was done).
"""

import datetime
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from carhistory_verifier.entry import canonical_json
from django.utils.translation import gettext as _

from carhistory.sources.models import Channel, Organisation
from carhistory.sources.schemas import TEXT_MAX_LENGTH, Errors, EventType
from carhistory.sources.services import Outcome, SubmissionResult, submit_events

BASIC_INFO_FIELDS = frozenset(
    {
        "companyname",
        "vin",
        "vehicleplatenumber",
        "repairdate",
        "repairmileage",
        "faultdescription",
        "settledate",
        "costlistcode",
    }
)
PART_FIELDS = frozenset({"partsname", "partscode", "partsquantity"})
PROJECT_FIELDS = frozenset({"repairproject", "workinghours"})
RECORD_FIELDS = frozenset({"basicInfo", "vehiclepartslist", "repairprojectlist"})
# basicInfo fields that go behind the commitment, under their own names.
PRIVATE_BASIC_FIELDS = (
    "companyname",
    "vehicleplatenumber",
    "settledate",
    "costlistcode",
    "faultdescription",
)
# Envelope levels the provincial platforms wrap records in, outermost first.
ENVELOPE_KEYS = ("transaction", "body", "reqInfo")
MAINTENANCE_WORDS = ("保养", "維護", "维护", "保養", "首保", "定保", "换油", "maintenance")
_PLATFORM_DATE = re.compile(r"\d{8}", re.ASCII)
_WHOLE_NUMBER = re.compile(r"\d+(\.0*)?", re.ASCII)
# Submission fields -> the platform field a shop must fix, for errors the schema words.
PLATFORM_FIELD_OF = {
    "vin": "basicInfo.vin",
    "occurred_at": "basicInfo.repairdate",
    "odometer_km": "basicInfo.repairmileage",
    "facts.items": "repairprojectlist",
    "facts.parts": "vehiclepartslist",
    "facts.area": "repairprojectlist",
    "private": "basicInfo",
}


@dataclass(frozen=True)
class RecordPayload:
    payload: dict[str, Any] | None
    errors: Errors


def unwrap(data: Any) -> tuple[list[Any], Errors]:
    """The records in a request body: one record, a list, or either inside the platforms'
    envelope (`{"transaction": {"header": …, "body": {"reqInfo": …}}}`, any level optional;
    `reqInfo` may also be the JSON text of the records)."""
    for key in ENVELOPE_KEYS:
        if isinstance(data, Mapping) and key in data and "basicInfo" not in data:
            data = data[key]
            if isinstance(data, str):
                try:
                    data = json.loads(data)
                except ValueError:
                    return [], {key: [_("This is not JSON text of repair records.")]}
    if isinstance(data, Mapping) and "basicInfo" in data:
        return [data], {}
    if isinstance(data, list) and data:
        return data, {}
    return [], {
        "non_field_errors": [
            _("Send one repair record (with basicInfo) or a list of them, in JSON.")
        ]
    }


def record_payload(record: Any, *, organisation_slug: str) -> RecordPayload:
    """The submission body for one platform record, or the errors, named by platform field."""
    if not isinstance(record, Mapping) or not isinstance(record.get("basicInfo"), Mapping):
        return RecordPayload(None, {"basicInfo": [_("Each record needs a basicInfo object.")]})
    errors: Errors = {}
    _unknown(errors, record, RECORD_FIELDS, "")
    basic = record["basicInfo"]
    _unknown(errors, basic, BASIC_INFO_FIELDS, "basicInfo.")
    projects = _items(errors, record.get("repairprojectlist"), "repairprojectlist", PROJECT_FIELDS)
    parts = _items(errors, record.get("vehiclepartslist"), "vehiclepartslist", PART_FIELDS)
    if not projects and "repairprojectlist" not in errors:
        errors["repairprojectlist"] = [_("List at least one repair project.")]
    project_names = _names(errors, projects, "repairprojectlist", "repairproject")
    part_names = _names(errors, parts, "vehiclepartslist", "partsname")
    occurred_at = _repair_date(errors, basic.get("repairdate"))
    mileage = _mileage(errors, basic.get("repairmileage"))
    if errors:
        return RecordPayload(None, errors)

    payload: dict[str, Any] = {"vin": basic.get("vin"), "occurred_at": occurred_at}
    if mileage is not None:
        payload["odometer_km"] = mileage
    if all(_is_maintenance(name) for name in project_names):
        payload["type"] = EventType.SERVICE
        payload["facts"] = {"items": _unique([*project_names, *part_names])}
    else:
        payload["type"] = EventType.REPAIR
        payload["facts"] = {
            "parts": _unique(part_names or project_names),
            "area": "、".join(_unique(project_names))[:TEXT_MAX_LENGTH],
        }
    private = _private(basic, parts, projects)
    if private:
        payload["private"] = private
    payload["external_id"] = _external_id(record, basic, organisation_slug)
    return RecordPayload(payload, {})


def import_repair_records(
    *, organisation: Organisation, records: list[Any], channel: str = Channel.API
) -> list[SubmissionResult]:
    """Submit platform records as events, one result per record in input order, errors named
    by platform field. Records that cannot be mapped are refused without being stored; the
    rest are judged like a batch (a refused one is kept with its reasons)."""
    mapped = [record_payload(record, organisation_slug=organisation.slug) for record in records]
    payloads = [item.payload for item in mapped if item.payload is not None]
    submitted = iter(submit_events(organisation=organisation, payloads=payloads, channel=channel))
    results = []
    for item in mapped:
        if item.payload is None:
            results.append(SubmissionResult(Outcome.INVALID, errors=item.errors))
            continue
        result = next(submitted)
        results.append(
            SubmissionResult(result.outcome, result.submission, platform_errors(result.errors))
        )
    return results


# The portal's CSV layout for the same records (docs/REPAIR_RECORDS.md): one row per repair
# order, basicInfo fields by name, the lists' fields joined with "|" position by position.
CSV_LIST_SEPARATOR = "|"
CSV_PROJECT_COLUMNS = ("repairproject", "workinghours")
CSV_PART_COLUMNS = ("partsname", "partscode", "partsquantity")
CSV_COLUMNS = (*sorted(BASIC_INFO_FIELDS), *CSV_PROJECT_COLUMNS, *CSV_PART_COLUMNS)
CSV_REQUIRED_COLUMNS = ("vin", "repairdate", "repairproject")


def is_csv_layout(header: list[str]) -> bool:
    """Whether a CSV header is this layout rather than the event layout of docs/CSV.md."""
    return "repairdate" in header


def record_from_csv_row(cells: Mapping[str, str]) -> dict[str, Any]:
    """The platform record a CSV row spells."""
    record: dict[str, Any] = {
        "basicInfo": {
            name: cells[name].strip()
            for name in BASIC_INFO_FIELDS
            if (cells.get(name) or "").strip()
        },
        "repairprojectlist": _csv_list(cells, CSV_PROJECT_COLUMNS),
    }
    parts = _csv_list(cells, CSV_PART_COLUMNS)
    if parts:
        record["vehiclepartslist"] = parts
    return record


def _csv_list(cells: Mapping[str, str], columns: tuple[str, ...]) -> list[dict[str, str]]:
    split = {
        column: [item.strip() for item in (cells.get(column) or "").split(CSV_LIST_SEPARATOR)]
        for column in columns
    }
    length = max(len(values) for values in split.values())
    items = []
    for position in range(length):
        item = {
            column: values[position]
            for column, values in split.items()
            if position < len(values) and values[position]
        }
        if item:
            items.append(item)
    return items


def csv_column(field: str) -> str:
    """The CSV column an error is about: `basicInfo.repairdate` -> `repairdate`,
    `repairprojectlist[0].workinghours` -> `workinghours`."""
    name = field.rsplit(".", 1)[-1]
    return {"repairprojectlist": "repairproject", "vehiclepartslist": "partsname"}.get(name, name)


def platform_errors(errors: Errors) -> Errors:
    """Errors of `submit_events` renamed to the platform fields a shop would fix."""
    return {PLATFORM_FIELD_OF.get(name, name): messages for name, messages in errors.items()}


def _unknown(errors: Errors, value: Mapping, known: frozenset[str], prefix: str) -> None:
    for name in value.keys() - known:
        errors[f"{prefix}{name}"] = [_("Unknown field.")]


def _items(errors: Errors, value: Any, name: str, known: frozenset[str]) -> list[Mapping]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        errors[name] = [_("Send a list of objects.")]
        return []
    for position, item in enumerate(value):
        _unknown(errors, item, known, f"{name}[{position}].")
    return value


def _names(errors: Errors, items: list[Mapping], list_name: str, field: str) -> list[str]:
    names = []
    for position, item in enumerate(items):
        name = item.get(field)
        if not isinstance(name, str) or not name.strip():
            errors[f"{list_name}[{position}].{field}"] = [_("Enter the name as text.")]
            continue
        names.append(name.strip())
    return names


def _repair_date(errors: Errors, value: Any) -> str | None:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _PLATFORM_DATE.fullmatch(text):
        errors["basicInfo.repairdate"] = [_("Enter the repair date as yyyyMMdd, e.g. 20240503.")]
        return None
    try:
        return datetime.date(int(text[:4]), int(text[4:6]), int(text[6:])).isoformat()
    except ValueError:
        errors["basicInfo.repairdate"] = [_("This date does not exist.")]
        return None


def _mileage(errors: Errors, value: Any) -> int | None:
    """Whole km; platforms send numbers or digit strings, sometimes with a `.0`."""
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value.strip()):
        return int(value.strip().split(".")[0])
    errors["basicInfo.repairmileage"] = [_("Enter the mileage as a whole number of km.")]
    return None


def _is_maintenance(project: str) -> bool:
    lowered = project.lower()
    return any(word in lowered for word in MAINTENANCE_WORDS)


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _private(basic: Mapping, parts: list[Mapping], projects: list[Mapping]) -> dict[str, Any]:
    private: dict[str, Any] = {
        name: basic[name] for name in PRIVATE_BASIC_FIELDS if basic.get(name) not in (None, "")
    }
    if any(part.keys() - {"partsname"} for part in parts):
        private["vehiclepartslist"] = [dict(part) for part in parts]
    if any(project.keys() - {"repairproject"} for project in projects):
        private["repairprojectlist"] = [dict(project) for project in projects]
    return private


def _external_id(record: Mapping, basic: Mapping, organisation_slug: str) -> str:
    """Stable per repair order: the company and its settlement number when given, otherwise
    the whole record. Hashed, because a settlement number is private."""
    code = basic.get("costlistcode")
    if isinstance(code, str | int) and str(code).strip():
        identity = f"{basic.get('companyname', '')}\n{code}".encode()
    else:
        try:
            identity = canonical_json(record)
        except (TypeError, ValueError):
            identity = repr(record).encode()
    digest = hashlib.sha256(organisation_slug.encode() + b"\n" + identity).hexdigest()
    return f"jtt1132-{digest}"

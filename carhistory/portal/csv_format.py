"""The CSV format sources upload (docs/CSV.md): its columns, and how one row becomes a submission.

The event types, their facts and who may submit what are not repeated here: columns come from
`sources.schemas` and `sources.roles`, and every row goes through the same `submit_events` as
the API. This module only knows how a CSV cell spells a JSON value: lists joined with "|",
booleans as true/false, whole numbers as digits.
"""

import hashlib
import json
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from django.utils.translation import gettext as _

from carhistory.sources import roles
from carhistory.sources.schemas import EVENT_SCHEMAS, FactRule, Odometer

REQUIRED_COLUMNS = ("vin", "type", "occurred_at")
BASE_COLUMNS = (*REQUIRED_COLUMNS, "odometer_km", "external_id")
PRIVATE_PREFIX = "private_"
LIST_SEPARATOR = "|"
_TRUE = frozenset({"true", "yes", "1", "y"})
_FALSE = frozenset({"false", "no", "0", "n"})
_INTEGER = re.compile(r"^[+-]?\d+$")

# Private columns each kind of source typically keeps; any other `private_*` column works too.
PRIVATE_EXAMPLES = {
    "dealer_4s": ("private_invoice_number", "private_customer_name"),
    "repair_shop": ("private_invoice_number", "private_customer_name"),
    "insurer": ("private_claim_number", "private_policy_holder"),
    "registry": ("private_owner_name", "private_plate_number"),
    "inspection_station": ("private_report_number",),
    "oem": ("private_order_number",),
}


def _value_kind(rule: FactRule) -> str:
    """Which JSON type a fact takes, learnt by asking its own check: "list", "boolean",
    "integer" or "text". Asking keeps the schema the one place where facts are defined."""
    if rule.choices:
        return "text"
    for kind, sample in (("list", ["x"]), ("boolean", True), ("integer", 2000)):
        try:
            rule.check(sample)
        except (ValueError, TypeError):
            continue
        return kind
    return "text"


@cache
def fact_kinds() -> dict[str, str]:
    """Every fact column and its JSON type. Computed on first use, not at import: the checks
    word their errors with gettext, which needs the app registry ready."""
    return {
        name: _value_kind(rule)
        for schema in EVENT_SCHEMAS.values()
        for name, rule in schema.facts.items()
    }


def template_columns(kind: str) -> list[str]:
    """The columns of the template for one kind of source: the base columns (odometer_km only
    if one of its types carries a reading), the facts of every type it may submit, then its
    usual private columns."""
    types = roles.event_types_for(kind)
    base = [*REQUIRED_COLUMNS]
    if any(EVENT_SCHEMAS[event_type].odometer != Odometer.ABSENT for event_type in types):
        base.append("odometer_km")
    base.append("external_id")
    facts: list[str] = []
    for event_type in types:
        facts.extend(name for name in EVENT_SCHEMAS[event_type].facts if name not in facts)
    return [*base, *facts, *PRIVATE_EXAMPLES.get(kind, ())]


def normalise_header(cells: list[str]) -> list[str]:
    """Column names as the importer reads them: spreadsheets add spaces and capitals ("VIN")."""
    return [cell.strip().lower() for cell in cells]


def header_problems(header: list[str]) -> list[str]:
    """What is wrong with a header row, in words a person can fix; empty when it is fine."""
    problems = []
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        problems.append(_("Missing columns: %(columns)s.") % {"columns": ", ".join(missing)})
    unknown = [
        column
        for column in header
        if column not in BASE_COLUMNS
        and column not in fact_kinds()
        and not (column.startswith(PRIVATE_PREFIX) and len(column) > len(PRIVATE_PREFIX))
    ]
    if unknown:
        problems.append(
            _("Unknown columns: %(columns)s. Use the template for your kind of source.")
            % {"columns": ", ".join(unknown)}
        )
    repeated = sorted({column for column in header if header.count(column) > 1})
    if repeated:
        problems.append(_("Repeated columns: %(columns)s.") % {"columns": ", ".join(repeated)})
    return problems


def row_payload(row: Mapping[str, str], *, organisation_slug: str) -> dict[str, Any]:
    """The submission body (SPEC §5) for one CSV row. Cells that do not parse are passed on as
    text, so the schema, not this module, words the error."""
    cells = {column: (value or "").strip() for column, value in row.items() if column}
    payload: dict[str, Any] = {
        "vin": cells.get("vin", ""),
        "type": cells.get("type", ""),
        "occurred_at": cells.get("occurred_at", ""),
    }
    if cells.get("odometer_km"):
        payload["odometer_km"] = _decode(cells["odometer_km"], "integer")
    applicable = EVENT_SCHEMAS.get(payload["type"])
    facts = {}
    kinds = fact_kinds()
    for column, value in cells.items():
        if column not in kinds:
            continue
        kind = kinds[column]
        if value:
            facts[column] = _decode(value, kind)
        elif kind == "list" and applicable is not None and column in applicable.facts:
            # An empty cell is the only way a CSV can say "an empty list" (no damage areas).
            facts[column] = []
    if facts:
        payload["facts"] = facts
    private = {
        column.removeprefix(PRIVATE_PREFIX): value
        for column, value in cells.items()
        if column.startswith(PRIVATE_PREFIX) and value
    }
    if private:
        payload["private"] = private
    payload["external_id"] = cells.get("external_id") or derived_external_id(
        organisation_slug=organisation_slug, cells=cells
    )
    return payload


def derived_external_id(*, organisation_slug: str, cells: Mapping[str, str]) -> str:
    """A stable id for a row with no `external_id`: the same row uploaded again (by the same
    source) gets the same id, so the submission idempotency appends nothing twice."""
    content = json.dumps(
        {column: value for column, value in cells.items() if value}, sort_keys=True
    )
    digest = hashlib.sha256(f"{organisation_slug}\n{content}".encode()).hexdigest()
    return f"csv-{digest}"


def error_column(field: str) -> str:
    """The CSV column an error of `submit_events` is about ("facts.severity" -> "severity")."""
    if field.startswith("facts."):
        return field.removeprefix("facts.")
    if field == "private":
        return PRIVATE_PREFIX + "*"
    if field == "non_field_errors":
        return ""
    return field


def _decode(value: str, kind: str) -> Any:
    if kind == "list":
        return [item.strip() for item in value.split(LIST_SEPARATOR) if item.strip()]
    if kind == "boolean":
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        return value
    if kind == "integer" and _INTEGER.match(value):
        return int(value)
    return value

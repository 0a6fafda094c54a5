"""The CSV format sources upload (docs/CSV.md): its columns, and what is wrong with a header.

The event types, their facts and who may submit what are not repeated here: columns come from
`sources.schemas` and `sources.roles`, and every row goes through the same `submit_events` as
the API. How a CSV cell spells a JSON value (lists joined with "|", booleans as true/false,
whole numbers as digits) and the id derived for a row lie in the verifier package
(`carhistory_verifier.submit.records`), which `carhistory-submit` shares: one file gives the
same submissions whether it is uploaded here or sent with the tool, in either format version
(a version-1 file has no format line; `#carhistory-csv/v2` on the first row reads the `items`
column through the service-item vocabulary).
"""

from collections.abc import Mapping
from typing import Any

from carhistory_verifier.submit import records
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from carhistory.service_items import ServiceItem
from carhistory.sources import repair_records, roles
from carhistory.sources.schemas import EVENT_SCHEMAS, Odometer

REQUIRED_COLUMNS = records.REQUIRED_COLUMNS
BASE_COLUMNS = records.BASE_COLUMNS
PRIVATE_PREFIX = records.PRIVATE_PREFIX
fact_kinds = records.fact_kinds
normalise_header = records.normalise_header
csv_format_version = records.csv_format_version
UnknownCsvFormat = records.UnknownCsvFormat
UnknownServiceItems = records.UnknownServiceItems
FORMAT_LINE = records.CSV_FORMAT_LINE
FIRST_VERSION = records.CSV_FORMAT_FIRST
VOCABULARY_COLUMN = records.VOCABULARY_COLUMN

# Private columns each kind of source typically keeps; any other `private_*` column works too.
PRIVATE_EXAMPLES = {
    "dealer_4s": ("private_invoice_number", "private_customer_name"),
    "repair_shop": ("private_invoice_number", "private_customer_name"),
    "insurer": ("private_claim_number", "private_policy_holder"),
    "registry": ("private_owner_name", "private_plate_number"),
    "inspection_station": ("private_report_number",),
    "oem": ("private_order_number",),
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


def header_problems(header: list[str]) -> list[str]:
    """What is wrong with a header row, in words a person can fix; empty when it is fine."""
    if repair_records.is_csv_layout(header):
        return _repair_header_problems(header)
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


def row_payload(
    row: Mapping[str, str], *, organisation_slug: str, version: int = FIRST_VERSION
) -> dict[str, Any]:
    """The submission body (SPEC §5) for one CSV row, with its given or derived external id.

    Raises UnknownServiceItems for a version-2 row naming an item outside the vocabulary.
    """
    return records.row_payload(row, source=organisation_slug, version=version)


def unknown_format_message(line: str) -> str:
    return _(
        "The first line “%(line)s” names no CSV format this site reads. Write "
        "“%(format_line)s” there, or start the file with its header row."
    ) % {"line": line, "format_line": FORMAT_LINE}


def unknown_items_message(items: list[str]) -> str:
    """Which items a version-2 row names outside the vocabulary, and every name it knows."""
    separator = pgettext("between the items of a list", ", ")
    allowed = separator.join(
        _("%(code)s (%(label)s)") % {"code": item.value, "label": item.label}
        for item in ServiceItem
    )
    return _(
        "Not in the service-item vocabulary: %(items)s. Write each item as a code or a name "
        "in English or Chinese: %(allowed)s."
    ) % {"items": separator.join(items), "allowed": allowed}


def _repair_header_problems(header: list[str]) -> list[str]:
    problems = []
    missing = [column for column in repair_records.CSV_REQUIRED_COLUMNS if column not in header]
    if missing:
        problems.append(_("Missing columns: %(columns)s.") % {"columns": ", ".join(missing)})
    unknown = [column for column in header if column not in repair_records.CSV_COLUMNS]
    if unknown:
        problems.append(
            _("Unknown columns for repair records: %(columns)s. See docs/REPAIR_RECORDS.md.")
            % {"columns": ", ".join(unknown)}
        )
    repeated = sorted({column for column in header if header.count(column) > 1})
    if repeated:
        problems.append(_("Repeated columns: %(columns)s.") % {"columns": ", ".join(repeated)})
    return problems


def error_column(field: str) -> str:
    """The CSV column an error of `submit_events` is about ("facts.severity" -> "severity")."""
    if field.startswith("facts."):
        return field.removeprefix("facts.")
    if field == "private":
        return PRIVATE_PREFIX + "*"
    if field == "non_field_errors":
        return ""
    return field

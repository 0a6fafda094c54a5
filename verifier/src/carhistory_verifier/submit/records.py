"""Reading a source's file of records: JSON Lines, or the project's CSV (docs/CSV.md).

Each record comes out with its position in the file (a JSON Lines line number, or the row
number a spreadsheet shows, the header being row 1), so results and errors point back at it.
The CSV cells are read exactly as the portal's CSV upload reads them (`row_payload` is shared
with it), so one file gives the same submissions and the same derived ids whichever way it
is sent, and sending it both ways appends nothing twice.

A CSV file says which version of the format it is written in (docs/CSV.md, "Format versions"):
a file whose first row is the header is version 1, read exactly as it always was, because a
source may have signed statements built from it; a first row `#carhistory-csv/v2` makes it
version 2, where the `items` column is read through the service-item vocabulary.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from carhistory_verifier import protocol, service_items

REQUIRED_COLUMNS = ("vin", "type", "occurred_at")
BASE_COLUMNS = (*REQUIRED_COLUMNS, "odometer_km", "external_id")
PRIVATE_PREFIX = "private_"
LIST_SEPARATOR = "|"
_TRUE = frozenset({"true", "yes", "1", "y"})
_FALSE = frozenset({"false", "no", "0", "n"})
_INTEGER = re.compile(r"^[+-]?\d+$")

# The first version has no format line: every file written before versions existed.
CSV_FORMAT_FIRST = 1
CSV_FORMAT_LATEST = 2
CSV_FORMAT_LINE = f"#carhistory-csv/v{CSV_FORMAT_LATEST}"
_FORMAT_LINE = re.compile(r"^#\s*carhistory-csv/v(\d+)$", re.IGNORECASE)
# The column read through the service-item vocabulary, and the version it started with.
VOCABULARY_COLUMN = "items"
VOCABULARY_SINCE = 2


class UnknownCsvFormat(ValueError):
    """The file's first row starts with `#` but names no version this code reads."""

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line


class UnknownServiceItems(ValueError):
    """A version-2 row names items the vocabulary does not know; the row is refused whole."""

    def __init__(self, items: list[str]) -> None:
        super().__init__(", ".join(items))
        self.items = items


@dataclass(frozen=True)
class Record:
    position: int
    body: Any  # a submission body, or whatever the line held when it is not a JSON object
    problem: str = ""  # set when the line could not even be read
    problem_field: str = "record"  # the field `problem` is about, for the result file


@cache
def fact_kinds() -> dict[str, str]:
    """Every fact column and its JSON type ("list", "boolean", "integer" or "text")."""
    return {name: kind for facts in protocol.FACT_KINDS.values() for name, kind in facts.items()}


def normalise_header(cells: list[str]) -> list[str]:
    """Column names as the importer reads them: spreadsheets add spaces and capitals ("VIN")."""
    return [cell.strip().lower() for cell in cells]


def csv_format_version(first_row: list[str]) -> int | None:
    """The version a file's format line declares, or None when its first row is not a format
    line (then it is the header of a version-1 file).

    Raises UnknownCsvFormat for a `#` line naming no version read here: guessing would sign
    statements the source never meant.
    """
    first = first_row[0].strip() if first_row else ""
    if not first.startswith("#"):
        return None
    # Spreadsheets save the line padded with empty cells to the width of the header.
    match = _FORMAT_LINE.match(first)
    if match is None or any(cell.strip() for cell in first_row[1:]):
        raise UnknownCsvFormat(",".join(first_row).rstrip(","))
    version = int(match.group(1))
    if not CSV_FORMAT_FIRST <= version <= CSV_FORMAT_LATEST:
        raise UnknownCsvFormat(first)
    return version


def row_payload(
    row: Mapping[str, str | None], *, source: str, version: int = CSV_FORMAT_FIRST
) -> dict[str, Any]:
    """The submission body (SPEC §5) for one CSV row of the given format version. Cells that
    do not parse are passed on as text, so the server's schema, not this module, words the
    error; the one exception is an item outside the vocabulary in a version-2 row
    (UnknownServiceItems), which the server would accept as free text."""
    cells = {column: (value or "").strip() for column, value in row.items() if column}
    payload: dict[str, Any] = {
        "vin": cells.get("vin", ""),
        "type": cells.get("type", ""),
        "occurred_at": cells.get("occurred_at", ""),
    }
    if cells.get("odometer_km"):
        payload["odometer_km"] = _decode(cells["odometer_km"], "integer")
    applicable = protocol.FACT_KINDS.get(payload["type"], {})
    facts = {}
    for column, value in cells.items():
        kind = fact_kinds().get(column)
        if kind is None:
            continue
        if value and version >= VOCABULARY_SINCE and column == VOCABULARY_COLUMN:
            facts[column] = _vocabulary_items(value)
        elif value:
            facts[column] = _decode(value, kind)
        elif kind == "list" and column in applicable:
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
    payload["external_id"] = cells.get("external_id") or derived_row_id(source=source, cells=cells)
    return payload


def _vocabulary_items(value: str) -> list[str]:
    reading = service_items.read_vocabulary_items(value)
    if reading.unknown:
        raise UnknownServiceItems(reading.unknown)
    return reading.codes


def derived_row_id(*, source: str, cells: Mapping[str, str]) -> str:
    """A stable id for a CSV row with no `external_id`: the same row sent again (by the same
    source, through the portal or this tool) gets the same id."""
    content = json.dumps(
        {column: value for column, value in cells.items() if value}, sort_keys=True
    )
    digest = hashlib.sha256(f"{source}\n{content}".encode()).hexdigest()
    return f"csv-{digest}"


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


def read_records(path: Path, *, source: str) -> Iterator[Record]:
    """The records of a `.csv` file, or of JSON Lines (any other name), in file order."""
    if path.suffix.lower() == ".csv":
        yield from _csv_records(path, source=source)
    else:
        yield from _json_lines(path)


def _json_lines(path: Path) -> Iterator[Record]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield Record(number, json.loads(line))
            except json.JSONDecodeError as error:
                yield Record(number, None, f"not JSON: {error.msg} at column {error.colno}")


def _csv_records(path: Path, *, source: str) -> Iterator[Record]:
    # utf-8-sig: Excel's "CSV UTF-8" starts with a byte-order mark.
    with path.open(encoding="utf-8-sig", newline="") as rows:
        reader = csv.reader(rows)
        first_row = next(reader, [])
        try:
            version = csv_format_version(first_row)
        except UnknownCsvFormat as error:
            raise ValueError(
                f"{path}: the first line {error.line!r} names no CSV format this tool reads; "
                f"write {CSV_FORMAT_LINE!r} or start the file with its header row"
            ) from None
        header = normalise_header(first_row if version is None else next(reader, []))
        missing = [column for column in REQUIRED_COLUMNS if column not in header]
        if missing:
            raise ValueError(f"{path}: the header lacks the columns {', '.join(missing)}")
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            row = dict(zip(header, cells, strict=False))
            try:
                body = row_payload(row, source=source, version=version or CSV_FORMAT_FIRST)
            except UnknownServiceItems as error:
                yield Record(
                    reader.line_num, None, _unknown_items_problem(error.items), VOCABULARY_COLUMN
                )
                continue
            yield Record(reader.line_num, body)


def _unknown_items_problem(items: list[str]) -> str:
    return (
        f"not in the service-item vocabulary: {', '.join(items)}; write each item as one of "
        f"{', '.join(service_items.CODES)}, or as its English or Chinese name"
    )

"""Reading a source's file of records: JSON Lines, or the project's CSV (docs/CSV.md).

Each record comes out with its position in the file (a JSON Lines line number, or the row
number a spreadsheet shows, the header being row 1), so results and errors point back at it.
The CSV cells are read exactly as the portal's CSV upload reads them (`row_payload` is shared
with it), so one file gives the same submissions and the same derived ids whichever way it
is sent, and sending it both ways appends nothing twice.
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

from carhistory_verifier import protocol

REQUIRED_COLUMNS = ("vin", "type", "occurred_at")
BASE_COLUMNS = (*REQUIRED_COLUMNS, "odometer_km", "external_id")
PRIVATE_PREFIX = "private_"
LIST_SEPARATOR = "|"
_TRUE = frozenset({"true", "yes", "1", "y"})
_FALSE = frozenset({"false", "no", "0", "n"})
_INTEGER = re.compile(r"^[+-]?\d+$")


@dataclass(frozen=True)
class Record:
    position: int
    body: Any  # a submission body, or whatever the line held when it is not a JSON object
    problem: str = ""  # set when the line could not even be read


@cache
def fact_kinds() -> dict[str, str]:
    """Every fact column and its JSON type ("list", "boolean", "integer" or "text")."""
    return {name: kind for facts in protocol.FACT_KINDS.values() for name, kind in facts.items()}


def normalise_header(cells: list[str]) -> list[str]:
    """Column names as the importer reads them: spreadsheets add spaces and capitals ("VIN")."""
    return [cell.strip().lower() for cell in cells]


def row_payload(row: Mapping[str, str | None], *, source: str) -> dict[str, Any]:
    """The submission body (SPEC §5) for one CSV row. Cells that do not parse are passed on as
    text, so the server's schema, not this module, words the error."""
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
        if value:
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
        header = normalise_header(next(reader, []))
        missing = [column for column in REQUIRED_COLUMNS if column not in header]
        if missing:
            raise ValueError(f"{path}: the header lacks the columns {', '.join(missing)}")
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            row = dict(zip(header, cells, strict=False))
            yield Record(reader.line_num, row_payload(row, source=source))

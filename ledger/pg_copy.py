"""Rows for PostgreSQL's binary COPY, the format of the sequencer's bulk writes (entries, subtree
hashes, VIN index nodes): no escaping or hex on our side, no parsing on the server's.

The format (PostgreSQL manual, COPY, "Binary Format"): a signature, 32-bit flags and header
extension length, then per row a 16-bit field count and each field as a 32-bit length (-1 for
NULL) followed by the value in its type's binary form, then a 16-bit -1. Every integer is
big-endian.
"""

import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
TRAILER = b"\xff\xff"
NULL = b"\xff\xff\xff\xff"
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # timestamps count microseconds from here


def smallint(value: int) -> bytes:
    return b"\x00\x00\x00\x02" + value.to_bytes(2, "big", signed=True)


def bigint(value: int | None) -> bytes:
    if value is None:
        return NULL
    return b"\x00\x00\x00\x08" + value.to_bytes(8, "big", signed=True)


def binary(value: bytes | None) -> bytes:
    if value is None:
        return NULL
    return len(value).to_bytes(4, "big") + value


def text(value: str | None) -> bytes:
    if value is None:
        return NULL
    return binary(value.encode("utf-8"))


def timestamp(value: datetime) -> bytes:
    """A timezone-aware datetime as `timestamp with time zone`."""
    delta = value - _EPOCH
    microseconds = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return bigint(microseconds)


def row(fields: Sequence[bytes]) -> bytes:
    """One row from its already encoded fields."""
    return len(fields).to_bytes(2, "big") + b"".join(fields)


def copy_rows(cursor, table: str, columns: Sequence[str], rows: Iterable[bytes]) -> None:
    """COPY encoded rows into `table` (quoted names) through a psycopg2 cursor."""
    data = HEADER + b"".join(rows) + TRAILER
    # Handed over in one read: psycopg2 takes the GIL for every read, and the sequencer runs
    # this in a second thread while its first one hashes (ledger/vin_index.py, update_map).
    cursor.copy_expert(
        f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT binary)",
        io.BytesIO(data),
        size=len(data),
    )

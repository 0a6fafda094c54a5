"""The witness's durable memory: for each origin, the latest checkpoint it cosigned. SQLite.

tlog-witness requires the check of the old size and the update to the new one to be one
atomic step, and the update to be durable before the cosignature leaves: otherwise two racing
requests could roll the recorded size back (cosigning N+K, then N), or a crash could make the
witness forget a checkpoint it cosigned and later cosign a conflicting one. Here every update
runs in one `BEGIN IMMEDIATE` transaction (one writer at a time, across threads and processes)
and commits with `synchronous=FULL` before the caller signs.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from carhistory_verifier.witness.decision import NEVER_COSIGNED, Cosigned

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cosigned (
    origin TEXT PRIMARY KEY,
    size INTEGER NOT NULL CHECK (size >= 0),
    root_hash BLOB NOT NULL CHECK (length(root_hash) = 32),
    checkpoint_note TEXT NOT NULL
)
"""


class WitnessState:
    """The latest cosigned checkpoint per origin, in the SQLite file at `path`."""

    def __init__(self, path: str | Path) -> None:
        # One connection shared by the server's threads, used under a lock: SQLite serialises
        # writers anyway, and the lock keeps a transaction from seeing another thread's.
        self._connection = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=30
        )
        self._lock = threading.Lock()
        with self._lock:
            self._connection.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit reaches the disk (WAL fsync) before it returns.
            self._connection.execute("PRAGMA synchronous=FULL")
            self._connection.execute(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def latest(self, origin: str) -> Cosigned:
        """The latest checkpoint cosigned for `origin`, or NEVER_COSIGNED."""
        with self._lock:
            return self._read(origin)

    def _read(self, origin: str) -> Cosigned:
        row = self._connection.execute(
            "SELECT size, root_hash, checkpoint_note FROM cosigned WHERE origin = ?", (origin,)
        ).fetchone()
        if row is None:
            return NEVER_COSIGNED
        return Cosigned(size=row[0], root_hash=bytes(row[1]), checkpoint_note=row[2])

    def advance(self, origin: str, extend: Callable[[Cosigned], Cosigned]) -> Cosigned:
        """Atomically replace the origin's record with `extend(record)` and commit it durably.

        `extend` decides from the stored record (it raises to refuse, and then nothing
        changes). Nothing else reads or writes the record in between.
        """
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                new = extend(self._read(origin))
                self._connection.execute(
                    "INSERT INTO cosigned (origin, size, root_hash, checkpoint_note) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (origin) DO UPDATE SET size = excluded.size, "
                    "root_hash = excluded.root_hash, checkpoint_note = excluded.checkpoint_note",
                    (origin, new.size, new.root_hash, new.checkpoint_note),
                )
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")
            return new

"""The witness's durable memory: for each origin, the latest checkpoint it cosigned. SQLite.

tlog-witness requires the check of the old size and the update to the new one to be one
atomic step, and the update to be durable before the cosignature leaves: otherwise two racing
requests could roll the recorded size back (cosigning N+K, then N), or a crash could make the
witness forget a checkpoint it cosigned and later cosign a conflicting one.

Here one writer thread owns the database. Requests queue their check-and-update; the writer
takes every request waiting, runs each check against the state as the requests before it in
the same transaction left it (so requests for one origin are strictly one after another), and
commits them together with `synchronous=FULL` before any of them is answered. The disk's
flush, not the checks, is what a commit costs, so requests that arrive together share one
(group commit): a witness serving many logs at once is not held to one flush per request.
"""

from __future__ import annotations

import queue
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
_SELECT = "SELECT size, root_hash, checkpoint_note FROM cosigned WHERE origin = ?"
_UPSERT = (
    "INSERT INTO cosigned (origin, size, root_hash, checkpoint_note) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root_hash = excluded.root_hash, "
    "checkpoint_note = excluded.checkpoint_note"
)


def _connect(path: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    connection.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit reaches the disk (the WAL is flushed) before it returns.
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute(_SCHEMA)
    return connection


def _read(connection: sqlite3.Connection, origin: str) -> Cosigned:
    row = connection.execute(_SELECT, (origin,)).fetchone()
    if row is None:
        return NEVER_COSIGNED
    return Cosigned(size=row[0], root_hash=bytes(row[1]), checkpoint_note=row[2])


class _Update:
    """One request's check-and-update, waiting for the commit that carries it."""

    def __init__(self, origin: str, extend: Callable[[Cosigned], Cosigned]) -> None:
        self.origin = origin
        self.extend = extend
        self.result: Cosigned | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()


class WitnessState:
    """The latest cosigned checkpoint per origin, in the SQLite file at `path`."""

    def __init__(self, path: str | Path) -> None:
        self._writer = _connect(str(path))
        self._reader = _connect(str(path))
        self._reader_lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Update | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._commit_loop, name="witness-state")
        self._thread.daemon = True
        self._thread.start()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._writer.close()
        self._reader.close()

    def latest(self, origin: str) -> Cosigned:
        """The latest checkpoint cosigned (and committed) for `origin`, or NEVER_COSIGNED."""
        with self._reader_lock:
            return _read(self._reader, origin)

    def advance(self, origin: str, extend: Callable[[Cosigned], Cosigned]) -> Cosigned:
        """Atomically replace the origin's record with `extend(record)`; return once the new
        record is on disk.

        `extend` decides from the stored record (it raises to refuse, and then nothing
        changes for this origin). No other update of the origin runs in between.
        """
        update = _Update(origin, extend)
        self._queue.put(update)
        update.done.wait()
        if update.error is not None:
            raise update.error
        assert update.result is not None
        return update.result

    def _commit_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stopping = False
            while True:
                try:
                    update = self._queue.get_nowait()
                except queue.Empty:
                    break
                if update is None:
                    stopping = True
                    break
                batch.append(update)
            self._commit(batch)
            if stopping:
                return

    def _commit(self, batch: list[_Update]) -> None:
        try:
            self._writer.execute("BEGIN IMMEDIATE")
            for update in batch:
                try:
                    update.result = update.extend(_read(self._writer, update.origin))
                except Exception as error:  # a refusal of this request alone
                    update.error = error
                    continue
                new = update.result
                self._writer.execute(
                    _UPSERT, (update.origin, new.size, new.root_hash, new.checkpoint_note)
                )
            self._writer.execute("COMMIT")
        except sqlite3.Error as error:
            if self._writer.in_transaction:
                self._writer.execute("ROLLBACK")
            # Nothing of this batch is on disk: no request of it may be answered with a 200.
            for update in batch:
                if update.error is None:
                    update.result, update.error = None, error
        finally:
            for update in batch:
                update.done.set()

"""The mirror's store: one SQLite file a party can copy and back up.

It holds every entry's bytes as C2SP tlog-tiles entry bundles of 256 (one row per bundle, so a
million entries are four thousand rows), the right edge of the tree they make (so a run resumes
without rehashing anything), each VIN's map key and VRF proof with the indexes of its entries
(so a run resumes its audit of the VIN index without reading the entries again), and every
checkpoint the mirror verified with its own cosignature line. Entries beyond the latest
verified checkpoint are provisional: fetched for the checkpoint being mirrored, kept across an
interruption, and dropped if that checkpoint does not verify.
"""

from __future__ import annotations

import json
import sqlite3
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from carhistory_verifier import merkle
from carhistory_verifier.note import Checkpoint, NoteError, Verifier, verify_checkpoint
from carhistory_verifier.tiles import TILE_WIDTH, decode_entry_bundle, encode_entry_bundle

STORE_FORMAT = "carhistory-mirror-store/v2"
# Rows of VIN index additions a store keeps before the next recorded checkpoint folds them.
FOLD_VIN_ENTRIES_AFTER = 8
PAGE_SIZE = 16384

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS bundles (
    tile INTEGER PRIMARY KEY,
    entries INTEGER NOT NULL CHECK (entries BETWEEN 1 AND 256),
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS vins (
    vin TEXT PRIMARY KEY,
    map_key BLOB NOT NULL,
    vrf_proof BLOB NOT NULL
);
-- What each append added to the VIN index: a JSON object from VIN to its new entry indexes,
-- one row per append. A catch-up meets most VINs in every range, and a row per VIN and range
-- cost more than writing the entries themselves.
CREATE TABLE IF NOT EXISTS vin_entries (first_index INTEGER PRIMARY KEY, added BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (
    size INTEGER PRIMARY KEY,
    note TEXT NOT NULL,
    frontier BLOB NOT NULL,
    cosignature TEXT NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0
);
"""


class StoreError(Exception):
    """The store cannot be used for this log; the message says why."""


@dataclass(frozen=True)
class MirroredCheckpoint:
    """A checkpoint the mirror verified: the log's signed note (the log's signature only),
    the tree's right edge at its size, and the mirror's cosignature line on it."""

    note: str
    checkpoint: Checkpoint
    frontier: merkle.Frontier
    cosignature: str
    delivered: bool

    @property
    def size(self) -> int:
        return self.checkpoint.size


def _encode_frontier(frontier: merkle.Frontier) -> bytes:
    return frontier.size.to_bytes(8, "big") + b"".join(frontier.hashes)


def _decode_frontier(blob: bytes) -> merkle.Frontier:
    size = int.from_bytes(blob[:8], "big")
    rest = blob[8:]
    hashes = [rest[start : start + merkle.HASH_SIZE] for start in range(0, len(rest), 32)]
    return merkle.Frontier.from_hashes(size, hashes)


class MirrorStore:
    """A mirror's SQLite file, bound to one log key."""

    def __init__(self, path: Path, log_key: Verifier) -> None:
        self.path = Path(path)
        self.log_key = log_key
        self._db = sqlite3.connect(self.path, isolation_level=None)
        # A store is mostly bundles of about 110 KB: in pages of 16 KiB rather than SQLite's
        # 4 KiB, appending them costs about a tenth less CPU (fewer overflow pages and WAL
        # frames) for the same room (64 KiB would leave half a page empty after each bundle:
        # 12% more room). SQLite applies the page size only to a new file, before WAL mode is
        # set; an existing store keeps its own.
        self._db.execute(f"PRAGMA page_size={PAGE_SIZE}")
        # WAL lets a backup read while the mirror writes. Entries are written with
        # synchronous=NORMAL (a crash may lose the last transactions, never corrupt the
        # file: a resumed run fetches them again); a checkpoint is recorded with FULL, whose
        # commit syncs the log and with it every entry before it, so the cosignature is sent
        # only for what is on disk (C2SP tlog-mirror).
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._check_identity()
        self._frontier = self._load_frontier()
        self._vins = {vin for (vin,) in self._db.execute("SELECT vin FROM vins")}

    def close(self) -> None:
        self._db.close()

    def _meta(self, key: str) -> bytes | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def _set_meta(self, key: str, value: bytes) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def _check_identity(self) -> None:
        stored_format = self._meta("format")
        stored_key = self._meta("log_key")
        if stored_format is None:
            self._db.execute("BEGIN IMMEDIATE")
            self._set_meta("format", STORE_FORMAT.encode())
            self._set_meta("log_key", self.log_key.key_string().encode())
            self._db.execute("COMMIT")
            return
        if stored_format.decode() != STORE_FORMAT:
            raise StoreError(f"{self.path} is not a {STORE_FORMAT} store")
        if stored_key is None or stored_key.decode() != self.log_key.key_string():
            raise StoreError(
                f"{self.path} mirrors the log with key {stored_key.decode() if stored_key else '?'}"
                f", not {self.log_key.key_string()}"
            )

    def _load_frontier(self) -> merkle.Frontier:
        blob = self._meta("frontier")
        frontier = merkle.Frontier() if blob is None else _decode_frontier(blob)
        bundles, count, last_tile = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(entries), 0), COALESCE(MAX(tile), -1) FROM bundles"
        ).fetchone()
        last = self._db.execute(
            "SELECT COALESCE(MAX(entries), 0) FROM bundles WHERE tile = ?", (last_tile,)
        ).fetchone()[0]
        # Bundles 0 to last_tile, every one full but the last: no gap, nothing missing.
        contiguous = bundles == last_tile + 1 and count == max(last_tile, 0) * TILE_WIDTH + last
        if not contiguous or count != frontier.size:
            raise StoreError(
                f"{self.path} holds {count} entries but its tree covers {frontier.size}: "
                "the file was changed by something other than carhistory-mirror"
            )
        return frontier

    @property
    def size(self) -> int:
        """How many entries are stored (verified or provisional)."""
        return self._frontier.size

    def frontier(self) -> merkle.Frontier:
        """A copy of the right edge of the stored entries' tree."""
        return merkle.Frontier.from_hashes(self._frontier.size, self._frontier.hashes)

    def append(
        self,
        first_index: int,
        entries: list[bytes],
        frontier: merkle.Frontier,
        vin_changes: dict[str, tuple[bytes, bytes, list[int]]] | None = None,
    ) -> None:
        """Store `entries` from `first_index` on, `frontier` (which must already include
        them) and the VIN index's new entry indexes per VIN, in one transaction."""
        if first_index != self._frontier.size or frontier.size != first_index + len(entries):
            raise StoreError("entries must be appended in order, with the tree that covers them")
        self._db.execute("BEGIN IMMEDIATE")
        position = first_index
        remaining = entries
        while remaining:
            tile, offset = divmod(position, TILE_WIDTH)
            taken = remaining[: TILE_WIDTH - offset]
            remaining = remaining[len(taken) :]
            # A partial bundle stored earlier grows into this one.
            bundle = self._bundle(tile)[:offset] + taken
            self._db.execute(
                "INSERT OR REPLACE INTO bundles (tile, entries, data) VALUES (?, ?, ?)",
                (tile, len(bundle), encode_entry_bundle(bundle)),
            )
            position += len(taken)
        new_vins = [
            (vin, key, proof)
            for vin, (key, proof, _added) in (vin_changes or {}).items()
            if vin not in self._vins
        ]
        self._db.executemany(
            "INSERT INTO vins (vin, map_key, vrf_proof) VALUES (?, ?, ?)", new_vins
        )
        if vin_changes:
            added = {vin: indexes for vin, (_key, _proof, indexes) in vin_changes.items()}
            self._db.execute(
                "INSERT INTO vin_entries (first_index, added) VALUES (?, ?)",
                (first_index, json.dumps(added, separators=(",", ":")).encode()),
            )
        self._set_meta("frontier", _encode_frontier(frontier))
        self._db.execute("COMMIT")
        self._vins.update(vin for vin, _key, _proof in new_vins)
        self._frontier = merkle.Frontier.from_hashes(frontier.size, frontier.hashes)

    def known_vins(self) -> dict[str, tuple[bytes, bytes, list[int]]]:
        """Each VIN's map key, VRF proof and the indexes of its stored entries."""
        indexes = self._vin_indexes()
        rows = self._db.execute("SELECT vin, map_key, vrf_proof FROM vins")
        return {vin: (bytes(key), bytes(proof), indexes.get(vin, [])) for vin, key, proof in rows}

    def vin_rows(self) -> Iterator[tuple[str, bytes, bytes, bytes]]:
        """Each VIN, its map key, its VRF proof and its entry indexes as 8-byte big-endian
        integers, increasing: what a resumed audit reloads its map from."""
        for vin, (key, proof, indexes) in self.known_vins().items():
            yield vin, key, proof, struct.pack(f">{len(indexes)}Q", *indexes)

    def _vin_indexes(self, below: int | None = None) -> dict[str, list[int]]:
        """Each VIN's stored entry indexes (those below `below` only, if given)."""
        indexes: dict[str, list[int]] = {}
        for (added,) in self._db.execute("SELECT added FROM vin_entries ORDER BY first_index"):
            for vin, more in json.loads(added).items():
                if below is not None:
                    more = [index for index in more if index < below]
                known = indexes.get(vin)
                if known is None:
                    indexes[vin] = more
                else:
                    known.extend(more)
        return {vin: found for vin, found in indexes.items() if found}

    def _bundle(self, tile: int) -> list[bytes]:
        row = self._db.execute("SELECT data FROM bundles WHERE tile = ?", (tile,)).fetchone()
        return [] if row is None else decode_entry_bundle(bytes(row[0]))

    def entries(self, start: int, end: int) -> list[bytes]:
        """The stored entries with indexes in [start, end)."""
        found: list[bytes] = []
        for tile in range(start // TILE_WIDTH, -(-end // TILE_WIDTH)):
            first = tile * TILE_WIDTH
            bundle = self._bundle(tile)
            found.extend(bundle[max(0, start - first) : max(0, end - first)])
        return found

    def iter_entries(self) -> Iterator[tuple[int, bytes]]:
        """Every stored entry in index order, a bundle at a time."""
        tile = 0
        while True:
            row = self._db.execute(
                "SELECT tile, data FROM bundles WHERE tile >= ? ORDER BY tile LIMIT 1", (tile,)
            ).fetchone()
            if row is None:
                return
            tile, data = row
            first = tile * TILE_WIDTH
            for offset, entry in enumerate(decode_entry_bundle(bytes(data))):
                yield first + offset, entry
            tile += 1

    def checkpoints(self) -> list[MirroredCheckpoint]:
        """Every checkpoint this mirror verified, smallest first, each re-verified against
        the log key (a hand-edited row is an error, not a fact)."""
        rows = self._db.execute(
            "SELECT note, frontier, cosignature, delivered FROM checkpoints ORDER BY size"
        ).fetchall()
        return [self._mirrored(*row) for row in rows]

    def latest_checkpoint(self) -> MirroredCheckpoint | None:
        row = self._db.execute(
            "SELECT note, frontier, cosignature, delivered FROM checkpoints "
            "ORDER BY size DESC LIMIT 1"
        ).fetchone()
        return None if row is None else self._mirrored(*row)

    def _mirrored(
        self, note: str, frontier: bytes, cosignature: str, delivered: int
    ) -> MirroredCheckpoint:
        try:
            checkpoint = verify_checkpoint(note, self.log_key, origin=self.log_key.name)
        except NoteError as error:
            raise StoreError(
                f"{self.path} holds a checkpoint the log did not sign: {error}"
            ) from None
        return MirroredCheckpoint(
            note, checkpoint, _decode_frontier(bytes(frontier)), cosignature, bool(delivered)
        )

    def record_checkpoint(self, note: str, cosignature: str) -> None:
        """Record a verified checkpoint of the stored tree's current size with the mirror's
        cosignature line; durable when this returns."""
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("BEGIN IMMEDIATE")
        self._fold_vin_entries()
        self._db.execute(
            "INSERT OR REPLACE INTO checkpoints (size, note, frontier, cosignature, delivered) "
            "VALUES (?, ?, ?, ?, 0)",
            (self._frontier.size, note, _encode_frontier(self._frontier), cosignature),
        )
        self._db.execute("COMMIT")
        self._db.execute("PRAGMA synchronous=NORMAL")

    def _fold_vin_entries(self) -> None:
        # Each append leaves a row and a resumed run reads them all: a catch-up's hundreds of
        # rows, one object each, took seconds to read back. Folded into one row here, at the
        # end of a run, when there are more than a few.
        (rows,) = self._db.execute("SELECT COUNT(*) FROM vin_entries").fetchone()
        if rows <= FOLD_VIN_ENTRIES_AFTER:
            return
        folded = json.dumps(self._vin_indexes(), separators=(",", ":")).encode()
        self._db.execute("DELETE FROM vin_entries")
        self._db.execute("INSERT INTO vin_entries (first_index, added) VALUES (0, ?)", (folded,))

    def mark_delivered(self, size: int) -> None:
        self._db.execute("UPDATE checkpoints SET delivered = 1 WHERE size = ?", (size,))

    def truncate_to(self, checkpoint: MirroredCheckpoint | None) -> None:
        """Drop the provisional entries beyond the latest verified checkpoint."""
        frontier = checkpoint.frontier if checkpoint else merkle.Frontier()
        tile, kept = divmod(frontier.size, TILE_WIDTH)
        self._db.execute("BEGIN IMMEDIATE")
        partial = self._bundle(tile)[:kept]
        self._db.execute("DELETE FROM bundles WHERE tile >= ?", (tile,))
        self._forget_vin_indexes_from(frontier.size)
        if partial:
            self._db.execute(
                "INSERT INTO bundles (tile, entries, data) VALUES (?, ?, ?)",
                (tile, len(partial), encode_entry_bundle(partial)),
            )
        self._set_meta("frontier", _encode_frontier(frontier))
        self._db.execute("COMMIT")
        self._frontier = frontier

    def _forget_vin_indexes_from(self, size: int) -> None:
        # Only after a refusal: the VIN index goes back to the entries that verified.
        kept = self._vin_indexes(below=size)
        self._db.execute("DELETE FROM vin_entries")
        if kept:
            self._db.execute(
                "INSERT INTO vin_entries (first_index, added) VALUES (0, ?)",
                (json.dumps(kept, separators=(",", ":")).encode(),),
            )
        dropped = self._vins - kept.keys()
        self._db.executemany("DELETE FROM vins WHERE vin = ?", [(vin,) for vin in dropped])
        self._vins -= dropped

"""What the log says about the sources that signed a bundle's entries: which key each had at
each index, and when it was revoked (SPEC §2, §5). Plain Python, no Django.

A source has one signing key at a time: a `source_key` entry for it replaces its earlier key
from that index on. A `source_status` entry with status `revoked` ends its standing: nothing it
signs after that counts. These rules stop a stolen or retired key from vouching for new
entries, and a key named for one party from speaking for another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from carhistory_verifier.note import Verifier
from carhistory_verifier.protocol import REVOKED, SOURCE_KEY, Failure


class SourceKeyProblem(Exception):
    """Why an entry's key is not the one its source held at the entry's index."""

    def __init__(self, code: Failure, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class PublishedKey:
    """A source key the log published at `index` (in a proven `source_key` entry)."""

    index: int
    key_string: str
    verifier: Verifier


@dataclass
class SourceRecord:
    """One source's keys, in index order, and the index of its revocation, if any."""

    keys: list[PublishedKey] = field(default_factory=list)
    revoked_at: int | None = None


class SourceHistory:
    """The proven `source_key` and `source_status` entries of a bundle, by source."""

    def __init__(self) -> None:
        self._sources: dict[str, SourceRecord] = {}

    def record(self, *, index: int, entry: Mapping[str, Any], key: Verifier | None) -> None:
        """Add one proven, platform-signed entry; `key` is its parsed key for a source_key."""
        source = entry["facts"]["source"]
        record = self._sources.setdefault(source, SourceRecord())
        if entry["type"] == SOURCE_KEY:
            assert key is not None
            record.keys.append(PublishedKey(index, entry["facts"]["key"], key))
            record.keys.sort(key=lambda published: published.index)
        elif entry["facts"].get("status") == REVOKED and (
            record.revoked_at is None or index < record.revoked_at
        ):
            record.revoked_at = index

    def key_for(self, *, source: str, key_string: str, index: int) -> Verifier:
        """The key that must verify `source`'s entry at `index` when it names `key_string`.

        SourceKeyProblem when the log never published that key for that source before `index`,
        when the key is named for another party, or when the source had a newer key by then.
        """
        record = self._sources.get(source, SourceRecord())
        earlier = [key for key in record.keys if key.index < index]
        named = [key for key in earlier if key.key_string == key_string]
        if not named:
            later = [key.index for key in record.keys if key.key_string == key_string]
            reason = (
                f"source_key was published at index {later[0]}, after this entry"
                if later
                else f"source_key is not proven in the log as a key of {source!r}"
            )
            raise SourceKeyProblem(Failure.SOURCE_KEY_UNPROVEN, reason)
        if named[0].verifier.name != source:
            raise SourceKeyProblem(
                Failure.KEY_NAME_MISMATCH,
                f"source_key is named {named[0].verifier.name!r}, not after the source {source!r}",
            )
        if earlier[-1].key_string != key_string:
            raise SourceKeyProblem(
                Failure.KEY_ROTATED_OUT,
                f"source_key was replaced by {source!r}'s key at index {earlier[-1].index}",
            )
        return named[0].verifier

    def check_standing(self, *, source: str, index: int) -> None:
        """SourceKeyProblem when `source` was revoked before `index`."""
        revoked_at = self._sources.get(source, SourceRecord()).revoked_at
        if revoked_at is not None and revoked_at < index:
            raise SourceKeyProblem(
                Failure.SOURCE_REVOKED, f"source {source!r} was revoked at index {revoked_at}"
            )

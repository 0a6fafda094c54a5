"""A buyer's witness policy (SPEC §8): require K of the witnesses they trust to have cosigned
the checkpoint a bundle is proven against. Plain Python, no Django.

A log that showed this buyer a history nobody else sees could sign it, but could not get it
cosigned by independent witnesses that each check every checkpoint extends the last one they
cosigned. Each cosignature carries the time it was made, which says how fresh the view is.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from carhistory_verifier.note import CosignatureVerifier, NoteError, verify_cosignature


class QuorumFailure(Exception):
    """Fewer than the required number of trusted witnesses cosigned the checkpoint."""


@dataclass(frozen=True)
class WitnessCosignature:
    """A trusted witness's verified cosignature: who, and when (POSIX seconds)."""

    name: str
    timestamp: int

    def time_text(self, now: float) -> str:
        at = datetime.fromtimestamp(self.timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{at} ({_age_text(now - self.timestamp)})"


def _age_text(seconds: float) -> str:
    if seconds < 0:
        return "in the future"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return f"{int(seconds)} seconds ago"


def cosignatures(
    checkpoint_note: str, witness_keys: Sequence[CosignatureVerifier]
) -> list[WitnessCosignature]:
    """The valid cosignatures on the checkpoint by `witness_keys`, one per key, in key order.

    A line that claims a trusted witness's name and key id but does not verify is not counted:
    it proves nothing, whoever added it.
    """
    found = []
    for key in dict.fromkeys(witness_keys):
        try:
            timestamp = verify_cosignature(checkpoint_note, key)
        except NoteError:
            continue
        found.append(WitnessCosignature(key.name, timestamp))
    return found


def require_quorum(
    checkpoint_note: str,
    witness_keys: Sequence[CosignatureVerifier],
    quorum: int,
    *,
    now: float | None = None,
) -> list[WitnessCosignature]:
    """The trusted witnesses' cosignatures on the checkpoint; QuorumFailure when fewer than
    `quorum` of them verify, or one is dated in the future (more than a minute of clock skew)."""
    now = time.time() if now is None else now
    found = cosignatures(checkpoint_note, witness_keys)
    for cosignature in found:
        if cosignature.timestamp > now + 60:
            raise QuorumFailure(
                f"the cosignature by {cosignature.name} is dated in the future "
                f"({cosignature.time_text(now)})"
            )
    if len(found) < quorum:
        names = ", ".join(c.name for c in found) or "none"
        raise QuorumFailure(
            f"{len(found)} of the {len(set(witness_keys))} trusted witnesses cosigned the "
            f"checkpoint ({names}); {quorum} required"
        )
    return found

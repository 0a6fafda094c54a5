"""What a log calls to get a witness's cosignature (C2SP tlog-witness v1.0.0, client side).

    body = request_body(old_size=…, proof=…, checkpoint_note=…)
    line, timestamp = add_checkpoint(url=…, old_size=…, proof=…, checkpoint_note=…,
                                     witness_key=…)

A 409 raises `WitnessConflict` carrying the witness's latest cosigned size, so the caller can
build the proof from that size and try again.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence

from carhistory_verifier.entry import b64encode
from carhistory_verifier.note import (
    SIGNATURE_PREFIX,
    CosignatureVerifier,
    NoteError,
    verify_cosignature,
)

USER_AGENT = "carhistory-witness-client/1"
MAX_ANSWER_BYTES = 64 * 1024
_SIZE_ANSWER = re.compile(r"(0|[1-9][0-9]{0,19})\n")


class WitnessUnreachable(Exception):
    """The witness could not be asked, or its answer makes no sense."""


class WitnessConflict(Exception):
    """409: the witness last cosigned `latest_size`, not the old size sent."""

    def __init__(self, latest_size: int) -> None:
        super().__init__(f"the witness last cosigned size {latest_size}")
        self.latest_size = latest_size


class WitnessRefused(Exception):
    """The witness refused the checkpoint (400, 403, 404, 422…); `status` says how."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status


def request_body(*, old_size: int, proof: Sequence[bytes], checkpoint_note: str) -> bytes:
    """The add-checkpoint body: `old N`, one base64 proof hash per line, a blank line, the
    signed checkpoint."""
    lines = [f"old {old_size}", *(b64encode(value) for value in proof)]
    return ("\n".join(lines) + "\n\n" + checkpoint_note).encode("utf-8")


def add_checkpoint(
    *,
    url: str,
    old_size: int,
    proof: Sequence[bytes],
    checkpoint_note: str,
    witness_key: CosignatureVerifier,
    timeout: float = 10.0,
) -> tuple[str, int]:
    """POST the checkpoint to the witness at submission prefix `url`; return its verified
    cosignature line (without newline) and the line's timestamp.

    WitnessConflict on 409, WitnessRefused on another refusal, WitnessUnreachable when the
    witness cannot be reached or answers something other than a valid cosignature by
    `witness_key` (lines by other keys are ignored, as the spec says).
    """
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise WitnessUnreachable(f"the witness URL must be http:// or https://, not {url!r}")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url.rstrip("/") + "/add-checkpoint",
        data=request_body(old_size=old_size, proof=proof, checkpoint_note=checkpoint_note),
        headers={"User-Agent": USER_AGENT, "Content-Type": "text/plain; charset=utf-8"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            answer = response.read(MAX_ANSWER_BYTES)
    except urllib.error.HTTPError as error:
        detail = error.read(MAX_ANSWER_BYTES).decode("utf-8", "replace")
        if error.code == 409:
            raise WitnessConflict(_latest_size(detail)) from None
        raise WitnessRefused(error.code, detail.strip()[:500]) from None
    except (urllib.error.URLError, OSError) as error:
        raise WitnessUnreachable(f"cannot reach {url}: {error}") from None
    return cosignature_from(answer, checkpoint_note=checkpoint_note, witness_key=witness_key)


def _latest_size(body: str) -> int:
    match = _SIZE_ANSWER.fullmatch(body)
    if match is None:
        raise WitnessUnreachable(f"a 409 whose body is not a tree size: {body[:100]!r}")
    return int(match[1])


def cosignature_from(
    answer: bytes, *, checkpoint_note: str, witness_key: CosignatureVerifier
) -> tuple[str, int]:
    """The witness's line among the signature lines of a 200 answer, verified on the
    checkpoint; WitnessUnreachable if there is none that verifies."""
    try:
        text = answer.decode("utf-8")
    except UnicodeDecodeError:
        raise WitnessUnreachable("the witness answered bytes that are not UTF-8") from None
    own_prefix = f"{SIGNATURE_PREFIX}{witness_key.name} "
    for line in text.splitlines():
        if not line.startswith(own_prefix):
            continue
        try:
            timestamp = verify_cosignature(checkpoint_note + line + "\n", witness_key)
        except NoteError:
            continue
        return line, timestamp
    raise WitnessUnreachable("the witness answered no valid cosignature by its key")

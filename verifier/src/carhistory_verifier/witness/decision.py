"""What a witness answers to one add-checkpoint request (C2SP tlog-witness v1.0.0). Pure: no
I/O and no clock, so every status code is tested without a server.

The checks run in the order the spec lists them: the body is well formed (else 400), the
origin is known (404), a trusted key signed the checkpoint (403), the old size is not above the
checkpoint's (400), the old size is the one last cosigned (409, with that size), the tree of
that size has the root last cosigned (409), and the consistency proof verifies (422).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

from carhistory_verifier import merkle
from carhistory_verifier.entry import b64decode
from carhistory_verifier.note import Checkpoint, NoteError, Verifier, open_note, parse_checkpoint

# The spec caps consistency proofs at 63 lines (a proof for a 2**64 tree has at most 2 * 64
# hashes but a real one far fewer); a body is a checkpoint with a few signatures after that.
MAX_PROOF_LINES = 63
MAX_BODY_BYTES = 64 * 1024

_OLD_SIZE_LINE = re.compile(r"old (0|[1-9][0-9]{0,19})")
_MAX_TREE_SIZE = 2**64 - 1


class Status(IntEnum):
    """The HTTP statuses tlog-witness gives add-checkpoint."""

    COSIGNED = 200
    BAD_REQUEST = 400
    FORBIDDEN = 403
    UNKNOWN_LOG = 404
    CONFLICT = 409
    BAD_PROOF = 422


class Refusal(Exception):
    """The witness does not cosign; `status` is the HTTP answer and the message says why.

    A 409 carries `latest_size`, the size of the latest checkpoint cosigned for the origin,
    which the spec has the witness send back so that the log can retry from it.
    """

    def __init__(self, status: Status, reason: str, *, latest_size: int | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.latest_size = latest_size


@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed add-checkpoint body: the old size, the proof from it, the signed checkpoint."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint_note: str


@dataclass(frozen=True)
class Cosigned:
    """What a witness remembers of a log: the latest checkpoint it cosigned."""

    size: int
    root_hash: bytes
    checkpoint_note: str


NEVER_COSIGNED = Cosigned(size=0, root_hash=merkle.EMPTY_ROOT, checkpoint_note="")


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """Split a request body into old size line, proof lines, blank line, checkpoint note.

    Refusal(400) for anything else: a bad old size (leading zeros, signs), a proof line that
    is not base64 of 32 bytes, more than 63 of them, no blank line, text that is not UTF-8.
    """
    if len(body) > MAX_BODY_BYTES:
        raise Refusal(Status.BAD_REQUEST, f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal(Status.BAD_REQUEST, "the body is not UTF-8") from None
    head, separator, checkpoint_note = text.partition("\n\n")
    if not separator:
        raise Refusal(Status.BAD_REQUEST, "the body has no blank line before the checkpoint")
    old_line, *proof_lines = head.split("\n")
    match = _OLD_SIZE_LINE.fullmatch(old_line)
    if match is None or int(match[1]) > _MAX_TREE_SIZE:
        raise Refusal(Status.BAD_REQUEST, "the first line must be 'old <size>' in decimal")
    if len(proof_lines) > MAX_PROOF_LINES:
        raise Refusal(Status.BAD_REQUEST, f"more than {MAX_PROOF_LINES} consistency proof lines")
    return AddCheckpoint(
        old_size=int(match[1]),
        proof=tuple(_proof_hash(line) for line in proof_lines),
        checkpoint_note=checkpoint_note,
    )


def _proof_hash(line: str) -> bytes:
    try:
        value = b64decode(line)
    except ValueError:
        raise Refusal(Status.BAD_REQUEST, "a consistency proof line is not base64") from None
    if len(value) != merkle.HASH_SIZE:
        raise Refusal(Status.BAD_REQUEST, "a consistency proof line is not a 32-byte hash")
    return value


def authenticate(
    request: AddCheckpoint, trusted_keys: Mapping[str, Sequence[Verifier]]
) -> Checkpoint:
    """The checkpoint, once a key trusted for its origin has signed it.

    `trusted_keys` maps each origin to its log keys. Refusal(404) for an unknown origin;
    Refusal(403) when no trusted key signed it or a trusted key's signature fails (signatures
    by other keys, such as other witnesses' cosignatures, are ignored); Refusal(400) for a
    note that is not a checkpoint, or an old size above its size.
    """
    body, separator, _ = request.checkpoint_note.rpartition("\n\n")
    if not separator:
        raise Refusal(Status.BAD_REQUEST, "the checkpoint has no signature lines")
    try:
        checkpoint = parse_checkpoint(body + "\n")
    except NoteError as error:
        raise Refusal(Status.BAD_REQUEST, f"not a checkpoint: {error}") from None
    keys = trusted_keys.get(checkpoint.origin)
    if not keys:
        raise Refusal(Status.UNKNOWN_LOG, f"this witness does not know the log {checkpoint.origin}")
    try:
        open_note(request.checkpoint_note, keys)
    except NoteError as error:
        raise Refusal(Status.FORBIDDEN, f"no trusted signature: {error}") from None
    if request.old_size > checkpoint.size:
        raise Refusal(
            Status.BAD_REQUEST,
            f"old size {request.old_size} is above the checkpoint's size {checkpoint.size}",
        )
    return checkpoint


def extend(*, request: AddCheckpoint, checkpoint: Checkpoint, cosigned: Cosigned) -> Cosigned:
    """The witness's new memory of the log if `checkpoint` extends the one it last cosigned.

    `cosigned` is NEVER_COSIGNED for a log seen for the first time. Refusal(409) when the old
    size is not the size last cosigned, or the checkpoint has that size but another root (a
    fork, or a client that must start over from the size sent back); Refusal(422) when the
    consistency proof does not verify.
    """
    if request.old_size != cosigned.size:
        raise Refusal(
            Status.CONFLICT,
            f"the latest checkpoint cosigned has size {cosigned.size}, not {request.old_size}",
            latest_size=cosigned.size,
        )
    # Only a tree that was really cosigned can conflict; a size-0 checkpoint with a root other
    # than the empty tree's is simply invalid (422 below).
    same_size = checkpoint.size == cosigned.size and cosigned.size > 0
    if same_size and checkpoint.root_hash != cosigned.root_hash:
        raise Refusal(
            Status.CONFLICT,
            f"a checkpoint of size {cosigned.size} with another root hash was cosigned",
            latest_size=cosigned.size,
        )
    try:
        merkle.verify_consistency(
            first=cosigned.size,
            second=checkpoint.size,
            first_root=cosigned.root_hash,
            second_root=checkpoint.root_hash,
            proof=request.proof,
        )
    except merkle.ProofError as error:
        raise Refusal(Status.BAD_PROOF, f"the consistency proof does not verify: {error}") from None
    return Cosigned(
        size=checkpoint.size,
        root_hash=checkpoint.root_hash,
        checkpoint_note=request.checkpoint_note,
    )

"""A witness for the carhistory log (C2SP tlog-cosignature). Plain Python, no Django.

An independent party (a vehicle registry, an insurers' association) runs it next to its own
state file. Each run fetches the log's latest signed checkpoint and a consistency proof from
the last checkpoint it saw, checks both, and only then cosigns. Because the witness never
cosigns two checkpoints that do not extend one another, a log cannot show one history to
buyers and another to auditors while both carry the witness's cosignature.

    carhistory-witness generate NAME
    carhistory-witness cosign --log URL --log-key VKEY|@FILE --key SKEY|@FILE --state FILE

Exit codes of `cosign`: 0 cosigned and delivered; 1 a check failed or the log refused the
cosignature; 2 a key, the state file or the log's answer could not be read; 3 the log forked
(two checkpoints it signed disagree: the message and the state file hold the evidence).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from carhistory_verifier import merkle
from carhistory_verifier.entry import b64decode
from carhistory_verifier.note import (
    SIGNATURE_PREFIX,
    Checkpoint,
    CosignatureSigner,
    NoteError,
    Verifier,
    cosign_checkpoint,
    verify_checkpoint,
)

STATE_FORMAT = "carhistory-witness-state/v1"
USER_AGENT = "carhistory-witness/1"
HTTP_TIMEOUT_SECONDS = 30
# A checkpoint is a few hundred bytes and a proof at most 128 hashes; anything far larger is
# not the log answering.
MAX_RESPONSE_BYTES = 1_000_000

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_UNREADABLE = 2
EXIT_FORK = 3


class WitnessError(Exception):
    """The witness refused to cosign a checkpoint; the message says why."""


class ForkError(WitnessError):
    """The log signed two different trees of the same size: proof that it forked.

    Both signed notes are kept so the witness can publish them; either one alone is
    unremarkable, but together they are evidence no one can dispute.
    """

    def __init__(self, message: str, *, seen_note: str, new_note: str) -> None:
        super().__init__(message)
        self.seen_note = seen_note
        self.new_note = new_note


@dataclass(frozen=True)
class WitnessState:
    """The last checkpoint this witness verified, as the log signed it."""

    note: str
    checkpoint: Checkpoint


@dataclass(frozen=True)
class Cosigned:
    """A checkpoint the witness accepted: its cosignature line, the checkpoint note with that
    line among the signature lines (what the log's cosignature endpoint takes), and the
    witness's new state."""

    signature_line: str
    cosigned_note: str
    state: WitnessState


def check_and_cosign(
    *,
    seen: WitnessState | None,
    checkpoint_note: str,
    log_key: Verifier,
    consistency_proof: Sequence[bytes],
    witness_key: CosignatureSigner,
    timestamp: int,
) -> Cosigned:
    """Check a newly fetched checkpoint against the last one seen and cosign it.

    `seen` is the witness's state, or None the first time (the first checkpoint is trusted
    as it comes, and later ones must extend it). `consistency_proof` proves the tree of
    `seen`'s size (0 when None) is a prefix of the new one. Refuses, with WitnessError, a
    checkpoint the log key did not sign, one for another origin, a smaller tree than the one
    seen, and a proof that does not verify; with ForkError a different root at the size seen.
    Nothing is returned and nothing changes unless every check passes.
    """
    try:
        checkpoint = verify_checkpoint(checkpoint_note, log_key)
    except NoteError as error:
        raise WitnessError(f"the checkpoint is not the log's: {error}") from None
    # This log names its key after its origin (ledger/keys.py), so a checkpoint for another
    # origin under the same key is not this log's tree.
    if checkpoint.origin != log_key.name:
        raise WitnessError(
            f"the checkpoint's origin {checkpoint.origin!r} is not the log key's name "
            f"{log_key.name!r}"
        )
    if seen is None:
        seen_size, seen_root = 0, merkle.EMPTY_ROOT
    else:
        seen_size, seen_root = _check_against_seen(seen, checkpoint, checkpoint_note)
    try:
        merkle.verify_consistency(
            first=seen_size,
            second=checkpoint.size,
            first_root=seen_root,
            second_root=checkpoint.root_hash,
            proof=list(consistency_proof),
        )
    except merkle.ProofError as error:
        raise WitnessError(
            f"the consistency proof from size {seen_size} to {checkpoint.size} does not "
            f"verify ({error}): the log forked or served a bad proof; not cosigned"
        ) from None
    line = cosign_checkpoint(checkpoint_note, witness_key, timestamp=timestamp)
    return Cosigned(
        signature_line=line,
        cosigned_note=_with_signature_line(checkpoint_note, witness_key.name, line),
        state=WitnessState(note=checkpoint_note, checkpoint=checkpoint),
    )


def _check_against_seen(
    seen: WitnessState, checkpoint: Checkpoint, checkpoint_note: str
) -> tuple[int, bytes]:
    previous = seen.checkpoint
    if checkpoint.origin != previous.origin:
        raise WitnessError(
            f"the checkpoint is for {checkpoint.origin!r}, but this state is for "
            f"{previous.origin!r}"
        )
    if checkpoint.size < previous.size:
        # Not proof of a fork by itself (a stale cache can replay an old checkpoint), but a
        # witness that went backwards could be walked onto a different branch.
        raise WitnessError(
            f"the log served a tree of size {checkpoint.size}, smaller than the size "
            f"{previous.size} this witness already saw: refusing to go back"
        )
    if checkpoint.size == previous.size and checkpoint.root_hash != previous.root_hash:
        raise ForkError(
            f"THE LOG FORKED: it signed two different trees of size {checkpoint.size}. "
            "Not cosigned. Keep both signed checkpoints below and publish them.",
            seen_note=seen.note,
            new_note=checkpoint_note,
        )
    return previous.size, previous.root_hash


def _with_signature_line(checkpoint_note: str, witness_name: str, line: str) -> str:
    """The note with `line` appended to its signature lines, replacing this witness's earlier
    lines, if the log already serves one, so the note carries one cosignature per witness."""
    text, blank, signatures = checkpoint_note.rpartition("\n\n")
    own_prefix = f"{SIGNATURE_PREFIX}{witness_name} "
    kept = [s for s in signatures.splitlines(keepends=True) if not s.startswith(own_prefix)]
    return text + blank + "".join(kept) + line


# The state file ---------------------------------------------------------------------------


def state_to_json(state: WitnessState) -> str:
    """The state file's contents: the last checkpoint seen, verbatim as the log signed it."""
    return json.dumps({"format": STATE_FORMAT, "checkpoint": state.note}, indent=2) + "\n"


def state_from_json(text: str, log_key: Verifier) -> WitnessState:
    """Read a state file's contents; WitnessError if it is not this log's state.

    The stored checkpoint is verified again, so a state file from another log (or one edited
    by hand) is refused rather than quietly used as the point to extend.
    """
    try:
        data = json.loads(text)
    except ValueError as error:
        raise WitnessError(f"not JSON: {error}") from None
    if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
        raise WitnessError(f"not a {STATE_FORMAT} state file")
    stored_note = data.get("checkpoint")
    if not isinstance(stored_note, str):
        raise WitnessError("its checkpoint must be a string")
    try:
        checkpoint = verify_checkpoint(stored_note, log_key)
    except NoteError as error:
        raise WitnessError(f"its checkpoint is not this log's: {error}") from None
    return WitnessState(note=stored_note, checkpoint=checkpoint)


def save_state(path: Path, state: WitnessState) -> None:
    """Replace the state file atomically: a crash leaves the old state or the new, never a
    torn file that would make the witness forget what it has cosigned."""
    directory = path.parent
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(state_to_json(state))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory_handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_handle)
    finally:
        os.close(directory_handle)


def load_state(path: Path, log_key: Verifier) -> WitnessState | None:
    """The state in `path`, or None if the file does not exist yet (the first run).

    An unreadable or damaged file is an error, never a fresh start: starting over would let
    the log walk the witness onto a different branch.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return state_from_json(text, log_key)


# Talking to the log -----------------------------------------------------------------------


class LogUnreachable(Exception):
    """The log could not be asked, or its answer could not be read."""


class CosignatureRefused(Exception):
    """The log answered the cosignature with an error; the message carries its reason."""


class LogClient:
    """The three log endpoints a witness uses (SPEC.md §4), over urllib."""

    def __init__(self, base_url: str) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        # urllib would also open file: and ftp: URLs; a witness only talks HTTP(S).
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise LogUnreachable(f"--log must be an http:// or https:// URL, not {base_url!r}")
        self.base_url = base_url.rstrip("/")

    def _request(self, path: str, *, json_body: dict[str, str] | None = None) -> bytes:
        """GET `path`, or POST `json_body` to it; the answer's bytes."""
        url = self.base_url + path
        headers = {"User-Agent": USER_AGENT}
        data = None
        if json_body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(json_body).encode("utf-8")
        request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 - scheme checked in __init__
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310 - as above
                body = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as error:
            detail = error.read(MAX_RESPONSE_BYTES).decode("utf-8", "replace")
            if json_body is not None and error.code == 400:
                raise CosignatureRefused(detail) from None
            raise LogUnreachable(f"{url} answered {error.code}: {detail[:500]}") from None
        except (urllib.error.URLError, OSError) as error:
            raise LogUnreachable(f"cannot reach {url}: {error}") from None
        if len(body) > MAX_RESPONSE_BYTES:
            raise LogUnreachable(f"{url} answered more than {MAX_RESPONSE_BYTES} bytes")
        return body

    def _get_text(self, path: str) -> str:
        try:
            return self._request(path).decode("utf-8")
        except UnicodeDecodeError as error:
            raise LogUnreachable(f"{path} is not UTF-8: {error}") from None

    def checkpoint(self) -> str:
        """The latest signed checkpoint note, with any cosignatures already served."""
        return self._get_text("/log/checkpoint")

    def consistency_proof(self, *, first: int, second: int) -> list[bytes]:
        """The consistency proof between two tree sizes, decoded; LogUnreachable if the
        answer is not the JSON SPEC §4 describes."""
        query = urllib.parse.urlencode({"first": first, "second": second})
        text = self._get_text(f"/api/v1/log/proof/consistency?{query}")
        try:
            data = json.loads(text)
        except ValueError as error:
            raise LogUnreachable(f"the consistency proof is not JSON: {error}") from None
        if not isinstance(data, dict) or (data.get("first"), data.get("second")) != (
            first,
            second,
        ):
            raise LogUnreachable(f"the consistency proof is not for sizes {first} to {second}")
        proof = data.get("proof")
        if not isinstance(proof, list):
            raise LogUnreachable("the consistency proof has no list of hashes")
        try:
            return [b64decode(value) for value in proof]
        except ValueError as error:
            raise LogUnreachable(f"the consistency proof holds bad base64: {error}") from None

    def submit_cosignature(self, *, witness_name: str, cosigned_note: str) -> None:
        """POST the cosigned note; CosignatureRefused if the log turns it down."""
        self._request(
            "/api/v1/log/cosignatures",
            json_body={"witness": witness_name, "note": cosigned_note},
        )


# The command line -------------------------------------------------------------------------


def _read_key_argument(value: str) -> str:
    """A key given inline, or @FILE to read it from a file (so it stays out of `ps`)."""
    if value.startswith("@"):
        return Path(value[1:]).read_text(encoding="utf-8").strip()
    return value.strip()


def _generate(arguments: argparse.Namespace) -> int:
    try:
        signer = CosignatureSigner.generate(arguments.name)
    except NoteError as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    print(signer.key_string())
    print(signer.verifier().key_string())
    print(
        "The first line is the witness's signer key: keep it secret, in a file only the "
        "witness can read, and pass it as --key @FILE.\n"
        "The second is its verifier key: send it to the log's moderators, who register it "
        "as a Witness with the same name.",
        file=sys.stderr,
    )
    return EXIT_OK


@dataclass(frozen=True)
class _CosignSetup:
    client: LogClient
    log_key: Verifier
    witness_key: CosignatureSigner
    state_path: Path
    seen: WitnessState | None


def _setup(arguments: argparse.Namespace) -> _CosignSetup:
    """Read the keys and the state; LogUnreachable/WitnessError/OSError/NoteError if bad."""
    try:
        log_key = Verifier.from_key_string(_read_key_argument(arguments.log_key))
    except NoteError as error:
        raise NoteError(f"--log-key: {error}") from None
    try:
        witness_key = CosignatureSigner.from_key_string(_read_key_argument(arguments.key))
    except NoteError as error:
        raise NoteError(f"--key: {error}") from None
    state_path = Path(arguments.state)
    try:
        seen = load_state(state_path, log_key)
    except WitnessError as error:
        raise WitnessError(f"state file {state_path}: {error}") from None
    return _CosignSetup(LogClient(arguments.log), log_key, witness_key, state_path, seen)


def _cosign(arguments: argparse.Namespace) -> int:
    try:
        setup = _setup(arguments)
    except (OSError, UnicodeDecodeError, NoteError, WitnessError, LogUnreachable) as error:
        print(f"FAILED: cannot read input: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    seen_size = setup.seen.checkpoint.size if setup.seen else 0
    try:
        checkpoint_note = setup.client.checkpoint()
        new_size = _claimed_size(checkpoint_note)
        # From the empty tree, or to a tree no larger than the one seen, the proof is empty
        # (or the checkpoint is refused anyway); the log is only asked when there is growth.
        proof = (
            setup.client.consistency_proof(first=seen_size, second=new_size)
            if 0 < seen_size < new_size
            else []
        )
    except LogUnreachable as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        cosigned = check_and_cosign(
            seen=setup.seen,
            checkpoint_note=checkpoint_note,
            log_key=setup.log_key,
            consistency_proof=proof,
            witness_key=setup.witness_key,
            timestamp=int(time.time()),
        )
    except ForkError as fork:
        print(
            f"FAILED: {fork}\n--- checkpoint seen before ---\n{fork.seen_note}"
            f"--- checkpoint served now ---\n{fork.new_note}",
            file=sys.stderr,
        )
        return EXIT_FORK
    except WitnessError as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return EXIT_REFUSED
    # The state is saved before the cosignature leaves: were it published first and the save
    # then failed, the next run would check against an older checkpoint and could cosign a
    # branch that conflicts with the one already cosigned.
    try:
        save_state(setup.state_path, cosigned.state)
    except OSError as error:
        print(f"FAILED: cannot save {setup.state_path}; not submitted: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    return _deliver(setup, cosigned)


def _claimed_size(checkpoint_note: str) -> int:
    """The size line of a checkpoint not yet verified, only to ask for the right proof; the
    signature and the proof are checked afterwards."""
    lines = checkpoint_note.split("\n", 2)
    # 20 digits hold any 64-bit size, and keep int() from chewing on a megabyte of digits.
    if len(lines) < 3 or not (lines[1].isascii() and lines[1].isdecimal() and len(lines[1]) <= 20):
        raise LogUnreachable("/log/checkpoint did not answer a checkpoint")
    return int(lines[1])


def _deliver(setup: _CosignSetup, cosigned: Cosigned) -> int:
    checkpoint = cosigned.state.checkpoint
    try:
        setup.client.submit_cosignature(
            witness_name=setup.witness_key.name, cosigned_note=cosigned.cosigned_note
        )
    except CosignatureRefused as error:
        print(f"FAILED: the log refused the cosignature: {error}", file=sys.stderr)
        return EXIT_REFUSED
    except LogUnreachable as error:
        print(
            f"FAILED: checkpoint {checkpoint.size} verified and saved, but the cosignature was "
            f"not delivered (run again): {error}",
            file=sys.stderr,
        )
        return EXIT_UNREADABLE
    print(
        f"OK: cosigned {checkpoint.origin} at tree size {checkpoint.size} as "
        f"{setup.witness_key.name}; state saved to {setup.state_path}"
    )
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="carhistory-witness",
        description="Witness a carhistory log: check each checkpoint extends the last one "
        "seen, then cosign it (C2SP tlog-cosignature).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate", help="print a new witness key pair")
    generate.add_argument("name", help="the witness's name, e.g. registry.example/witness")
    generate.set_defaults(run=_generate)
    cosign = commands.add_parser("cosign", help="verify the latest checkpoint and cosign it")
    cosign.add_argument("--log", required=True, help="the log's base URL")
    cosign.add_argument(
        "--log-key", required=True, help="the log's verifier key line, or @FILE (pin it)"
    )
    cosign.add_argument("--key", required=True, help="the witness's signer key, or @FILE")
    cosign.add_argument(
        "--state", required=True, help="the witness's state file; created on the first run"
    )
    cosign.set_defaults(run=_cosign)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line; see the module docstring for the exit codes."""
    arguments = _parser().parse_args(argv)
    return arguments.run(arguments)


if __name__ == "__main__":
    sys.exit(main())

"""The `carhistory-submit` command.

    carhistory-submit keygen NAME --out FILE
    carhistory-submit register --url URL --token TOKEN|@FILE --key SKEY|@FILE
    carhistory-submit send FILE --url URL --token TOKEN|@FILE --key SKEY|@FILE
                           [--results PATH] [--batch 1000] [--parallel 2]

Exit status: 0 when every record is in the log (or on its way), 1 when the server refused
something (each refusal is in the result file), 2 when the command could not run at all
(unreadable file or key, the server unreachable, the token refused).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from carhistory_verifier import note
from carhistory_verifier.submit.client import Answer, SourceClient, Unreachable
from carhistory_verifier.submit.records import Record, read_records
from carhistory_verifier.submit.results import ACCEPTED_STATES, REFUSED, ResultFile
from carhistory_verifier.submit.statement import RecordError, RecordSigner

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_UNUSABLE = 2
MAX_BATCH = 1000  # the batch API's own limit (SPEC §4)


class Unusable(Exception):
    """The command cannot go on; the message says why and what to do."""


def _secret(value: str) -> str:
    """A token or key given inline, or @FILE to read it from a file (so it stays out of `ps`
    and the shell history)."""
    if value.startswith("@"):
        try:
            return Path(value[1:]).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise Unusable(f"cannot read {value[1:]}: {error.strerror}") from None
    return value.strip()


def _signer(value: str) -> note.Signer:
    try:
        return note.Signer.from_key_string(_secret(value))
    except note.NoteError as error:
        raise Unusable(f"--key is not a signer key made by `keygen`: {error}") from None


def _keygen(arguments: argparse.Namespace) -> int:
    try:
        signer = note.Signer.generate(arguments.name)
    except note.NoteError as error:
        raise Unusable(f"{arguments.name!r} cannot name a key: {error}") from None
    try:
        # O_EXCL: never overwrite a key that may already be registered.
        descriptor = os.open(arguments.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise Unusable(f"{arguments.out} exists; keep that key or choose another file") from None
    except OSError as error:
        raise Unusable(f"cannot write {arguments.out}: {error.strerror}") from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as key_file:
        key_file.write(signer.key_string() + "\n")
    print(signer.verifier().key_string())
    print(
        f"The signer key is in {arguments.out} (keep it secret). Register the verifier key "
        "above: carhistory-submit register --url URL --token @TOKEN_FILE "
        f"--key @{arguments.out}",
        file=sys.stderr,
    )
    return EXIT_OK


def _register(arguments: argparse.Namespace) -> int:
    signer = _signer(arguments.key)
    client = SourceClient(arguments.url, _secret(arguments.token))
    verifier_key = signer.verifier().key_string()
    answer = _reachable(lambda: client.register_key(verifier_key))
    if answer.status in (401, 403):
        raise Unusable(f"the server refused the token: {answer.detail()}")
    if answer.status != 201:
        print(f"refused (HTTP {answer.status}): {answer.detail()}", file=sys.stderr)
        return EXIT_REFUSED
    index = answer.body.get("index")
    # The log enqueues the key's entry; records signed from now on are logged after it anyway.
    where = "its log entry is pending" if index is None else f"at log index {index}"
    print(f"registered {verifier_key}; {where}")
    return EXIT_OK


def _reachable(call):
    try:
        return call()
    except Unreachable as error:
        raise Unusable(f"the server did not answer: {error}") from None


class _Progress:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.accepted = self.refused = self.skipped = 0

    def show(self) -> None:
        done = self.accepted + self.refused
        rate = done / max(time.monotonic() - self.started, 1e-9)
        print(
            f"{done:,} sent: {self.accepted:,} accepted, {self.refused:,} refused, "
            f"{self.skipped:,} skipped (accepted in an earlier run); {rate:,.0f} records/s",
            file=sys.stderr,
            flush=True,
        )


def _batches(
    records: Iterator[Record], signer: RecordSigner, results: ResultFile, progress: _Progress, size
) -> Iterator[list[tuple[Record, dict[str, Any]]]]:
    """Signed bodies to send, `size` at a time; records refused before sending go straight to
    the result file, records accepted in an earlier run are skipped."""
    batch: list[tuple[Record, dict[str, Any]]] = []
    for record in records:
        if record.problem:
            results.write([_refusal(record, None, {record.problem_field: [record.problem]})])
            progress.refused += 1
            continue
        try:
            payload = signer.prepared_payload(record.body)
            if payload["external_id"] in results.accepted_earlier:
                progress.skipped += 1
                continue
            signer.sign(payload)
        except RecordError as error:
            results.write([_refusal(record, None, {"record": [str(error)]})])
            progress.refused += 1
            continue
        batch.append((record, payload))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _refusal(record: Record, external_id: Any, errors: Any) -> dict[str, Any]:
    return {
        "record": record.position,
        "external_id": external_id,
        "status": REFUSED,
        "errors": errors,
    }


def _outcomes(batch: list[tuple[Record, dict[str, Any]]], answer: Answer) -> list[dict]:
    if answer.status in (401, 403):
        raise Unusable(f"the server refused the token: {answer.detail()}")
    items = answer.body.get("results") if isinstance(answer.body, dict) else None
    if answer.status != 202 or not isinstance(items, list) or len(items) != len(batch):
        reason = {"batch": [f"HTTP {answer.status}: {answer.detail()}"]}
        return [_refusal(record, payload["external_id"], reason) for record, payload in batch]
    outcomes = []
    for (record, payload), item in zip(batch, items, strict=True):
        state = item.get("status") if isinstance(item, dict) else None
        if state in ACCEPTED_STATES:
            outcome = {"record": record.position, "external_id": payload["external_id"]}
            outcome.update({key: item[key] for key in ("status", "id", "index") if key in item})
            outcomes.append(outcome)
        else:
            errors = item.get("errors") if isinstance(item, dict) else None
            outcomes.append(_refusal(record, payload["external_id"], errors or item))
    return outcomes


def _send(arguments: argparse.Namespace) -> int:
    signer = RecordSigner(_signer(arguments.key))
    client = SourceClient(arguments.url, _secret(arguments.token))
    source_file = Path(arguments.file)
    if not source_file.is_file():
        raise Unusable(f"{source_file} is not a file")
    result_path = Path(arguments.results or f"{source_file}.results.jsonl")
    results = ResultFile(result_path)
    progress = _Progress()
    try:
        records = read_records(source_file, source=signer.source)
        _post_all(
            client,
            _batches(records, signer, results, progress, arguments.batch),
            results,
            progress,
            parallel=arguments.parallel,
        )
    except (ValueError, UnicodeDecodeError) as error:
        raise Unusable(f"cannot read {source_file}: {error}") from None
    finally:
        results.close()
    if progress.skipped and not progress.accepted + progress.refused:
        progress.show()  # nothing was sent, so no batch showed it
    print(f"Results, one line per record: {result_path}", file=sys.stderr)
    return EXIT_REFUSED if progress.refused else EXIT_OK


def _post_all(client, batches, results: ResultFile, progress: _Progress, *, parallel: int):
    """Post batches `parallel` at a time, signing the next ones while those are in flight;
    results are written as each batch is answered."""
    in_flight: list[tuple[list, Future]] = []

    def settle(batch, future: Future) -> None:
        outcomes = _outcomes(batch, _reachable(future.result))
        results.write(outcomes)
        refused = sum(1 for outcome in outcomes if outcome["status"] == REFUSED)
        progress.refused += refused
        progress.accepted += len(outcomes) - refused
        progress.show()

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for batch in batches:
            payloads = [payload for _record, payload in batch]
            in_flight.append((batch, pool.submit(client.send_batch, payloads)))
            if len(in_flight) > parallel:
                settle(*in_flight.pop(0))
        for batch, future in in_flight:
            settle(batch, future)


def _batch_size(text: str) -> int:
    size = int(text)
    if not 1 <= size <= MAX_BATCH:
        raise argparse.ArgumentTypeError(f"between 1 and {MAX_BATCH}")
    return size


def _parallel(text: str) -> int:
    count = int(text)
    if not 1 <= count <= 16:
        raise argparse.ArgumentTypeError("between 1 and 16")
    return count


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="carhistory-submit",
        description="Sign your records at the source and send them to a carhistory log.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    keygen = commands.add_parser("keygen", help="make a signing key named after your source")
    keygen.add_argument("name", help="your source's public id (slug), e.g. bj-chaoyang-auto-repair")
    keygen.add_argument("--out", required=True, help="file to write the signer key to (0600)")
    for name, help_text in (
        ("register", "put your verifier key in the log"),
        ("send", "sign and send a JSON Lines or CSV file of records"),
    ):
        command = commands.add_parser(name, help=help_text)
        if name == "send":
            command.add_argument("file", help="records: .csv (docs/CSV.md) or JSON Lines")
        command.add_argument(
            "--url", required=True, help="the site, e.g. https://carhistory.example"
        )
        command.add_argument("--token", required=True, help="your API key, or @FILE")
        command.add_argument("--key", required=True, help="your signer key, or @FILE")
    send = commands.choices["send"]
    send.add_argument("--results", help="result file (default: FILE.results.jsonl)")
    send.add_argument("--batch", type=_batch_size, default=MAX_BATCH, help="records per request")
    send.add_argument("--parallel", type=_parallel, default=2, help="requests in flight")
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    command = {"keygen": _keygen, "register": _register, "send": _send}[arguments.command]
    try:
        return command(arguments)
    except Unusable as error:
        print(f"carhistory-submit: {error}", file=sys.stderr)
        return EXIT_UNUSABLE


if __name__ == "__main__":
    sys.exit(main())

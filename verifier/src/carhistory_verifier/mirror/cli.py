"""`carhistory-mirror`: generate a mirror's keys, or sync a verified copy of the log.

    carhistory-mirror generate NAME
    carhistory-mirror sync --log URL --token @FILE --key @FILE --log-key @FILE --store PATH

Exit codes of `sync`: 0 mirrored and cosigned (or nothing new); 1 a check failed (a wrong root,
a wrong VIN index) or the log refused the cosignature; 2 a key, the store or the log's answer
could not be read (run again: nothing fetched is lost); 3 the log forked.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

from carhistory_verifier.cosigner_cli import (
    EXIT_OK,
    EXIT_UNREADABLE,
    add_generate_command,
    read_argument,
)
from carhistory_verifier.mirror.client import CosignatureRefused, LogUnreachable, MirrorClient
from carhistory_verifier.mirror.store import MirrorStore, StoreError
from carhistory_verifier.mirror.sync import ForkDetected, MirrorRefused, sync
from carhistory_verifier.note import CosignatureSigner, NoteError, Verifier

EXIT_REFUSED = 1
EXIT_FORK = 3
# Allocations less deallocations between two collections of the youngest generation (70,000,
# a hundred times Python's 700); see `_sync`.
GC_YOUNGEST_THRESHOLD = 70_000
NEXT_STEP = (
    "The first line is the mirror's signer key: keep it secret and pass it as --key @FILE.\n"
    "The second is its verifier key: the log's operator registers it with "
    "`manage.py add_mirror NAME --key '<verifier key>'`, which prints the mirror's token."
)


def _open(
    arguments: argparse.Namespace,
) -> tuple[MirrorClient, MirrorStore, Verifier, CosignatureSigner]:
    try:
        log_key = Verifier.from_key_string(read_argument(arguments.log_key))
    except NoteError as error:
        raise NoteError(f"--log-key: {error}") from None
    try:
        mirror_key = CosignatureSigner.from_key_string(read_argument(arguments.key))
    except NoteError as error:
        raise NoteError(f"--key: {error}") from None
    client = MirrorClient(arguments.log, read_argument(arguments.token))
    return client, MirrorStore(Path(arguments.store), log_key), log_key, mirror_key


def _sync(arguments: argparse.Namespace) -> int:
    try:
        client, store, log_key, mirror_key = _open(arguments)
    except (OSError, UnicodeDecodeError, NoteError, StoreError, LogUnreachable) as error:
        print(f"FAILED: cannot read input: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    # A catch-up makes millions of short-lived objects and next to no reference cycles, while
    # the map it keeps grows to hundreds of thousands of dict entries that the collector's
    # older generations walk: collecting a hundred times less often spares about 1.5 µs of
    # CPU an entry (0.33 s of collections in a 200,000-entry catch-up).
    gc.set_threshold(GC_YOUNGEST_THRESHOLD)
    started = time.monotonic()
    try:
        result = sync(
            client=client,
            store=store,
            log_key=log_key,
            mirror_key=mirror_key,
            timestamp=lambda: int(time.time()),
        )
    except ForkDetected as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return EXIT_FORK
    except MirrorRefused as error:
        print(f"FAILED: {error}; not cosigned", file=sys.stderr)
        return EXIT_REFUSED
    except CosignatureRefused as error:
        print(f"FAILED: the log refused the cosignature: {error}", file=sys.stderr)
        return EXIT_REFUSED
    except (LogUnreachable, StoreError, OSError) as error:
        print(f"FAILED: {error} (run again: what was stored is kept)", file=sys.stderr)
        return EXIT_UNREADABLE
    finally:
        store.close()
    elapsed = time.monotonic() - started
    checkpoint = result.checkpoint
    print(
        f"OK: mirrored {checkpoint.origin} at tree size {checkpoint.size}: fetched "
        f"{result.fetched} entries (from index {result.resumed_at}, {client.entry_bytes} "
        f"bytes, and {client.proof_bytes} bytes of VRF proofs) in {elapsed:.2f}s, "
        f"{time.process_time():.2f} CPU-seconds in this process; cosigned as {mirror_key.name}"
        + ("" if result.delivered else " (the log already had the cosignature)")
    )
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="carhistory-mirror",
        description="Keep a verified copy of a carhistory log and cosign what it stored "
        "(C2SP tlog-mirror cosignatures).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add_generate_command(commands, example_name="registry.example/mirror", next_step=NEXT_STEP)
    run = commands.add_parser("sync", help="fetch, verify and store what is new; cosign it")
    run.add_argument("--log", required=True, help="the log's base URL")
    run.add_argument("--token", required=True, help="the mirror's access token, or @FILE")
    run.add_argument("--key", required=True, help="the mirror's signer key, or @FILE")
    run.add_argument("--log-key", required=True, help="the log's verifier key line, or @FILE")
    run.add_argument("--store", required=True, help="the SQLite store; created on first use")
    run.set_defaults(run=_sync)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line; see the module docstring for the exit codes."""
    arguments = _parser().parse_args(argv)
    return arguments.run(arguments)


if __name__ == "__main__":
    sys.exit(main())

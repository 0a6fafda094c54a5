"""`carhistory-witness`: make a witness key pair, and serve tlog-witness.

    carhistory-witness generate NAME
    carhistory-witness serve --listen HOST:PORT --key @FILE --log-key @FILE [--log-key @FILE …]
                             --state PATH

`generate` prints the signer key line, then the verifier key line (give the second to the logs
you witness). `serve` answers `POST /add-checkpoint` for every log whose key is given; a log's
origin is its key's name. Exit codes: 0 on a clean stop, 2 when a key or the state cannot be
read or the address cannot be bound.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys

from carhistory_verifier.cosigner_cli import (
    EXIT_OK,
    EXIT_UNREADABLE,
    add_generate_command,
    read_argument,
)
from carhistory_verifier.note import CosignatureSigner, NoteError, Verifier
from carhistory_verifier.witness.server import Witness, make_server
from carhistory_verifier.witness.state import WitnessState


def _listen_address(value: str) -> tuple[str, int]:
    host, separator, port = value.rpartition(":")
    if not separator or not port.isdecimal() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


def _load_witness(arguments: argparse.Namespace) -> Witness:
    """The witness the arguments describe; ValueError (NoteError), OSError or sqlite3.Error."""
    try:
        key = CosignatureSigner.from_key_string(read_argument(arguments.key))
    except NoteError as error:
        raise NoteError(f"--key: {error}") from None
    log_keys = []
    for value in arguments.log_key:
        try:
            log_keys.append(Verifier.from_key_string(read_argument(value)))
        except NoteError as error:
            raise NoteError(f"--log-key {value}: {error}") from None
    return Witness(key=key, log_keys=log_keys, state=WitnessState(arguments.state))


def _serve(arguments: argparse.Namespace) -> int:
    try:
        witness = _load_witness(arguments)
        host, port = arguments.listen
        server = make_server(witness, host, port)
    except (OSError, UnicodeDecodeError, NoteError, sqlite3.Error) as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    origins = ", ".join(sorted(witness.trusted_keys))
    print(
        f"witness {witness.key.name} serving http://{host}:{server.server_address[1]}"
        f"/add-checkpoint for {origins}",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        witness.state.close()
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="carhistory-witness",
        description="A C2SP tlog-witness: cosign checkpoints of the logs you trust, after "
        "checking each extends the last one you cosigned.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add_generate_command(commands, example_name="registry.example/witness")
    serve = commands.add_parser("serve", help="answer POST /add-checkpoint")
    serve.add_argument("--listen", required=True, type=_listen_address, help="HOST:PORT")
    serve.add_argument("--key", required=True, help="the witness's signer key, or @FILE")
    serve.add_argument(
        "--log-key",
        required=True,
        action="append",
        help="a trusted log's verifier key line, or @FILE; repeat for each log",
    )
    serve.add_argument(
        "--state", required=True, help="the SQLite state file; created on the first run"
    )
    serve.set_defaults(run=_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line; see the module docstring."""
    arguments = _parser().parse_args(argv)
    return arguments.run(arguments)


if __name__ == "__main__":
    sys.exit(main())

"""What the command lines of the two cosigners, `carhistory-witness` and `carhistory-mirror`,
share: the `generate` command that makes a key pair, and key or token arguments given inline
or as @FILE.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from carhistory_verifier.note import CosignatureSigner, NoteError

EXIT_OK = 0
EXIT_UNREADABLE = 2


def read_argument(value: str) -> str:
    """A value given inline, or @FILE to read it from a file (so a secret stays out of `ps`)."""
    if value.startswith("@"):
        return Path(value[1:]).read_text(encoding="utf-8").strip()
    return value.strip()


def print_key_pair(name: str, *, next_step: str = "") -> int:
    """Print a new cosigner's signer key line, then its verifier key line; `next_step` (what
    to do with them) goes to stderr, so that stdout stays two lines a script can read."""
    try:
        signer = CosignatureSigner.generate(name)
    except NoteError as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return EXIT_UNREADABLE
    print(signer.key_string())
    print(signer.verifier().key_string())
    if next_step:
        print(next_step, file=sys.stderr)
    return EXIT_OK


def add_generate_command(
    commands: argparse._SubParsersAction, *, example_name: str, next_step: str = ""
) -> None:
    """Add `generate NAME` to a cosigner's command line; its `run` prints a new key pair."""
    generate = commands.add_parser(
        "generate", help="print a new signer key line, then its verifier key line"
    )
    generate.add_argument("name", help=f"the key's name, e.g. {example_name}")
    generate.set_defaults(run=lambda arguments: print_key_pair(arguments.name, next_step=next_step))

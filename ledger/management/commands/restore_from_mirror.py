"""Rebuild the log from a mirror's store into an empty database (see README, Operations)."""

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ledger.restore import RestoreRefused, restore_from_mirror


class Command(BaseCommand):
    help = (
        "Rebuild entries, subtrees and checkpoints from a carhistory-mirror store into an "
        "empty database, checking every checkpoint's root; refuses a store that does not verify."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="the mirror's SQLite store (a copy of it)")

    def handle(self, *args, path: Path, **options):
        started = time.monotonic()
        try:
            result = restore_from_mirror(path=path)
        except RestoreRefused as error:
            raise CommandError(f"refused: {error}") from None
        self.stdout.write(
            f"Restored {result.tree_size} entries and {result.checkpoints} checkpoints "
            f"({result.cosignatures} mirror cosignatures) in {time.monotonic() - started:.1f}s; "
            f"the log serves checkpoint {result.tree_size} again."
        )

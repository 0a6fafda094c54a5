"""`manage.py verify_ledger`: run the ledger audit (`ledger.audit`, then
`ledger.audit_cosigners`) and say what it found."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ledger.audit import LedgerDamage, remember_latest, verify_ledger_against_memory
from ledger.audit_cosigners import check_cosigners

HELP = """Recompute the stored log's hashes, checkpoints and consistency, then check the log
against what others hold of it; name any damage, and the party whose copy contradicts the log.

A log rolled back or rewritten by someone who controls its database still agrees with itself,
so the audit also compares it with: the largest checkpoint it verified before (--state); every
cosignature the log stored, verified with its cosigner's key; each active witness, asked over
C2SP tlog-witness (an add-checkpoint with old size 0 makes it answer 409 with the size it last
cosigned, and a push of the latest checkpoint from that size proves the log extends the tree it
saw; the witness cosigns the latest checkpoint as the log's own push would); and each mirror
store given (--mirror-store). A witness that cannot be reached is reported, not failed."""


class Command(BaseCommand):
    help = HELP

    def add_arguments(self, parser):
        parser.add_argument(
            "--state",
            type=Path,
            default=None,
            help="Where the largest verified checkpoint is remembered between runs "
            "(default LEDGER_AUDIT_STATE_FILE). Keep it away from the database's host.",
        )
        parser.add_argument(
            "--mirror-store",
            type=Path,
            action="append",
            default=[],
            metavar="PATH",
            help="A mirror's store (the SQLite file of carhistory-mirror sync, or a copy of it): "
            "the log must extend the newest checkpoint in it. Repeat for several mirrors.",
        )
        parser.add_argument(
            "--offline",
            action="store_true",
            help="Do not ask the witnesses; check only the stored cosignatures and the stores.",
        )

    def handle(self, *args, state: Path | None, mirror_store: list[Path], offline: bool, **options):
        state_file = state or settings.LEDGER_AUDIT_STATE_FILE
        try:
            counts = verify_ledger_against_memory(state_file=state_file)
            parties = check_cosigners(mirror_stores=mirror_store, ask=not offline)
        except LedgerDamage as damage:
            raise CommandError(f"The ledger is damaged: {damage}") from damage
        # Only a log every check accepted becomes the memory the next run is held to.
        remember_latest(state_file=state_file)
        for line in parties:
            self.stdout.write(line)
        self.stdout.write(
            f"ok: {counts['entries']} entries, {counts['subtrees']} subtrees and "
            f"{counts['checkpoints']} checkpoints verified, "
            f"{counts['vin_index_entries']} vin_index entries and the stored VIN index match"
        )

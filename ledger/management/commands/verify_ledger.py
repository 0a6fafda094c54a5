"""`manage.py verify_ledger`: run the ledger audit (`ledger.audit`) and say what it found."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ledger.audit import LedgerDamage, verify_ledger_against


class Command(BaseCommand):
    help = "Recompute the stored log's hashes, checkpoints and consistency; name any damage."

    def add_arguments(self, parser):
        parser.add_argument(
            "--state",
            type=Path,
            default=None,
            help="Where the largest verified checkpoint is remembered between runs "
            "(default LEDGER_AUDIT_STATE_FILE). Keep it away from the database's host.",
        )

    def handle(self, *args, state: Path | None, **options):
        try:
            counts = verify_ledger_against(state_file=state or settings.LEDGER_AUDIT_STATE_FILE)
        except LedgerDamage as damage:
            raise CommandError(f"The ledger is damaged: {damage}") from damage
        self.stdout.write(
            f"ok: {counts['entries']} entries, {counts['subtrees']} subtrees and "
            f"{counts['checkpoints']} checkpoints verified, "
            f"{counts['vin_index_entries']} vin_index entries and the stored VIN index match"
        )

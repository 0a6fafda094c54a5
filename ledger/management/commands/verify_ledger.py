"""`manage.py verify_ledger`: run the ledger audit (`ledger.audit`) and say what it found."""

from django.core.management.base import BaseCommand, CommandError

from ledger.audit import LedgerDamage, verify_ledger


class Command(BaseCommand):
    help = "Recompute the stored log's hashes, checkpoints and consistency; name any damage."

    def handle(self, *args, **options):
        try:
            counts = verify_ledger()
        except LedgerDamage as damage:
            raise CommandError(f"The ledger is damaged: {damage}") from damage
        self.stdout.write(
            f"ok: {counts['entries']} entries, {counts['subtrees']} subtrees and "
            f"{counts['checkpoints']} checkpoints verified, "
            f"{counts['vin_index_entries']} vin_index entries and the stored VIN index match"
        )

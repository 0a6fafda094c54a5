"""Create the log's Ed25519 signing key file (never in the repository) and print its
public verifier key."""

import os

from carhistory_verifier import note
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create the log's signing key at LEDGER_SIGNING_KEY_FILE and print the verifier key."
    # The system checks refuse a production site without a log key: this command makes one.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="Do nothing (but print the verifier key) if the key file already exists.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Replace an existing key. Checkpoints signed by the old key stop verifying "
            "against /log/key.",
        )

    def handle(self, *args, if_missing: bool, force: bool, **options):
        path = settings.LEDGER_SIGNING_KEY_FILE
        if path.exists() and not force:
            if not if_missing:
                raise CommandError(
                    f"{path} already exists; a new key would orphan every signed checkpoint. "
                    "Use --force to replace it anyway."
                )
            signer = note.Signer.from_key_string(path.read_text(encoding="ascii").strip())
            self.stdout.write(signer.verifier().key_string())
            return
        signer = note.Signer.generate(settings.LEDGER_ORIGIN)
        path.parent.mkdir(parents=True, exist_ok=True)
        if force:
            path.unlink(missing_ok=True)
        # O_EXCL: never overwrite a key another process wrote meanwhile; 0600: a secret.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as key_file:
            key_file.write(signer.key_string() + "\n")
        if settings.LEDGER_SIGNING_KEY:
            self.stderr.write(
                "LEDGER_SIGNING_KEY is set and takes precedence over the file just written."
            )
        self.stdout.write(signer.verifier().key_string())

"""Create the log's Ed25519 signing key file and its VRF key file (SPEC §7), never in the
repository, and print the public verifier key. The VRF key is created whenever it is missing,
so upgrading a log that only has a signing key is one `create_log_key --if-missing`."""

import os

from carhistory_verifier import note, vrf
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ledger import keys


class Command(BaseCommand):
    help = (
        "Create the log's signing key at LEDGER_SIGNING_KEY_FILE and its VRF key at "
        "LEDGER_VRF_KEY_FILE (each only if missing) and print the verifier key."
    )
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
            help="Replace an existing signing key. Checkpoints signed by the old key stop "
            "verifying against /log/key. The VRF key is never replaced: every VIN's place in "
            "the VIN index depends on it.",
        )

    def handle(self, *args, if_missing: bool, force: bool, **options):
        self._create_log_key(if_missing=if_missing, force=force)
        self._create_vrf_key_if_missing()

    def _create_log_key(self, *, if_missing: bool, force: bool) -> None:
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
        _write_secret(path, signer.key_string())
        if settings.LEDGER_SIGNING_KEY:
            self.stderr.write(
                "LEDGER_SIGNING_KEY is set and takes precedence over the file just written."
            )
        self.stdout.write(signer.verifier().key_string())

    def _create_vrf_key_if_missing(self) -> None:
        path = settings.LEDGER_VRF_KEY_FILE
        if settings.LEDGER_VRF_KEY or path.exists():
            return
        key = vrf.VrfKey.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_secret(path, keys.vrf_key_string(key))
        # stdout stays the verifier key line alone, for scripts that read it.
        self.stderr.write(f"Created the VRF key {path} (public key served at /log/vrf-key).")


def _write_secret(path, text: str) -> None:
    # O_EXCL: never overwrite a key another process wrote meanwhile; 0600: a secret.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as key_file:
        key_file.write(text + "\n")

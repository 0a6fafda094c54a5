"""The log's own signing key, loaded once from settings.

The key never lives in the repository: it comes from LEDGER_SIGNING_KEY (the key string
itself) or from the file LEDGER_SIGNING_KEY_FILE, which `manage.py create_log_key` writes.
Its name is the log's origin, LEDGER_ORIGIN, as C2SP tlog-checkpoint requires.
"""

import functools

from carhistory_verifier import note
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

KEY_SETTINGS = ("LEDGER_SIGNING_KEY", "LEDGER_SIGNING_KEY_FILE", "LEDGER_ORIGIN")


def _key_string() -> str:
    if settings.LEDGER_SIGNING_KEY:
        return settings.LEDGER_SIGNING_KEY.strip()
    path = settings.LEDGER_SIGNING_KEY_FILE
    if path.is_file():
        return path.read_text(encoding="ascii").strip()
    raise ImproperlyConfigured(
        f"The log has no signing key: run `manage.py create_log_key` to write {path}, or set "
        "LEDGER_SIGNING_KEY."
    )


@functools.cache
def log_signer() -> note.Signer:
    """The log's Ed25519 signer; ImproperlyConfigured if there is none or it is misnamed."""
    try:
        signer = note.Signer.from_key_string(_key_string())
    except note.NoteError as error:
        raise ImproperlyConfigured(f"The log's signing key cannot be read: {error}") from error
    name = signer.verifier().name
    if name != settings.LEDGER_ORIGIN:
        raise ImproperlyConfigured(
            f"The log's signing key is named {name!r} but LEDGER_ORIGIN is "
            f"{settings.LEDGER_ORIGIN!r}: a checkpoint's key name must be its origin."
        )
    return signer


def log_verifier_key() -> str:
    """The log's public verifier key line, as served at /log/key."""
    return log_signer().verifier().key_string()


@receiver(setting_changed)
def _forget_key_on_settings_change(*, setting: str, **kwargs) -> None:
    # Tests and override_settings swap keys; a cached signer would outlive its settings.
    if setting in KEY_SETTINGS:
        log_signer.cache_clear()

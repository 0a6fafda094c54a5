"""The log's own keys, loaded once from settings: the signing key and the VRF key (SPEC §7).

The key never lives in the repository: it comes from LEDGER_SIGNING_KEY (the key string
itself) or from the file LEDGER_SIGNING_KEY_FILE, which `manage.py create_log_key` writes.
Its name is the log's origin, LEDGER_ORIGIN, as C2SP tlog-checkpoint requires. The VRF key
comes the same way from LEDGER_VRF_KEY or LEDGER_VRF_KEY_FILE.
"""

import base64
import binascii
import functools

from carhistory_verifier import note, vrf
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

KEY_SETTINGS = (
    "LEDGER_SIGNING_KEY",
    "LEDGER_SIGNING_KEY_FILE",
    "LEDGER_ORIGIN",
    "LEDGER_VRF_KEY",
    "LEDGER_VRF_KEY_FILE",
)


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


def vrf_key_string(key: vrf.VrfKey) -> str:
    """How a VRF secret key is written down: standard base64 of its 32-byte seed."""
    return base64.b64encode(key.seed).decode("ascii")


@functools.cache
def vrf_key() -> vrf.VrfKey:
    """The log's ECVRF key; ImproperlyConfigured if there is none or it cannot be read."""
    if settings.LEDGER_VRF_KEY:
        text = settings.LEDGER_VRF_KEY.strip()
    elif settings.LEDGER_VRF_KEY_FILE.is_file():
        text = settings.LEDGER_VRF_KEY_FILE.read_text(encoding="ascii").strip()
    else:
        raise ImproperlyConfigured(
            f"The log has no VRF key: run `manage.py create_log_key` to write "
            f"{settings.LEDGER_VRF_KEY_FILE}, or set LEDGER_VRF_KEY."
        )
    try:
        return vrf.VrfKey.from_seed(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError) as error:
        raise ImproperlyConfigured(f"The log's VRF key cannot be read: {error}") from error


def vrf_public_key() -> str:
    """The VRF public key as served at /log/vrf-key and written in `vin_index` entries."""
    return base64.b64encode(vrf_key().public_key).decode("ascii")


@receiver(setting_changed)
def _forget_key_on_settings_change(*, setting: str, **kwargs) -> None:
    # Tests and override_settings swap keys; a cached signer would outlive its settings.
    if setting in KEY_SETTINGS:
        log_signer.cache_clear()
        vrf_key.cache_clear()

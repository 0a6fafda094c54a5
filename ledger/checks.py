"""Production refuses to run without a log key or a VRF key.

A system check rather than a test in settings.py: `create_log_key` (which skips system checks)
must start before any key exists, while every other command, the web server (wsgi.py) and the
worker (celery.py) refuse to run on a site that cannot sign checkpoints.
"""

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from ledger import keys


def require_log_key() -> None:
    """ImproperlyConfigured, saying what to do, when DEBUG is off and the log key is unusable."""
    if settings.DEBUG:
        return
    try:
        keys.log_signer()
    except ImproperlyConfigured as error:
        raise ImproperlyConfigured(
            f"DEBUG is off and there is no log key: {error} (or set LEDGER_SIGNING_KEY_FILE)."
        ) from None
    try:
        keys.vrf_key()
    except ImproperlyConfigured as error:
        # Without it no checkpoint can carry its vin_index entry (SPEC §7).
        raise ImproperlyConfigured(
            f"DEBUG is off and there is no VRF key: {error} (or set LEDGER_VRF_KEY_FILE)."
        ) from None


@checks.register()
def log_key_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    try:
        require_log_key()
    except ImproperlyConfigured as error:
        return [checks.Error(str(error), id="ledger.E001")]
    return []

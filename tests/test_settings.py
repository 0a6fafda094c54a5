"""Production refuses to start on development secrets (settings.py)."""

import os
import subprocess
import sys
from pathlib import Path

from carhistory_verifier import note

BASE_DIR = Path(__file__).resolve().parent.parent


def start_django(**environment: str) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "LEDGER_SIGNING_KEY", "LEDGER_SIGNING_KEY_FILE", "DEBUG"}
    }
    env.update(environment, DJANGO_SETTINGS_MODULE="carhistory.settings")
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_the_development_secret_key(tmp_path):
    key_file = tmp_path / "log.key"
    key_file.write_text(note.Signer.generate("carhistory.localhost/log").key_string())

    result = start_django(DEBUG="0", LEDGER_SIGNING_KEY_FILE=str(key_file))

    assert result.returncode != 0
    assert "set SECRET_KEY" in result.stderr


def test_production_starts_with_its_own_secret_and_log_key(tmp_path):
    key_file = tmp_path / "log.key"
    key_file.write_text(note.Signer.generate("carhistory.localhost/log").key_string())

    result = start_django(
        DEBUG="0",
        SECRET_KEY="a-long-random-production-secret-for-this-test-only",
        LEDGER_SIGNING_KEY_FILE=str(key_file),
    )

    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_the_fast_password_hasher_is_for_tests_only():
    # The suite hashes with MD5 for speed; the site itself must keep Django's slow default.
    from django.conf import global_settings
    from django.conf import settings as active

    import carhistory.settings as site

    md5 = "django.contrib.auth.hashers.MD5PasswordHasher"
    assert active.PASSWORD_HASHERS[0] == md5
    assert md5 not in getattr(site, "PASSWORD_HASHERS", global_settings.PASSWORD_HASHERS)

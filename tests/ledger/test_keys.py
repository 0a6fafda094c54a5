"""The log key: created by a command, never overwritten by accident, loaded once."""

import stat

import pytest
from carhistory_verifier import note
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from ledger import keys


@pytest.fixture
def key_file(settings, tmp_path):
    path = tmp_path / "secrets" / "log.key"
    settings.LEDGER_SIGNING_KEY = ""
    settings.LEDGER_SIGNING_KEY_FILE = path
    return path


def test_create_log_key_writes_a_private_file_and_prints_the_verifier(key_file, capsys, settings):
    call_command("create_log_key")
    printed = capsys.readouterr().out.strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    signer = note.Signer.from_key_string(key_file.read_text().strip())
    assert signer.name == settings.LEDGER_ORIGIN
    assert printed == signer.verifier().key_string()
    assert keys.log_verifier_key() == printed


def test_create_log_key_never_overwrites_without_force(key_file, capsys):
    call_command("create_log_key")
    original = key_file.read_text()
    with pytest.raises(CommandError, match="--force"):
        call_command("create_log_key")
    call_command("create_log_key", "--if-missing")
    assert key_file.read_text() == original
    printed = capsys.readouterr().out.split()
    assert printed[0] == printed[1]
    call_command("create_log_key", "--force")
    assert key_file.read_text() != original
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_a_missing_key_says_how_to_create_one(key_file):
    keys.log_signer.cache_clear()
    with pytest.raises(ImproperlyConfigured, match="create_log_key"):
        keys.log_signer()


def test_a_key_named_for_another_log_is_refused(settings):
    settings.LEDGER_SIGNING_KEY = note.Signer.generate("other.example/log").key_string()
    with pytest.raises(ImproperlyConfigured, match="LEDGER_ORIGIN"):
        keys.log_signer()


def test_a_garbled_key_is_refused_with_the_reason(settings):
    settings.LEDGER_SIGNING_KEY = "PRIVATE+KEY+carhistory.localhost/log+00000000+AQ=="
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        keys.log_signer()


def test_the_environment_key_wins_over_the_file(key_file, settings, log_key):
    call_command("create_log_key")
    settings.LEDGER_SIGNING_KEY = log_key.key_string()
    assert keys.log_verifier_key() == log_key.verifier().key_string()


def test_create_log_key_also_creates_the_vrf_key_once(key_file, settings, tmp_path):
    settings.LEDGER_VRF_KEY = ""
    settings.LEDGER_VRF_KEY_FILE = tmp_path / "secrets" / "vrf.key"
    call_command("create_log_key")
    created = settings.LEDGER_VRF_KEY_FILE.read_text()
    assert stat.S_IMODE(settings.LEDGER_VRF_KEY_FILE.stat().st_mode) == 0o600
    call_command("create_log_key", "--if-missing")
    call_command("create_log_key", "--force")
    # Replacing the signing key never replaces the VRF key: every VIN's place depends on it.
    assert settings.LEDGER_VRF_KEY_FILE.read_text() == created
    keys.vrf_key.cache_clear()
    assert keys.vrf_key_string(keys.vrf_key()) == created.strip()


def test_an_existing_log_gets_its_vrf_key_from_if_missing(key_file, settings, tmp_path):
    call_command("create_log_key")
    settings.LEDGER_VRF_KEY = ""
    settings.LEDGER_VRF_KEY_FILE = tmp_path / "vrf.key"
    call_command("create_log_key", "--if-missing")
    assert settings.LEDGER_VRF_KEY_FILE.is_file()


def test_a_garbled_vrf_key_is_refused_with_the_reason(settings):
    settings.LEDGER_VRF_KEY = "not base64!"
    with pytest.raises(ImproperlyConfigured, match="VRF key cannot be read"):
        keys.vrf_key()

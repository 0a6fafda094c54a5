"""Fixtures other test packages can reuse. `log_key` gives the test a fresh log signing key:
make it suite-wide with `pytest_plugins = ["tests.ledger.fixtures"]` plus an autouse
fixture in tests/conftest.py."""

import pytest
from carhistory_verifier import note, vrf

from ledger import keys


@pytest.fixture
def log_key(settings, tmp_path) -> note.Signer:
    """A new log signer, written to a 0600 file and set as LEDGER_SIGNING_KEY."""
    signer = note.Signer.generate(settings.LEDGER_ORIGIN)
    key_file = tmp_path / "ledger-signing.key"
    key_file.write_text(signer.key_string() + "\n", encoding="ascii")
    key_file.chmod(0o600)
    settings.LEDGER_SIGNING_KEY_FILE = key_file
    settings.LEDGER_SIGNING_KEY = signer.key_string()
    keys.log_signer.cache_clear()
    yield signer
    keys.log_signer.cache_clear()


@pytest.fixture
def vrf_key(settings) -> vrf.VrfKey:
    """A new VRF key (SPEC §7), set as LEDGER_VRF_KEY."""
    key = vrf.VrfKey.generate()
    settings.LEDGER_VRF_KEY = keys.vrf_key_string(key)
    keys.vrf_key.cache_clear()
    yield key
    keys.vrf_key.cache_clear()

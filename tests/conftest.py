"""Suite-wide fixtures. The suite runs on real PostgreSQL and Redis (see Makefile `make test`)."""

import os

import hypothesis
import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import translation

# Hypothesis's default deadline (200 ms per example) times the machine, not the code: on a
# shared CI machine under load a correct property test fails on it. Examples stay bounded by
# max_examples; a hang is still caught by the run's own timeout.
hypothesis.settings.register_profile("carhistory", deadline=None)
hypothesis.settings.load_profile("carhistory")

# `log_key`, `vrf_key`: every test runs with fresh log keys of its own. `witness`,
# `second_witness`: running witness processes, for any test that pushes to one.
pytest_plugins = ["tests.ledger.fixtures", "tests.witness.fixtures"]


def pytest_configure(config: pytest.Config) -> None:
    # Fail loudly rather than quietly testing the embedded SQLite default: `make test` sets
    # these; a bare `pytest` must say what it lacks.
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
    if missing and not os.environ.get("CARHISTORY_ALLOW_EMBEDDED_TESTS"):
        raise pytest.UsageError(
            f"{', '.join(missing)} not set: run the suite with `make test`, which points it at "
            "PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379."
        )


@pytest.fixture(autouse=True)
def _every_test_has_a_log_key(log_key):
    return log_key


@pytest.fixture(autouse=True)
def _every_test_has_a_vrf_key(vrf_key):
    return vrf_key


@pytest.fixture(autouse=True)
def _own_audit_state(settings, tmp_path):
    # verify_ledger remembers what it verified; each test starts with no memory.
    settings.LEDGER_AUDIT_STATE_FILE = tmp_path / "verified-checkpoint.json"


@pytest.fixture(autouse=True)
def _default_language():
    # A request in Chinese leaves Chinese active in the thread; the next test starts in English.
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Reports and throttle counters live in Redis (the suite's own db): start each test clean.
    cache.clear()
    yield
    cache.clear()

"""Suite-wide checks. The suite runs on real PostgreSQL and Redis (see Makefile `make test`)."""

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Fail loudly rather than quietly testing the embedded SQLite default: `make test` sets
    # these; a bare `pytest` must say what it lacks.
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
    if missing and not os.environ.get("CARHISTORY_ALLOW_EMBEDDED_TESTS"):
        raise pytest.UsageError(
            f"{', '.join(missing)} not set: run the suite with `make test`, which points it at "
            "PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379."
        )

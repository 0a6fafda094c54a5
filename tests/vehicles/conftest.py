import pytest
from django.core.cache import cache

from tests.ledger.fixtures import log_key  # noqa: F401 - makes the fixture available here
from tests.vehicles.logbook import Logbook


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Reports and throttle counters live in Redis (this suite's own db): start each test clean.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def logbook(db, log_key) -> Logbook:  # noqa: F811 - the fixture imported above
    return Logbook()

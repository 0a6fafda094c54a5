import pytest
from django.core.cache import cache

from tests.ledger.fixtures import log_key  # noqa: F401 - makes the fixture available here


@pytest.fixture(autouse=True)
def _every_test_has_a_log_key(log_key):  # noqa: F811 - the fixture imported above
    return log_key


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()

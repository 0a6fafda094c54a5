import pytest
from django.core.cache import cache

from tests.ledger.fixtures import log_key  # noqa: F401 - makes the fixture available here
from tests.sources.factories import OrganisationFactory, api_key_for


@pytest.fixture(autouse=True)
def _every_sources_test_has_a_log_key(log_key):  # noqa: F811 - the fixture imported above
    return log_key


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Throttle counters live in Redis (this suite's own db): start each test with none.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def dealer(db):
    return OrganisationFactory(kind="dealer_4s", slug="sh-anting-vw-4s")


@pytest.fixture
def dealer_client(dealer):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(dealer)}")
    return client

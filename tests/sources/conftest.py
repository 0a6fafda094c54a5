import pytest

from tests.sources.factories import OrganisationFactory, api_key_for


@pytest.fixture
def dealer(db):
    return OrganisationFactory(kind="dealer_4s", slug="sh-anting-vw-4s")


@pytest.fixture
def dealer_client(dealer):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(dealer)}")
    return client

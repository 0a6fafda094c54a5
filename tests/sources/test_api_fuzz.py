"""Fuzz the whole API from its own OpenAPI schema (/api/schema/): whatever schemathesis sends,
in-process over WSGI and authenticated as a source, no answer may be a 5xx."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from carhistory.wsgi import application
from tests.sources.factories import OrganisationFactory, api_key_for

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
# A few examples per operation keep the suite fast; the schema's shapes are what is explored.
schema.config.generation.update(max_examples=12)


@pytest.fixture
def source_key(db):
    return api_key_for(OrganisationFactory(kind="registry", slug="fuzz-registry"))


@pytest.fixture(autouse=True)
def _keep_the_test_transaction_open():
    # A bare WSGI call closes the database connection when the request ends, which would end
    # the test's transaction; Django's own test client disconnects the same handlers.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_makes_the_server_fail(case, source_key):
    response = case.call(headers={"Authorization": f"Bearer {source_key}"})
    case.validate_response(response, checks=[not_a_server_error])

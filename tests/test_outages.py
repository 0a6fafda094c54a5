"""While PostgreSQL or Redis is down the site answers 503 with Retry-After, never a 500 with an
HTML traceback page (issue 14 §4). The dependencies are made unreachable for real: the
connections point at a port where nothing listens."""

import socket

import pytest
from django.db import connection
from django.test import Client, RequestFactory, override_settings

from carhistory.outages import server_error
from tests.sources.factories import OrganisationFactory, api_key_for, event_payload, make_vin


def dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def client():
    # A real server answers an unhandled exception with handler500; the test client must too.
    return Client(raise_request_exception=False)


@pytest.fixture
def redis_down(settings):
    dead = {
        "default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{dead_port()}/0"}
    }
    # Undone before the suite's own cache fixture clears the real Redis.
    with override_settings(CACHES=dead):
        yield


def assert_outage_json(response) -> None:
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert int(response["Retry-After"]) > 0
    assert "detail" in response.json()


@pytest.mark.django_db
def test_the_api_answers_503_json_while_redis_is_down(client, redis_down):
    key = api_key_for(OrganisationFactory())

    response = client.post(
        "/api/v1/events",
        event_payload(),
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )

    assert_outage_json(response)


@pytest.mark.django_db
def test_a_report_page_answers_503_while_redis_is_down(client, redis_down):
    response = client.get(f"/vehicles/{make_vin(1)}/")

    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert "Traceback" not in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_api_answers_503_json_while_postgresql_is_down(client, monkeypatch):
    key = api_key_for(OrganisationFactory())
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "PORT", str(dead_port()))
    try:
        submission = client.post(
            "/api/v1/events",
            event_payload(),
            content_type="application/json",
            headers={"Authorization": f"Bearer {key}"},
        )
        report = client.get(f"/api/v1/vehicles/{make_vin(1)}/report")
    finally:
        connection.close()

    assert_outage_json(submission)
    assert_outage_json(report)


def test_other_server_errors_stay_500():
    request = RequestFactory().get("/api/v1/events")
    try:
        raise RuntimeError("a bug, not an outage")
    except RuntimeError:
        response = server_error(request)

    assert response.status_code == 500

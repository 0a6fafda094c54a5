import pytest
from django.db import connection

from ledger import services
from tests.ledger.factories import EntryFactory


@pytest.mark.django_db
def test_healthz_reports_dependencies_and_log_freshness(client):
    services.enqueue_entries(entries=EntryFactory.build_batch(3))
    services.integrate_pending()
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"] == "ok"
    assert body["log_size"] == 4  # and the batch's vin_index entry
    assert 0 <= body["checkpoint_age_seconds"] < 60


@pytest.mark.django_db
def test_healthz_is_503_when_the_broker_is_down(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "down"
    assert response.json()["database"] == "ok"
    assert "127.0.0.1" not in response.content.decode()


@pytest.mark.django_db
def test_the_embedded_default_reports_an_eager_broker(client, settings):
    settings.CELERY_BROKER_URL = "memory://"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["broker"] == "eager"
    assert response.json()["log_size"] is None


@pytest.mark.django_db(transaction=True)
def test_healthz_is_503_when_the_database_is_down(client, monkeypatch):
    # Point the live connection at a port where no PostgreSQL listens, as if it had died.
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "PORT", "1")
    try:
        response = client.get("/healthz")
    finally:
        connection.close()
    assert response.status_code == 503
    assert response.json()["database"] == "down"
    # The libpq error text names the host, port and user: not for anonymous callers.
    assert "port" not in response.content.decode()
    assert response.json()["log_size"] is None

"""The cached report's short path: one Redis round trip, no query, the same answer as DRF's.

A repeated report lookup skips DRF and PostgreSQL: the log's size comes from what the sequencer
publishes, the throttle counts in the same Redis script that finds the report. These tests pin
down that the short path changes nothing a client can see.
"""

import pytest
from django.core.cache import cache
from django.test import override_settings

from carhistory.vehicles.throttling import VinLookupThrottle
from ledger.selectors import tree_size
from ledger.services import PUBLISHED_TREE_SIZE_KEY
from tests.vehicles.logbook import VIN

pytestmark = pytest.mark.django_db

REPORT = f"/api/v1/vehicles/{VIN}/report"
EVIDENCE = f"/api/v1/vehicles/{VIN}/evidence"
LOCAL_MEMORY = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.fixture
def dealer(logbook):
    return logbook.source("sh-anting-vw-4s")


@pytest.fixture
def strict_throttle(monkeypatch):
    monkeypatch.setattr(VinLookupThrottle, "THROTTLE_RATES", {"vin_lookup": "3/minute"})


def _visible_headers(response) -> dict:
    return {name: value for name, value in response.headers.items() if name != "Date"}


def test_cached_report_reads_nothing_from_postgresql(
    client, dealer, logbook, django_assert_num_queries
):
    logbook.event(dealer, "service", "2019-05-01", odometer_km=45210, items=[])
    client.get(REPORT)
    with django_assert_num_queries(0):
        assert client.get(REPORT).status_code == 200


def test_cached_report_is_the_built_one_byte_for_byte_with_the_same_headers(
    client, dealer, logbook
):
    logbook.event(dealer, "service", "2019-05-01", odometer_km=45210, items=[])
    built = client.get(REPORT, headers={"accept-language": "zh-hans"})
    cached = client.get(REPORT, headers={"accept-language": "zh-hans"})
    assert cached.content == built.content
    assert _visible_headers(cached) == _visible_headers(built)
    assert cached["Content-Type"] == "application/json"
    assert "Accept-Language" in cached["Vary"]


def test_the_sequencer_publishes_the_new_size_with_its_batch(client, dealer, logbook):
    logbook.event(dealer, "service", "2019-05-01", odometer_km=45210, items=[])
    assert cache.get(PUBLISHED_TREE_SIZE_KEY) == tree_size()
    logbook.event(dealer, "odometer", "2020-05-01", odometer_km=50000)
    assert cache.get(PUBLISHED_TREE_SIZE_KEY) == tree_size()


def test_without_a_published_size_the_report_comes_from_postgresql(client, dealer, logbook):
    logbook.event(dealer, "service", "2019-05-01", odometer_km=45210, items=[])
    client.get(REPORT)
    logbook.event(dealer, "odometer", "2020-05-01", odometer_km=50000)
    cache.delete(PUBLISHED_TREE_SIZE_KEY)  # the publication expired
    assert len(client.get(REPORT).json()["events"]) == 2
    assert cache.get(PUBLISHED_TREE_SIZE_KEY) == tree_size()


def test_a_size_published_ahead_of_the_database_serves_what_the_database_holds(
    client, dealer, logbook
):
    # A batch publishes its size before it commits; if it then rolls back, the size runs ahead.
    logbook.event(dealer, "service", "2019-05-01", odometer_km=45210, items=[])
    cache.set(PUBLISHED_TREE_SIZE_KEY, tree_size() + 5)
    assert len(client.get(REPORT).json()["events"]) == 1
    assert len(client.get(REPORT).json()["events"]) == 1
    assert cache.get(PUBLISHED_TREE_SIZE_KEY) == tree_size() + 5  # a reader never lowers it


def test_a_miss_is_counted_once(client, dealer, logbook, strict_throttle):
    logbook.event(dealer, "service", "2019-05-01", odometer_km=45210, items=[])
    statuses = [client.get(REPORT).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_refusal_on_the_cached_path_is_the_same_as_drf_gives(client, logbook, strict_throttle):
    for _ in range(3):
        client.get(REPORT)
    cached_path = client.get(REPORT)
    drf_path = client.get(EVIDENCE)
    assert cached_path.status_code == drf_path.status_code == 429
    assert cached_path.content == drf_path.content
    assert 0 < int(cached_path["Retry-After"]) <= 60
    assert _visible_headers(cached_path).keys() == _visible_headers(drf_path).keys()


def test_refused_clients_stay_refused_on_the_cached_path(client, logbook, strict_throttle):
    for _ in range(3):
        client.get(REPORT)
    statuses = [client.get(REPORT).status_code for _ in range(20)]
    assert set(statuses) == {429}


def test_other_accept_headers_go_through_drf(client, logbook):
    client.get(REPORT)
    assert client.get(REPORT, headers={"accept": "text/html"}).status_code == 406
    assert client.get(REPORT, headers={"accept": "application/json"}).status_code == 200


@override_settings(CACHES=LOCAL_MEMORY)
def test_without_redis_the_throttle_still_refuses(client, logbook, strict_throttle):
    statuses = [client.get(REPORT).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert 0 < int(client.get(EVIDENCE)["Retry-After"]) <= 60


@override_settings(CACHES=LOCAL_MEMORY)
def test_without_redis_a_new_entry_still_changes_the_report_at_once(client, dealer, logbook):
    logbook.event(dealer, "service", "2019-05-01", odometer_km=45210, items=[])
    assert len(client.get(REPORT).json()["events"]) == 1
    logbook.event(dealer, "odometer", "2020-05-01", odometer_km=50000)
    assert len(client.get(REPORT).json()["events"]) == 2

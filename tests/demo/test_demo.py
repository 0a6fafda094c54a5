"""The demo data: realistic, valid, signed where promised, and loaded only once."""

import itertools
import json

import pytest
from django.core.management import call_command

from carhistory.demo.data import DEMO_SOURCES, DEMO_VINS, FOCUS, SAGITAR, SIGNING_SOURCE
from carhistory.sources.models import Organisation
from carhistory.sources.services import authenticate_api_key
from carhistory.vin import check_vin
from ledger.models import Entry
from ledger.selectors import entries_for_vin

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _development(settings):
    # The demo refuses to load with DEBUG off (tests/test_production_build.py).
    settings.DEBUG = True


def _entries(vin: str) -> list[dict]:
    return [json.loads(bytes(entry.data)) for entry in entries_for_vin(vin)]


def test_demo_vins_have_valid_check_digits_and_include_a_north_american_one():
    checks = [check_vin(vin) for vin, _ in DEMO_VINS]
    assert all(check.is_valid and check.check_digit == "valid" for check in checks)
    assert any(vin[0] in "12345" for vin, _ in DEMO_VINS)


def test_loading_twice_adds_nothing(capsys):
    call_command("load_demo")
    size = Entry.objects.count()
    call_command("load_demo")
    assert Entry.objects.count() == size
    assert "demo-dealer-4s.local-trials-only" in capsys.readouterr().out


def test_one_approved_source_of_each_kind_with_a_working_demo_key(settings):
    settings.DEBUG = True
    call_command("load_demo")
    kinds = set(Organisation.objects.filter(status="approved").values_list("kind", flat=True))
    assert kinds == {source.kind for source in DEMO_SOURCES}
    assert all(authenticate_api_key(source.api_key) for source in DEMO_SOURCES)


def test_the_demo_tells_the_stories_it_promises():
    call_command("load_demo")
    sagitar = [e["odometer_km"] for e in _entries(SAGITAR) if "odometer_km" in e]
    assert any(later < earlier for earlier, later in itertools.pairwise(sagitar))
    focus = _entries(FOCUS)
    assert {"brand": "salvage"} in [e["facts"] for e in focus]
    assert any(e["facts"].get("total_loss") for e in focus)
    signed_by_dealer = list(Entry.objects.filter(source=SIGNING_SOURCE))
    assert signed_by_dealer
    assert all(
        json.loads(bytes(e.data))["source_key"].startswith(f"{SIGNING_SOURCE}+")
        for e in signed_by_dealer
    )

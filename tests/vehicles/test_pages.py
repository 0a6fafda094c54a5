"""The buyer's pages, as a buyer (or a search engine) without JavaScript gets them."""

import json
import re

import pytest
from carhistory_verifier.verify import main as verify_main

from carhistory.demo.data import DEMO_VINS
from carhistory.vehicles.throttling import VinLookupThrottle
from ledger.services import integrate_pending
from tests.vehicles.browser.histories import (
    ROLLBACK_VIN,
    UNKNOWN_VIN,
    approved_sources,
    record_rollback_history,
    submit,
)

CLEAN_VIN = "LSVAU218XN2183294"

pytestmark = pytest.mark.django_db


def test_search_page_has_a_checked_vin_field(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'<input[^>]*name="vin"[^>]*data-vin-check', html, re.S)
    assert "js/vin-check.js" in html


def test_search_goes_to_the_normalised_report_url(client):
    response = client.get("/", {"vin": f"  {ROLLBACK_VIN.lower()} "})
    assert response.status_code == 302
    assert response["Location"] == f"/vehicles/{ROLLBACK_VIN}/"


def test_search_with_a_mistyped_vin_says_what_is_wrong(client):
    response = client.get("/", {"vin": "LFV2A21K0E300000O"})
    assert response.status_code == 400
    assert "Character 17 is the letter O" in response.content.decode()


def test_report_url_is_normalised(client, log_key):
    response = client.get(f"/vehicles/{ROLLBACK_VIN.lower()}/")
    assert response.status_code == 301
    assert response["Location"] == f"/vehicles/{ROLLBACK_VIN}/"


def test_invalid_vin_page_names_the_failing_character(client):
    response = client.get("/vehicles/LFV2A21K0E3I00001/")
    assert response.status_code == 400
    html = response.content.decode()
    assert "Character 12 is the letter I" in html
    assert 'data-vin-problem="forbidden_letter" data-position="12"' in html
    assert re.search(r'<span class="vin-char bad"[^>]*>I<small>12</small>', html)


def test_invalid_vin_page_names_a_wrong_check_digit(client):
    response = client.get("/vehicles/LFV2A21K1E3000001/")
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-vin-problem="check_digit" data-position="9"' in html
    assert "The check digit (character 9) is 1 but the other characters give 0" in html


def test_too_short_vin_page_says_how_long_it_is(client):
    response = client.get("/vehicles/LFV2A21/")
    assert response.status_code == 400
    assert "this one has 7" in response.content.decode()


def test_unknown_vin_says_no_record_is_not_a_clean_history(client, log_key):
    response = client.get(f"/vehicles/{UNKNOWN_VIN}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f"No records yet for {UNKNOWN_VIN}" in html
    assert "No records does not mean a clean history." in html


def test_a_clean_history_says_what_was_not_checked_and_claims_no_completeness(client, log_key):
    sources = approved_sources()
    submit(
        sources.dealer,
        {"vin": CLEAN_VIN, "type": "odometer", "occurred_at": "2023-04-01", "odometer_km": 9000},
    )
    integrate_pending(wait=True)
    html = client.get(f"/vehicles/{CLEAN_VIN}/").content.decode()
    clean = re.search(r"<div class=\"clean-history\" data-clean-history>(.*?)</div>", html, re.S)
    assert clean, "a car with no risk gets the clean-history block"
    assert "Only what sources reported to carhistory can appear here" in clean.group(1)
    assert "Have the car inspected before you buy." in clean.group(1)
    # Whether any record was left out is the browser's to say, after the VIN index proof.
    assert "left out" not in clean.group(1)


def test_report_shows_every_event_with_its_source(client, rollback_car):
    response = client.get(f"/vehicles/{ROLLBACK_VIN}/")
    assert response.status_code == 200
    html = response.content.decode()
    badges = re.findall(r'data-entry-index="(\d+)"', html)
    events = client.get(f"/api/v1/vehicles/{ROLLBACK_VIN}/report").json()["events"]
    assert len(events) == 7
    assert sorted(map(int, badges)) == sorted(event["index"] for event in events)
    for event in events:
        line = _timeline_line(html, event["index"])
        assert event["source"]["name"] in line
        assert event["source"]["kind_label"] in line
        assert "checking…" in line
        assert f"/vehicles/{ROLLBACK_VIN}/entries/{event['index']}/dispute" in line


def test_report_summarises_and_flags_the_rollback_and_the_salvage_brand(client, rollback_car):
    html = client.get(f"/vehicles/{ROLLBACK_VIN}/").content.decode()
    assert 'data-flag="odometer_rollback"' in html
    assert 'data-flag="title_brand"' in html
    assert re.search(r'data-summary="title-brands".*?salvage', html, re.S)
    assert re.search(
        r'data-summary="accidents">.*?<span class="summary-value">1</span>', html, re.S
    )
    readings = json.loads(re.search(r'id="odometer-readings"[^>]*>(.*?)</script>', html).group(1))
    assert [reading["km"] for reading in readings] == [15000, 45000, 30000]
    assert "rollback" in [reading["finding"] for reading in readings]


@pytest.mark.parametrize("page", ["", "print"])
def test_the_odometer_readings_are_a_table_without_javascript(client, rollback_car, page):
    # The chart needs a script; the table is what paper, screen readers and a browser without
    # JavaScript get, so it carries every reading, its line and what was found.
    html = client.get(f"/vehicles/{ROLLBACK_VIN}/{page}").content.decode()
    table = re.search(r'<table class="odometer-readings">.*?</table>', html, re.S).group(0)
    rows = re.findall(
        r'<tr class="reading([^"]*)" data-reading-index="(\d+)">(.*?)</tr>', table, re.S
    )
    assert [re.search(r"[\d,]+ km", cells).group(0) for _css, _index, cells in rows] == [
        "15,000 km",
        "45,000 km",
        "30,000 km",
    ]
    for _css, index, cells in rows:
        assert f'href="#entry-{index}"' in cells
    assert [css.strip() for css, _index, _cells in rows] == ["", "rollback", "rollback"]
    assert "Rollback: lower than an earlier reading" in rows[2][2]
    assert 'aria-describedby="odometer-readings-caption"' in html
    # The chart's box is shown by the script that draws it, so no empty frame is left without.
    assert re.search(r'<div class="chart-box" hidden><canvas id="odometer-chart"', html)


def test_report_loads_chart_and_verifier_from_this_site(client, rollback_car):
    html = client.get(f"/vehicles/{ROLLBACK_VIN}/").content.decode()
    # Chart.js is added by report.js once the chart is on screen, from the canvas's URL.
    scripts = re.findall(r'<script src="([^"]+)"', html)
    scripts += re.findall(r'data-chart-script="([^"]+)"', html)
    assert "/static/vendor/chart.umd.js" in scripts
    assert "/static/js/verify.js" in scripts
    assert all(src.startswith("/static/") for src in scripts)


def test_without_witnesses_the_offline_steps_ask_for_none(client, rollback_car):
    html = client.get(f"/vehicles/{ROLLBACK_VIN}/").content.decode()
    assert f"carhistory-verify carhistory-evidence-{ROLLBACK_VIN}.json</code>" in html
    assert "--witness" not in html


def test_evidence_download_is_an_attachment_that_verifies_offline(
    client, rollback_car, tmp_path, capsys
):
    response = client.get(f"/vehicles/{ROLLBACK_VIN}/evidence.json")
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="carhistory-evidence-{ROLLBACK_VIN}.json"'
    )
    bundle_file = tmp_path / "evidence.json"
    bundle_file.write_bytes(response.content)
    # What the buyer runs: `carhistory-verify evidence.json`, pinned to the log's published key.
    published_key = client.get("/log/key").content.decode().strip()
    assert verify_main([str(bundle_file), "--log-key", published_key]) == 0
    assert f"OK: evidence for VIN {ROLLBACK_VIN} verifies." in capsys.readouterr().out


def test_print_page_carries_the_checkpoint_and_a_qr_code(client, rollback_car):
    report = client.get(f"/api/v1/vehicles/{ROLLBACK_VIN}/report").json()
    response = client.get(f"/vehicles/{ROLLBACK_VIN}/print")
    assert response.status_code == 200
    html = response.content.decode()
    checkpoint = report["checkpoint"]
    assert f"<dd data-checkpoint-size>{checkpoint['tree_size']}</dd>" in html
    assert checkpoint["root_hash"] in html
    assert checkpoint["note"].splitlines()[-1] in html
    assert re.search(r'<svg[^>]*class="qr-code"', html)
    assert "http://testserver/vehicles/LFV2A21K0E3000001/" in html


def test_qr_code_is_an_svg_of_the_live_report_url(client):
    response = client.get(f"/vehicles/{UNKNOWN_VIN}/qr.svg")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    assert b"<svg" in response.content
    assert b"http://testserver/vehicles/LGBH52E05LY000003/" in response.content


def _timeline_line(html: str, index: int) -> str:
    match = re.search(rf'<li class="event[^"]*" id="entry-{index}">(.*?)</li>', html, re.S)
    assert match, f"no timeline line for entry {index}"
    return match.group(1)


def test_search_page_lists_no_demo_vehicles_on_a_fresh_install(client):
    assert "Demo vehicles" not in client.get("/").content.decode()


def test_search_page_lists_the_demo_vehicles_the_database_holds(client, log_key):
    held, description = DEMO_VINS[1]
    record_rollback_history(approved_sources(), vin=held)
    html = client.get("/").content.decode()
    assert "Demo vehicles" in html
    assert f'href="/vehicles/{held}/"' in html
    assert str(description) in html
    for vin, _description in DEMO_VINS:
        if vin != held:
            assert vin not in html


def test_invalid_vin_page_escapes_what_was_typed(client):
    response = client.get("/vehicles/%3Cscript%3Ealert(1)/")
    assert response.status_code == 400
    html = response.content.decode()
    assert "<script>alert" not in html.lower()
    assert "&lt;" in html


def test_a_very_long_path_is_a_400_not_a_crash(client):
    response = client.get("/vehicles/" + "A" * 5000 + "/")
    assert response.status_code == 400
    assert "this one has 5000" in response.content.decode()


def test_report_pages_share_the_lookup_limit_and_say_when_to_come_back(client, monkeypatch):
    monkeypatch.setattr(VinLookupThrottle, "THROTTLE_RATES", {"vin_lookup": "2/minute"})
    report = f"/vehicles/{UNKNOWN_VIN}/"

    assert client.get(report).status_code == 200
    assert client.get(f"/api/v1/vehicles/{UNKNOWN_VIN}/report").status_code == 200
    refused = client.get(report)

    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "Too many lookups" in refused.content.decode()
    assert client.get(f"/vehicles/{UNKNOWN_VIN}/evidence.json").status_code == 429

"""The report as a buyer reads it, on the demo cars: the verdict first, cards coloured by their
risks, Chinese names, the settled model year, share tags, one count against the lookup limit."""

import re
from html import unescape

import pytest
from django.contrib.staticfiles import finders

from carhistory.demo.data import CAMRY, FOCUS, LAVIDA, SAGITAR, load_demo
from carhistory.vehicles.throttling import VinLookupThrottle

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(log_key):
    load_demo()


def page(client, vin: str, language: str = "en") -> str:
    response = client.get(f"/vehicles/{vin}/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response.content.decode()


def verdict(html: str) -> str:
    return re.search(r'<section class="verdict.*?</section>', html, re.S).group(0)


def card(html: str, name: str) -> str:
    return re.search(rf'<div class="card summary-card[^"]*" data-summary="{name}">', html).group(0)


def test_rolled_back_car_opens_with_the_rollback_and_a_red_odometer_card(client, demo):
    html = page(client, SAGITAR)
    top = verdict(html)
    assert "high risk" in top
    assert "The odometer went backwards: 61,180 km on 2021-04-15, then 29,450 km" in top
    # The verdict comes before anything else the report says.
    assert html.index('class="verdict') < html.index('data-summary="records"')
    assert "bad" in card(html, "last-odometer")


def test_each_risk_links_to_the_log_lines_behind_it(client, demo):
    html = page(client, SAGITAR)
    links = re.findall(r'href="#entry-(\d+)"', verdict(html))
    assert links
    for index in links:
        assert f'id="entry-{index}"' in html


def test_taxi_car_is_called_out_as_former_commercial_use(client, demo):
    top = verdict(page(client, CAMRY))
    assert "Former taxi use" in top
    assert "Failed an inspection on 2022-08-16" in top
    assert "far above" in top
    assert "medium risk" in top


def test_taxi_car_reads_ying_zhuan_fei_in_chinese(client, demo):
    top = verdict(page(client, CAMRY, "zh-hans"))
    assert "营转非" in top
    assert "出租车" in top


def test_salvage_car_raises_every_danger_worst_first(client, demo):
    top = verdict(page(client, FOCUS))
    codes = re.findall(r'data-flag="(\w+)"', top)
    assert {"title_brand", "total_loss", "severe_accident", "frame_damage"} <= set(codes)
    html = page(client, FOCUS)
    assert "bad" in card(html, "accidents")
    assert "bad" in card(html, "title-brands")


def test_open_recall_names_its_campaign_and_turns_its_card_amber(client, demo):
    html = page(client, LAVIDA)
    assert "Open recall SAMR-2022-017 (fuel pump)" in verdict(html)
    assert "warn" in card(html, "open-recalls")


def test_chinese_report_names_maker_country_and_model_in_chinese(client, demo):
    html = page(client, SAGITAR, "zh-hans")
    assert "一汽-大众" in html
    assert "中国" in html and "亚洲" in html
    assert "速腾 1.4T" in html
    assert "FAW-Volkswagen" not in html
    assert "China (Asia)" not in html


def test_chinese_report_writes_every_distance_one_way(client, demo):
    html = page(client, SAGITAR, "zh-hans")
    assert "30,120 公里" in html
    assert "30120 公里" not in html
    assert "61,180 公里" in html


def test_chinese_lists_use_the_enumeration_comma(client, demo):
    html = page(client, SAGITAR, "zh-hans")
    assert "机油、机油滤清器、空调滤清器" in html
    assert "机油, " not in html


def test_model_year_is_settled_by_the_first_registration(client, demo):
    html = page(client, FOCUS)
    model_year = re.search(r"<dd data-model-year>(.*?)</dd>", html, re.S).group(1)
    assert "2017" in model_year and "1987" not in model_year
    assert "from the first registration" in model_year


def test_report_has_share_tags_without_private_data(client, demo):
    html = page(client, SAGITAR)
    tag = r'<meta (?:property|name)="((?:og|twitter):\w+)" content="([^"]*)"'
    tags = dict(re.findall(tag, html))
    assert SAGITAR in tags["og:title"]
    assert "Sagitar" in tags["og:title"]
    assert "8 records" in unescape(tags["og:description"])
    assert tags["og:url"].endswith(f"/vehicles/{SAGITAR}/")
    for private in ("Shanghai", "Zhejiang", "Anting", "private"):
        assert private not in " ".join(tags.values())


def test_favicon_is_linked_and_asked_for_paths_find_it(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].startswith("/static/favicon")
    assert finders.find("favicon.svg")
    assert 'rel="icon"' in client.get("/").content.decode()


def test_without_javascript_the_page_says_how_to_verify_offline(client, demo):
    html = page(client, SAGITAR)
    noscript = re.search(r"<noscript>(.*?)</noscript>", verdict(html), re.S).group(1)
    assert "not checked here" in noscript
    assert 'href="#verify-offline"' in noscript
    assert 'id="verify-offline"' in html
    assert f"carhistory-verify carhistory-evidence-{SAGITAR}.json" in html


def test_a_report_page_counts_once_against_the_lookup_limit(client, demo, monkeypatch):
    monkeypatch.setattr(VinLookupThrottle, "THROTTLE_RATES", {"vin_lookup": "1/minute"})
    html = page(client, SAGITAR)
    evidence_url = unescape(re.search(r'data-evidence-url="([^"]+)"', html).group(1))
    assert client.get(evidence_url).status_code == 200
    assert client.get(evidence_url).status_code == 200  # a retry of the same page's fetch
    # Without the page's token, the same client is over its limit.
    assert client.get(f"/api/v1/vehicles/{SAGITAR}/evidence").status_code == 429


def test_a_page_token_opens_only_its_own_vins_evidence(client, demo, monkeypatch):
    monkeypatch.setattr(VinLookupThrottle, "THROTTLE_RATES", {"vin_lookup": "1/minute"})
    html = page(client, SAGITAR)
    token = unescape(re.search(r'data-evidence-url="[^"]+\?page=([^"]+)"', html).group(1))
    assert client.get(f"/api/v1/vehicles/{FOCUS}/evidence", {"page": token}).status_code == 429


def test_a_page_token_is_bound_to_the_client_that_loaded_the_page(client, demo, monkeypatch):
    monkeypatch.setattr(VinLookupThrottle, "THROTTLE_RATES", {"vin_lookup": "1/minute"})
    html = page(client, SAGITAR)
    evidence_url = unescape(re.search(r'data-evidence-url="([^"]+)"', html).group(1))
    other = client.get(evidence_url, REMOTE_ADDR="203.0.113.9")
    assert other.status_code == 200  # its own first lookup: counted, not waved through
    assert client.get(evidence_url, REMOTE_ADDR="203.0.113.9").status_code == 429


def test_vin_typed_with_inner_spaces_reaches_its_report(client, demo):
    typed = f"{SAGITAR[:5].lower()} {SAGITAR[5:10]}-{SAGITAR[10:]}"
    response = client.get("/", {"vin": typed})
    assert response.status_code == 302
    assert response["Location"] == f"/vehicles/{SAGITAR}/"

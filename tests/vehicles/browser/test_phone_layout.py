"""No page of the site is wider than a 360 px phone, in either language: nothing makes the
buyer, a workshop at the counter or a moderator on the move scroll sideways."""

from urllib.parse import urlsplit

import pytest
from django.test import Client
from playwright.sync_api import Page

from tests.sources.factories import MembershipFactory, UserFactory
from tests.vehicles.browser.histories import (
    ROLLBACK_VIN,
    approved_sources,
    record_rollback_history,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}
UNKNOWN_VIN = "LGBH52E05LY000003"
PUBLIC_PAGES = [
    "/",
    f"/vehicles/{ROLLBACK_VIN}/",
    f"/vehicles/{ROLLBACK_VIN}/print",
    f"/vehicles/{UNKNOWN_VIN}/",
    "/vehicles/LFV2A21K0E30000O1/",
    "/sources/apply",
]
PORTAL_PAGES = ["/portal/", "/portal/events/new", "/portal/csv/", "/portal/keys/"]
MODERATION_PAGES = ["/moderation/"]

# Every element whose right edge passes the viewport's, named so a failure says what to fix.
OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  return Array.from(document.querySelectorAll("body *"))
    .filter((element) => element.getBoundingClientRect().right > width + 0.5)
    .filter((element) => !element.closest("[hidden], details:not([open]) > :not(summary)"))
    // Shapes inside an <svg> are clipped by it; the <svg> itself is checked.
    .filter((element) => !(element instanceof SVGElement) || element.tagName === "svg")
    .slice(0, 5)
    .map((element) => element.tagName.toLowerCase() + "." + element.className);
}"""


def signed_in(page: Page, user) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies(
        [{"name": "sessionid", "value": cookie.value, "url": page.url or "http://localhost"}]
    )


def assert_fits(page: Page, url: str) -> None:
    for language in ("en", "zh-hans"):
        page.context.set_extra_http_headers({"Accept-Language": language})
        response = page.goto(url)
        assert response.status < 500, url
        assert urlsplit(page.url).path == urlsplit(url).path, "redirected: not signed in?"
        page.wait_for_load_state("load")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (url, language, width, page.evaluate(OVERFLOWING))


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE, locale="en-GB")
    page = context.new_page()
    yield page
    context.close()


def test_public_pages_fit_a_phone(phone, live_server, log_key):
    record_rollback_history(approved_sources())
    for path in PUBLIC_PAGES:
        assert_fits(phone, live_server.url + path)


def test_portal_pages_fit_a_phone(phone, live_server, log_key):
    membership = MembershipFactory(organisation__kind="dealer_4s", role="source_admin")
    phone.goto(live_server.url + "/")
    signed_in(phone, membership.user)
    for path in PORTAL_PAGES:
        assert_fits(phone, live_server.url + path)


def test_moderation_pages_fit_a_phone(phone, live_server, log_key):
    record_rollback_history(approved_sources())
    phone.goto(live_server.url + "/")
    signed_in(phone, UserFactory(is_staff=True, is_superuser=True))
    for path in MODERATION_PAGES:
        assert_fits(phone, live_server.url + path)


def test_the_verdict_is_above_the_fold_on_a_phone(browser, live_server, log_key):
    record_rollback_history(approved_sources())
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{live_server.url}/vehicles/{ROLLBACK_VIN}/")
    risks = page.locator(".verdict-risks .risk")
    assert any("went backwards" in text for text in risks.all_inner_texts())
    for risk in risks.all():
        box = risk.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 844, risk.inner_text()
    odometer_card = page.locator('[data-summary="last-odometer"]')
    assert "bad" in odometer_card.get_attribute("class")
    context.close()


def test_printing_the_report_clips_nothing_and_keeps_the_chart(browser, live_server, log_key):
    record_rollback_history(approved_sources())
    # A4 at 96 dpi with the browser's default margins leaves about 700 CSS pixels.
    context = browser.new_context(viewport={"width": 700, "height": 1000})
    page = context.new_page()
    page.goto(f"{live_server.url}/vehicles/{ROLLBACK_VIN}/print")
    page.wait_for_selector("#odometer-chart[data-chart-points]")
    page.emulate_media(media="print")
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    page.wait_for_timeout(200)
    assert page.evaluate("document.documentElement.scrollWidth") <= 700
    assert page.evaluate(OVERFLOWING) == []
    canvas = page.locator("#odometer-chart").bounding_box()
    assert 0 < canvas["width"] <= 700
    assert page.pdf(format="A4")  # Chromium lays it out for paper without error
    context.close()

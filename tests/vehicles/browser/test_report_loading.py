"""The order in which the report page loads (docs/PERFORMANCE.md, "Report page"): the evidence
is asked for with the page and only once, and Chart.js (the page's largest script, more than
the rest of a first visit together) only once the chart is on screen; the readings table stands
in for it on paper and without JavaScript."""

import pytest
from playwright.sync_api import expect

from tests.vehicles.browser.histories import ROLLBACK_VIN, approved_sources, record_rollback_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What the proof status said when the page added Chart.js's script element.
RECORD_CHART_REQUEST = """
new MutationObserver((changes) => {
  for (const change of changes) {
    for (const node of change.addedNodes) {
      if (node.tagName === "SCRIPT" && (node.src || "").includes("chart.umd")) {
        const summary = document.querySelector("[data-verify-summary]");
        window.chartRequestedWhile = summary && summary.getAttribute("data-verify-state");
      }
    }
  }
}).observe(document, { subtree: true, childList: true });
"""


@pytest.fixture
def phone(browser):
    context = browser.new_context(locale="en-GB", viewport={"width": 390, "height": 844})
    context.add_init_script(RECORD_CHART_REQUEST)
    page = context.new_page()
    yield page
    context.close()


def test_the_evidence_is_fetched_once_with_the_page_and_chart_js_only_when_scrolled_to(
    phone, live_server, log_key
):
    record_rollback_history(approved_sources())
    requests = []
    phone.on("request", lambda request: requests.append(request))

    phone.goto(f"{live_server.url}/vehicles/{ROLLBACK_VIN}/")

    summary = phone.locator("[data-verify-summary]")
    expect(summary).to_have_attribute("data-verify-state", "verified")
    phone.wait_for_load_state("networkidle")
    evidence = [request for request in requests if "/evidence?" in request.url]
    # Preloaded from the head and reused by verify.js: one request, not a second after the
    # scripts (which would also cost the server the bundle twice).
    assert len(evidence) == 1
    urls = [request.url for request in requests]
    first_script = next(index for index, url in enumerate(urls) if url.endswith(".js"))
    assert urls.index(evidence[0].url) < first_script
    # The chart is below the fold on a phone: a buyer who reads the verdict and leaves never
    # pays for its script.
    assert not [url for url in urls if "chart.umd" in url]
    canvas = phone.locator("#odometer-chart")
    assert canvas.get_attribute("data-chart-points") is None

    canvas.scroll_into_view_if_needed()
    expect(canvas).to_have_attribute("data-chart-points", "3")
    assert len([request.url for request in requests if "chart.umd" in request.url]) == 1


def test_the_chart_is_drawn_when_scrolled_to_even_while_the_proofs_wait(
    phone, live_server, log_key
):
    record_rollback_history(approved_sources())
    # The bundle is held back: the proofs cannot finish, the chart must not wait for them.
    phone.route("**/api/v1/vehicles/*/evidence?*", lambda route: None)
    phone.goto(f"{live_server.url}/vehicles/{ROLLBACK_VIN}/")
    canvas = phone.locator("#odometer-chart")
    expect(phone.locator("[data-verify-summary]")).to_have_attribute(
        "data-verify-state", "checking"
    )
    assert canvas.get_attribute("data-chart-points") is None
    canvas.scroll_into_view_if_needed()
    expect(canvas).to_have_attribute("data-chart-points", "3")
    assert phone.evaluate("window.chartRequestedWhile") == "checking"


def test_printing_a_report_never_scrolled_to_the_chart_keeps_every_reading(
    phone, live_server, log_key
):
    record_rollback_history(approved_sources())
    phone.goto(f"{live_server.url}/vehicles/{ROLLBACK_VIN}/")
    expect(phone.locator("[data-verify-summary]")).to_have_attribute(
        "data-verify-state", "verified"
    )
    phone.emulate_media(media="print")

    rows = phone.locator(".odometer-readings tbody tr")
    expect(rows).to_have_count(3)
    for row in rows.all():
        expect(row).to_be_visible()
    assert [text.split("\t")[1] for text in rows.all_inner_texts()] == [
        "15,000 km",
        "45,000 km",
        "30,000 km",
    ]
    expect(rows.nth(2)).to_contain_text("Rollback")
    # Not drawn, so not printed as an empty frame.
    expect(phone.locator(".chart-box")).to_be_hidden()
    assert phone.pdf(format="A4")


def test_without_javascript_the_readings_are_shown_and_no_empty_chart(
    browser, live_server, log_key
):
    record_rollback_history(approved_sources())
    context = browser.new_context(locale="en-GB", java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/vehicles/{ROLLBACK_VIN}/")
    rows = page.locator(".odometer-readings tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(1)).to_be_visible()
    expect(page.locator(".chart-box")).to_be_hidden()
    context.close()

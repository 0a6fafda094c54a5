"""The order in which the report page loads (docs/PERFORMANCE.md, "Report page"): the evidence
is asked for with the page and only once, and Chart.js waits until the proofs are checked or
the chart comes near the screen."""

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


def test_the_evidence_is_fetched_once_with_the_page_and_the_chart_after_the_proofs(
    phone, live_server, log_key
):
    record_rollback_history(approved_sources())
    requests = []
    phone.on("request", lambda request: requests.append(request))

    phone.goto(f"{live_server.url}/vehicles/{ROLLBACK_VIN}/")

    summary = phone.locator("[data-verify-summary]")
    expect(summary).to_have_attribute("data-verify-state", "verified")
    expect(phone.locator("#odometer-chart")).to_have_attribute("data-chart-points", "3")
    evidence = [request for request in requests if "/evidence?" in request.url]
    # Preloaded from the head and reused by verify.js: one request, not a second after the
    # scripts (which would also cost the server the bundle twice).
    assert len(evidence) == 1
    urls = [request.url for request in requests]
    first_script = next(index for index, url in enumerate(urls) if url.endswith(".js"))
    assert urls.index(evidence[0].url) < first_script
    # The chart is below the fold on a phone: its 70 KB script is asked for only once the
    # proofs are done, so it never delays them.
    assert phone.evaluate("window.chartRequestedWhile") == "verified"


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

"""With the evidence genuine and the page's HTML altered, the badges must not vouch for the
altered words: every field a line shows is checked against its verified entry or rendered from
it, and a critical risk the page leaves out is added back by the browser."""

import re

import pytest
from playwright.sync_api import Page, Route, expect

from ledger.services import integrate_pending
from tests.vehicles.browser.histories import (
    ROLLBACK_VIN,
    submit,
)
from tests.vehicles.browser.test_report_verification import PASSING, badge_statuses, open_report

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def serve_altered_page(page: Page, alter) -> None:
    """Serve the report page with `alter(html)` applied, as a tampered cache or copy would."""

    def handle(route: Route) -> None:
        response = route.fetch()
        route.fulfill(response=response, body=alter(response.text()))

    page.route(f"**/vehicles/{ROLLBACK_VIN}/", handle)


def badge_of(page: Page, entry_type: str):
    return page.locator(f".badge[data-entry-type={entry_type}]")


def expect_only_this_line_fails(page: Page, entry_type: str) -> None:
    badge = badge_of(page, entry_type)
    expect(badge).to_have_attribute("data-verify-status", "failed")
    expect(badge).to_contain_text("the page shows something other than the logged entry")
    index = badge.get_attribute("data-entry-index")
    expect(page.locator(f"#entry-{index}")).to_have_class(re.compile(r"\bverify-failed\b"))
    statuses = badge_statuses(page)
    assert statuses.pop(int(index)) == "failed"
    assert set(statuses.values()) <= PASSING
    expect(page.locator("[data-verify-summary]")).to_have_attribute("data-verify-state", "failed")


def test_a_genuine_page_adds_nothing_and_fails_nothing(page, live_server, rollback_car):
    open_report(page, live_server)
    expect(page.locator("[data-verify-summary]")).to_have_attribute("data-verify-state", "verified")
    # The salvage brand and the rollback are the server's own alerts; the severe accident is a
    # critical risk the page may not list among them, and then the browser adds it.
    added = page.locator("[data-added-by-browser]")
    assert {item.get_attribute("data-flag") for item in added.all()} <= {"browser-accident"}


def test_a_severe_accident_shown_as_minor_fails_its_line(page, live_server, rollback_car):
    serve_altered_page(page, lambda html: html.replace("severe damage", "minor damage"))
    open_report(page, live_server)
    expect_only_this_line_fails(page, "accident")


def test_airbags_left_out_of_the_accident_fail_its_line(page, live_server, rollback_car):
    serve_altered_page(page, lambda html: html.replace(" Airbags deployed.", ""))
    open_report(page, live_server)
    expect_only_this_line_fails(page, "accident")


def test_a_total_loss_shown_as_repaired_fails_its_line(page, live_server, rollback_car):
    submit(
        rollback_car.insurer,
        {
            "vin": ROLLBACK_VIN,
            "type": "insurance_claim",
            "occurred_at": "2022-09-20",
            "facts": {"claim_kind": "collision", "total_loss": True},
        },
    )
    integrate_pending(wait=True)
    serve_altered_page(page, lambda html: html.replace(": declared a total loss.", ": repaired."))
    open_report(page, live_server)
    expect_only_this_line_fails(page, "insurance_claim")


def test_a_renamed_source_fails_its_lines(page, live_server, rollback_car):
    serve_altered_page(
        page, lambda html: html.replace("Ping An Auto Insurance", "Trusted Family Insurer")
    )
    open_report(page, live_server)
    expect_only_this_line_fails(page, "accident")


def test_another_kind_for_the_source_fails_its_line(page, live_server, rollback_car):
    serve_altered_page(page, lambda html: html.replace("(Insurer)", "(Vehicle registry)"))
    open_report(page, live_server)
    expect_only_this_line_fails(page, "accident")


def test_a_removed_salvage_alert_is_added_back_and_marked(page, live_server, rollback_car):
    def remove_the_brand_alert(html: str) -> str:
        return re.sub(r'<li [^>]*data-flag="title_brand".*?</li>', "", html, flags=re.S)

    serve_altered_page(page, remove_the_brand_alert)
    open_report(page, live_server)
    added = page.locator('[data-flag="browser-title_brand"]')
    expect(added).to_have_attribute("data-added-by-browser", "")
    index = badge_of(page, "title_brand").get_attribute("data-entry-index")
    expect(added.locator("a")).to_have_attribute("href", f"#entry-{index}")
    expect(page.locator("[data-risks-added]")).to_be_visible()
    expect(page.locator("[data-risks-added]")).to_contain_text("did not list")


def test_a_changed_fact_list_is_rewritten_from_the_entry(page, live_server, rollback_car):
    serve_altered_page(page, lambda html: html.replace("<dd>severe</dd>", "<dd>minor</dd>"))
    open_report(page, live_server)
    index = badge_of(page, "accident").get_attribute("data-entry-index")
    facts = page.locator(f"#entry-{index} dl.facts")
    expect(facts).to_contain_text("severe")
    expect(facts).not_to_contain_text("minor")

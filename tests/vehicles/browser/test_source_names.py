"""The "Source: …" of each line is checked in the browser against the names the log gave the
source (its `source_status` entries): a moderator's rename, and the Chinese name Chinese pages
show, must verify; a name the log never gave must not."""

import pytest
from playwright.sync_api import expect

from carhistory.moderation.services import change_source_profile
from ledger.services import integrate_pending
from tests.moderation.factories import make_moderator
from tests.vehicles.browser.test_report_verification import PASSING, badge_statuses, open_report

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def expect_every_line_verified(page) -> None:
    expect(page.locator("[data-verify-summary]")).to_have_attribute("data-verify-state", "verified")
    assert set(badge_statuses(page).values()) <= PASSING


def test_a_source_renamed_by_a_moderator_still_verifies(page, live_server, rollback_car):
    change_source_profile(
        moderator=make_moderator(),
        organisation=rollback_car.insurer,
        kind=rollback_car.insurer.kind,
        name="Ping An Property & Casualty",
        reason="its registered name",
    )
    integrate_pending(wait=True)
    open_report(page, live_server)
    expect_every_line_verified(page)
    expect(page.locator(".source-name", has_text="Ping An Property & Casualty")).not_to_have_count(
        0
    )


def test_a_chinese_page_shows_and_verifies_the_logged_chinese_name(
    chinese_page, live_server, rollback_car
):
    change_source_profile(
        moderator=make_moderator(),
        organisation=rollback_car.insurer,
        kind=rollback_car.insurer.kind,
        name=rollback_car.insurer.name,
        name_zh_hans="中国平安财产保险",
        reason="its registered Chinese name",
    )
    integrate_pending(wait=True)
    open_report(chinese_page, live_server)
    expect_every_line_verified(chinese_page)
    expect(chinese_page.locator(".source-name", has_text="中国平安财产保险")).not_to_have_count(0)


def test_a_chinese_name_the_log_never_gave_fails_the_line(chinese_page, live_server, rollback_car):
    # The database says one thing, the log another: only what the log says verifies.
    rollback_car.insurer.name_zh_hans = "国家机动车登记中心"
    rollback_car.insurer.save()
    open_report(chinese_page, live_server)
    badge = chinese_page.locator(".badge[data-entry-type=accident]")
    expect(badge).to_have_attribute("data-verify-status", "failed")


def test_a_line_without_its_source_name_fails(page, live_server, rollback_car):
    def drop_the_insurers_name(route):
        response = route.fetch()
        html = response.text().replace(
            '<span class="source-name">Ping An Auto Insurance</span>', ""
        )
        route.fulfill(response=response, body=html)

    page.route("**/vehicles/*/", drop_the_insurers_name)
    open_report(page, live_server)
    badge = page.locator(".badge[data-entry-type=accident]")
    expect(badge).to_have_attribute("data-verify-status", "failed")

"""The report page checks every line in the buyer's browser, and says which line fails when the
evidence has been tampered with on its way."""

import base64
import json
import re

import pytest
from carhistory_verifier import note
from playwright.sync_api import Page, Route, expect

from carhistory.demo.data import DEMO_VINS, load_demo
from ledger.keys import log_verifier_key
from tests.vehicles.browser.histories import (
    ROLLBACK_VIN,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSING = {"verified", "platform_signed", "platform_entry"}
EVIDENCE = "**/api/v1/vehicles/*/evidence?*"


def open_report(page: Page, live_server) -> None:
    page.goto(f"{live_server.url}/vehicles/{ROLLBACK_VIN}/")
    expect(page.locator("[data-verify-summary]")).not_to_have_attribute(
        "data-verify-state", "checking"
    )


def badge_statuses(page: Page) -> dict[int, str]:
    return {
        int(badge.get_attribute("data-entry-index")): badge.get_attribute("data-verify-status")
        for badge in page.locator(".badge[data-entry-index]").all()
    }


def tamper_with_evidence(page: Page, change) -> None:
    """Serve the page a bundle changed by `change(bundle)`, as a hostile server or network would."""

    def handle(route: Route) -> None:
        response = route.fetch()
        bundle = response.json()
        change(bundle)
        route.fulfill(response=response, body=json.dumps(bundle))

    page.route(EVIDENCE, handle)


def entry_of_type(bundle: dict, entry_type: str) -> dict:
    return next(item for item in bundle["entries"] if item["entry"]["type"] == entry_type)


def test_buyer_searches_a_vin_and_sees_every_line_verified(page, live_server, rollback_car):
    page.goto(f"{live_server.url}/")
    page.fill("input[name=vin]", ROLLBACK_VIN.lower())
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{live_server.url}/vehicles/{ROLLBACK_VIN}/")
    summary = page.locator("[data-verify-summary]")
    expect(summary).to_have_attribute("data-verify-state", "verified")

    statuses = badge_statuses(page)
    assert len(statuses) == 7
    assert set(statuses.values()) <= PASSING
    # The maker signs its own events; the others are signed by the platform on their behalf.
    assert "verified" in statuses.values()
    assert "platform_signed" in statuses.values()
    tree_size = page.locator("[data-checkpoint-size]").inner_text()
    expect(summary).to_contain_text(
        "7 of 7 records are authentic and signed by their sources "
        f"(checkpoint of size {tree_size})."
    )
    # That none is missing is said once, by the line the VIN index proof (SPEC §7) backs.
    expect(page.locator("[data-completeness]")).to_have_attribute("data-completeness", "proven")
    expect(summary).not_to_contain_text("left out")
    # The fingerprint the browser computed from the pinned key is the one Python prints.
    fingerprint = note.Verifier.from_key_string(log_verifier_key()).fingerprint()
    expect(page.locator("[data-log-key]")).to_have_text(fingerprint)


def test_source_signed_and_platform_signed_lines_are_told_apart(page, live_server, rollback_car):
    open_report(page, live_server)
    manufacture = page.locator(".badge[data-entry-type=manufacture]")
    expect(manufacture).to_have_attribute("data-verify-status", "verified")
    expect(manufacture).to_have_text("verified")
    service = page.locator(".badge[data-entry-type=service]").first
    expect(service).to_have_attribute("data-verify-status", "platform_signed")
    expect(service).to_contain_text("signed by the platform on the source's behalf")


def test_a_changed_entry_fails_its_own_line(page, live_server, rollback_car):
    changed = {}

    def lower_the_odometer(bundle):
        item = entry_of_type(bundle, "inspection")
        item["entry"]["odometer_km"] = 46000
        changed["index"] = item["index"]

    tamper_with_evidence(page, lower_the_odometer)
    open_report(page, live_server)
    statuses = badge_statuses(page)
    assert statuses.pop(changed["index"]) == "failed"
    assert set(statuses.values()) <= PASSING
    badge = page.locator(f'.badge[data-entry-index="{changed["index"]}"]')
    expect(badge).to_contain_text("failed")
    summary = page.locator("[data-verify-summary]")
    expect(summary).to_have_attribute("data-verify-state", "failed")
    expect(summary).to_contain_text("6 of 7 lines verified")
    expect(summary).to_have_attribute("data-failed-indexes", str(changed["index"]))


def test_a_changed_proof_hash_fails_its_line(page, live_server, rollback_car):
    changed = {}

    def flip_a_proof_bit(bundle):
        item = entry_of_type(bundle, "accident")
        proof = base64.b64decode(item["inclusion_proof"][0])
        item["inclusion_proof"][0] = base64.b64encode(bytes([proof[0] ^ 1]) + proof[1:]).decode()
        changed["index"] = item["index"]

    tamper_with_evidence(page, flip_a_proof_bit)
    open_report(page, live_server)
    badge = page.locator(f'.badge[data-entry-index="{changed["index"]}"]')
    expect(badge).to_have_attribute("data-verify-status", "failed")
    expect(badge).to_contain_text("the inclusion proof does not lead to the checkpoint's root hash")


def test_a_signature_by_an_unproven_key_fails(page, live_server, rollback_car):
    """The platform cannot pass off its own words as the maker's by naming a key it made up."""
    changed = {}

    def drop_the_source_key_entries(bundle):
        bundle["source_keys"] = []
        changed["index"] = entry_of_type(bundle, "manufacture")["index"]

    tamper_with_evidence(page, drop_the_source_key_entries)
    open_report(page, live_server)
    badge = page.locator(f'.badge[data-entry-index="{changed["index"]}"]')
    expect(badge).to_have_attribute("data-verify-status", "failed")
    expect(badge).to_contain_text("the source's key is not proven in the log before this entry")


def test_a_line_missing_from_the_evidence_fails(page, live_server, rollback_car):
    changed = {}

    def drop_an_entry(bundle):
        changed["index"] = bundle["entries"].pop()["index"]

    tamper_with_evidence(page, drop_an_entry)
    open_report(page, live_server)
    badge = page.locator(f'.badge[data-entry-index="{changed["index"]}"]')
    expect(badge).to_have_attribute("data-verify-status", "failed")
    expect(badge).to_contain_text("missing from the evidence bundle")


def test_a_forged_checkpoint_fails_every_line(page, live_server, rollback_car):
    def change_the_tree_size(bundle):
        bundle["checkpoint"] = re.sub(
            r"\n(\d+)\n", lambda m: f"\n{int(m.group(1)) + 1}\n", bundle["checkpoint"], count=1
        )

    tamper_with_evidence(page, change_the_tree_size)
    open_report(page, live_server)
    assert set(badge_statuses(page).values()) == {"failed"}
    expect(page.locator("[data-verify-summary]")).to_contain_text(
        "the checkpoint's signature does not match the log key"
    )


def test_the_odometer_chart_marks_the_rollback(page, live_server, rollback_car):
    open_report(page, live_server)
    canvas = page.locator("#odometer-chart")
    # Chart.js is fetched only once the chart is on screen.
    canvas.scroll_into_view_if_needed()
    expect(canvas).to_have_attribute("data-chart-points", "3")
    drawn = page.evaluate(
        """() => {
          const dataset = Chart.getChart('odometer-chart').data.datasets[0];
          return dataset.data.map((point, i) => ({
            km: point.y, colour: dataset.pointBackgroundColor[i], style: dataset.pointStyle[i],
          }));
        }"""
    )
    # Both readings of the rollback are marked: the high one before and the low one after.
    assert [point["km"] for point in drawn] == [15000, 45000, 30000]
    assert [point["style"] for point in drawn] == ["circle", "triangle", "triangle"]
    assert drawn[0]["colour"] != drawn[1]["colour"] == drawn[2]["colour"]


def test_switching_to_chinese(page, live_server, rollback_car):
    open_report(page, live_server)
    page.select_option("#language-select", "zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    # Dates follow the language: 2019年3月2日, not 2 March 2019.
    expect(page.locator(".event-date").first).to_contain_text("年")
    expect(page.locator("#language-select")).to_contain_text("简体中文")
    expect(page.locator("[data-verify-summary]")).to_have_attribute("data-verify-state", "verified")


def test_corrections_and_disputes_are_shown_and_verified(page, live_server, rollback_car):
    from django.contrib.auth import get_user_model

    from carhistory.moderation.services import accept_dispute, append_correction, open_dispute
    from ledger.models import Entry
    from ledger.services import integrate_pending

    inspection = Entry.objects.get(vin=ROLLBACK_VIN, type="inspection")
    accident = Entry.objects.get(vin=ROLLBACK_VIN, type="accident")
    moderator = get_user_model().objects.create_user("moderator", is_staff=True)
    pending = append_correction(
        moderator=moderator,
        entry_index=inspection.index,
        vin=ROLLBACK_VIN,
        reason="The inspector typed 30,000 for 46,000.",
        corrected_fields={"odometer_km": 46000},
    )
    integrate_pending(wait=True)
    correction = Entry.objects.get(pending_id=pending.id)
    accept_dispute(
        moderator=moderator,
        dispute=open_dispute(entry=accident, reason="This was another car."),
        site_url=live_server.url,
    )

    open_report(page, live_server)
    expect(page.locator(f"#entry-{inspection.index}")).to_contain_text(
        f"corrected by #{correction.index}"
    )
    expect(page.locator(f"#entry-{accident.index}")).to_contain_text("disputed")
    correction_badge = page.locator(f'.badge[data-entry-index="{correction.index}"]')
    expect(correction_badge).to_have_attribute("data-verify-status", "platform_entry")
    expect(page.locator("[data-verify-summary]")).to_have_attribute("data-verify-state", "verified")


def test_every_demo_vehicle_verifies_in_the_browser(page, live_server, log_key):
    load_demo()
    page.goto(f"{live_server.url}/")
    demo_links = page.locator(".demo-vehicles a")
    expect(demo_links).to_have_count(len(DEMO_VINS))
    for vin, _description in DEMO_VINS:
        page.goto(f"{live_server.url}/")
        page.click(f'.demo-vehicles a[href="/vehicles/{vin}/"]')
        summary = page.locator("[data-verify-summary]")
        expect(summary).to_have_attribute("data-verify-state", "verified")
        statuses = badge_statuses(page)
        assert statuses and set(statuses.values()) <= PASSING, (vin, statuses)


def test_a_page_that_misstates_a_logged_entry_fails_that_line(page, live_server, rollback_car):
    """The proofs vouch for the log's entry; a page showing other words must not borrow them."""

    def misstate_the_inspection_reading(route: Route) -> None:
        response = route.fetch()
        html = response.text().replace(
            'data-entry-odometer-km="30000"', 'data-entry-odometer-km="46000"'
        )
        route.fulfill(response=response, body=html)

    page.route(f"**/vehicles/{ROLLBACK_VIN}/", misstate_the_inspection_reading)
    open_report(page, live_server)
    badge = page.locator(".badge[data-entry-type=inspection]")
    expect(badge).to_have_attribute("data-verify-status", "failed")
    expect(badge).to_contain_text("the page shows something other than the logged entry")


def test_a_browser_without_webcrypto_still_verifies_every_line(page, live_server, rollback_car):
    """Older Safari, Android WebViews and in-app browsers have no Ed25519 in WebCrypto (some no
    crypto.subtle at all): the verifier must not need it."""
    page.add_init_script("Object.defineProperty(globalThis.crypto, 'subtle', {value: undefined})")
    open_report(page, live_server)
    assert page.evaluate("() => globalThis.crypto.subtle") is None
    expect(page.locator("[data-verify-summary]")).to_have_attribute("data-verify-state", "verified")
    assert set(badge_statuses(page).values()) <= PASSING


def test_a_browser_that_cannot_load_the_verifier_says_so_instead_of_passing_lines(
    page, live_server, rollback_car
):
    page.route("**/static/vendor/noble.js", lambda route: route.fulfill(status=404, body=""))
    open_report(page, live_server)
    assert set(badge_statuses(page).values()) == {"unchecked"}
    summary = page.locator("[data-verify-summary]")
    expect(summary).to_have_attribute("data-verify-state", "unsupported")
    expect(summary).to_contain_text("carhistory-verify")


def test_evidence_that_cannot_be_loaded_verifies_nothing(page, live_server, rollback_car):
    page.route(EVIDENCE, lambda route: route.fulfill(status=404, body="gone"))
    open_report(page, live_server)
    assert set(badge_statuses(page).values()) == {"unchecked"}
    expect(page.locator("[data-verify-summary]")).to_contain_text(
        "The evidence bundle could not be loaded (404)."
    )


def test_a_busy_server_is_asked_again_after_a_pause(page, live_server, rollback_car):
    answers = [429, 503]
    asked = []

    def busy_at_first(route: Route) -> None:
        asked.append(route.request.url)
        if answers:
            route.fulfill(status=answers.pop(0), headers={"Retry-After": "1"}, body="busy")
        else:
            route.continue_()

    page.route(EVIDENCE, busy_at_first)
    page.goto(f"{live_server.url}/vehicles/{ROLLBACK_VIN}/")
    summary = page.locator("[data-verify-summary]")
    expect(summary).to_contain_text("trying again")
    expect(summary).to_have_attribute("data-verify-state", "verified", timeout=15_000)
    assert len(asked) == 3
    assert set(badge_statuses(page).values()) <= PASSING

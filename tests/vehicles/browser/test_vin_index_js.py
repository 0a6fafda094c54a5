"""The browser's SPEC §7 check (static/js/vin-index.js): the RFC 9381 vectors, and the
completeness line on the report, which a tampered bundle loses."""

import importlib.util
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.vehicles.browser.histories import ROLLBACK_VIN
from tests.vehicles.browser.test_report_verification import (
    open_report,
    tamper_with_evidence,
)
from tests.vehicles.browser.test_verify_js import BLANK_PAGE, STATIC, VERIFIER_SCRIPTS


def _rfc9381_vectors():
    # The Python verifier's own test pins the same vectors: one list for both languages.
    path = Path(settings.BASE_DIR) / "verifier" / "tests" / "test_vrf.py"
    spec = importlib.util.spec_from_file_location("verifier_vrf_vectors", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.RFC9381_VECTORS


RFC9381_VECTORS = _rfc9381_vectors()

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def vin_index_page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.route(
        BLANK_PAGE, lambda route: route.fulfill(body="<!doctype html>", content_type="text/html")
    )
    page.goto(BLANK_PAGE)
    for script in [*VERIFIER_SCRIPTS, STATIC / "js" / "vin-index.js"]:
        page.add_script_tag(path=str(script))
    yield page
    context.close()


VRF_VERIFY = """([pk, alpha, pi]) => {
  const bytes = (hex) => Uint8Array.from(hex.match(/../g) || [], (b) => parseInt(b, 16));
  try {
    const beta = carhistoryVinIndex.vrfVerify(bytes(pk), bytes(alpha), bytes(pi));
    return carhistoryVerifyCore.toHex(beta);
  } catch (error) { return "refused: " + error.reason; }
}"""


@pytest.mark.parametrize(("sk", "pk", "alpha", "pi", "beta"), RFC9381_VECTORS)
def test_the_browser_vrf_gives_the_rfc9381_outputs(vin_index_page, sk, pk, alpha, pi, beta):
    assert vin_index_page.evaluate(VRF_VERIFY, [pk, alpha, pi]) == beta
    flipped = pi[:100] + ("0" if pi[100] != "0" else "1") + pi[101:]
    assert vin_index_page.evaluate(VRF_VERIFY, [pk, alpha, flipped]).startswith("refused")


@pytest.mark.django_db(transaction=True)
def test_the_report_says_no_record_was_left_out(page, live_server, rollback_car):
    open_report(page, live_server)
    line = page.locator("[data-completeness]")
    expect(line).to_have_attribute("data-completeness", "proven")
    size = page.locator("[data-checkpoint-size]").inner_text()
    expect(line).to_have_text(
        f"All 7 records logged for this car are shown; none can have been left out "
        f"(as of log size {int(size):,})."
    )


def drop_an_entry(bundle):
    del bundle["entries"][1]


def change_the_path(bundle):
    # A sibling flipped, or one added where the map's only leaf needs none.
    siblings = bundle["vin_index"]["siblings"]
    if siblings:
        siblings[0] = "B" * 43 + "=" if siblings[0] != "B" * 43 + "=" else "A" * 43 + "="
    else:
        siblings.append("A" * 43 + "=")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "change", [drop_an_entry, change_the_path], ids=["entry dropped", "path changed"]
)
def test_a_tampered_bundle_loses_the_line(page, live_server, rollback_car, change):
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    tamper_with_evidence(page, change)
    open_report(page, live_server)
    line = page.locator("[data-completeness]")
    expect(line).to_have_attribute("data-completeness", "failed")
    expect(line).not_to_contain_text("none can have been left out")
    # Nor may any other line of the page claim it: only a proof that holds does.
    expect(page.locator("[data-verify-report]")).not_to_contain_text("none can have been left out")
    assert errors == []


@pytest.mark.django_db(transaction=True)
def test_the_no_records_page_says_the_absence_is_proven(page, live_server, log_key):
    page.goto(f"{live_server.url}/vehicles/LVSHFFAL9H5226410/")
    line = page.locator("[data-completeness]")
    expect(line).to_have_attribute("data-completeness", "proven")
    expect(line).to_contain_text("No records are logged for this car, and the log proves it")
    assert ROLLBACK_VIN != "LVSHFFAL9H5226410"

"""The shared corpus (verifier/tests/corpus/) through the browser verifier: in Node and in
Chromium with no WebCrypto at all, every valid bundle verifies and every tampered one fails
with exactly the failure the manifest names, the one the Python verifier names too. The VIN
index check (vin-index.js, SPEC §7) is loaded as on the report page, and every bundle that
proves its completeness is said to."""

import json
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from tests.vehicles.browser.test_verify_js import BLANK_PAGE, STATIC, VERIFIER_SCRIPTS

ROOT = Path(settings.BASE_DIR)
CORPUS = ROOT / "verifier" / "tests" / "corpus"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))
SCRIPTS = [*VERIFIER_SCRIPTS, STATIC / "js" / "vin-index.js"]

RUN_CASE = """([text, vin, logKey]) => {
  const core = globalThis.carhistoryVerifyCore;
  try {
    const outcome = core.verifyBundle(JSON.parse(text), { vin: vin, logKey: logKey });
    return {
      failures: core.failuresOf(outcome).map((failure) => failure.code),
      completeness: outcome.completeness.status,
    };
  } catch (error) {
    if (!(error instanceof core.VerificationFailure)) throw error;
    return { failures: [error.code], completeness: null };
  }
}"""


def expected(case: dict) -> list[str]:
    return [] if case["failure"] is None else [case["failure"]]


def failures(named: dict) -> dict[str, list[str]]:
    return {name: outcome["failures"] for name, outcome in named.items()}


def assert_completeness_of_valid_bundles(named: dict) -> None:
    """A valid bundle with a `vin_index` proves its completeness; one without says nothing."""
    for case in MANIFEST["cases"]:
        if case["failure"] is None:
            bundle = json.loads((CORPUS / case["file"]).read_text(encoding="utf-8"))
            wanted = "proven" if "vin_index" in bundle else "absent"
            assert named[case["name"]]["completeness"] == wanted, case["name"]


def test_every_corpus_case_in_node():
    result = subprocess.run(
        ["node", str(ROOT / "tests" / "js" / "run-corpus.js")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    named = json.loads(result.stdout)
    assert failures(named) == {case["name"]: expected(case) for case in MANIFEST["cases"]}
    assert_completeness_of_valid_bundles(named)


@pytest.mark.browser
def test_every_corpus_case_in_chromium_without_webcrypto(browser):
    context = browser.new_context()
    page = context.new_page()
    # Nothing of WebCrypto is left, as in browsers that lack Ed25519 or crypto.subtle.
    page.add_init_script("Object.defineProperty(globalThis.crypto, 'subtle', {value: undefined})")
    page.route(
        BLANK_PAGE, lambda route: route.fulfill(body="<!doctype html>", content_type="text/html")
    )
    page.goto(BLANK_PAGE)
    for script in SCRIPTS:
        page.add_script_tag(path=str(script))
    assert page.evaluate("() => globalThis.crypto.subtle") is None
    named = {
        case["name"]: page.evaluate(
            RUN_CASE,
            [
                (CORPUS / case["file"]).read_text(encoding="utf-8"),
                case["vin"],
                MANIFEST["log_key"],
            ],
        )
        for case in MANIFEST["cases"]
    }
    context.close()
    assert failures(named) == {case["name"]: expected(case) for case in MANIFEST["cases"]}
    assert_completeness_of_valid_bundles(named)

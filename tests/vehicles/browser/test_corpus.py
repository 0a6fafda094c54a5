"""The shared corpus (verifier/tests/corpus/) through the browser verifier: in Node and in
Chromium with no WebCrypto at all, every valid bundle verifies and every tampered one fails
with exactly the failure the manifest names, the one the Python verifier names too."""

import json
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from tests.vehicles.browser.test_verify_js import BLANK_PAGE, VERIFIER_SCRIPTS

ROOT = Path(settings.BASE_DIR)
CORPUS = ROOT / "verifier" / "tests" / "corpus"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))

RUN_CASE = """([text, vin, logKey]) => {
  const core = globalThis.carhistoryVerifyCore;
  try {
    const outcome = core.verifyBundle(JSON.parse(text), { vin: vin, logKey: logKey });
    return core.failuresOf(outcome).map((failure) => failure.code);
  } catch (error) {
    if (!(error instanceof core.VerificationFailure)) throw error;
    return [error.code];
  }
}"""


def expected(case: dict) -> list[str]:
    return [] if case["failure"] is None else [case["failure"]]


def test_every_corpus_case_in_node():
    result = subprocess.run(
        ["node", str(ROOT / "tests" / "js" / "run-corpus.js")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    named = json.loads(result.stdout)
    assert named == {case["name"]: expected(case) for case in MANIFEST["cases"]}


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
    for script in VERIFIER_SCRIPTS:
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
    assert named == {case["name"]: expected(case) for case in MANIFEST["cases"]}

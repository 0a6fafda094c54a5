"""Benchmark of the browser verifier (docs/PERFORMANCE.md, "Browser verification").

Times `carhistoryVerifyCore.verifyBundle` (JSON parsing included) in headless Chromium, the
page's own scripts (static/vendor/noble.js, protocol.js, verify-core.js) loaded as the report
page loads them, on:
- every demo report's evidence bundle, built in a throw-away database
  (`carhistory_verifier_bench`) by `load_demo` and `build_evidence_bundle`;
- the corpus's 20-entry bundle (verifier/tests/corpus/valid_twenty_entries.json).
Each is verified 10 times after one warm-up run; it prints the median and the slowest.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/5 \\
        .venv/bin/python bench/browser_verify.py
"""

import base64
import json
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchdb import create_database, drop_database  # noqa: E402

DATABASE = "carhistory_verifier_bench"
RUNS = 10
BLANK_PAGE = "https://verify.bench/"
SCRIPTS = ["static/vendor/noble.js", "static/js/protocol.js", "static/js/verify-core.js"]
TIME_ONE = """([text, logKey, runs]) => {
  const core = globalThis.carhistoryVerifyCore;
  core.verifyBundle(JSON.parse(text), { logKey: logKey });
  const times = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const outcome = core.verifyBundle(JSON.parse(text), { logKey: logKey });
    times.push(performance.now() - start);
    if (core.failuresOf(outcome).length) throw new Error("a line failed");
  }
  return times;
}"""


def demo_bundles() -> tuple[str, list[tuple[str, str]]]:
    """Build the demo data in a throw-away database; return the log key and each demo VIN's
    bundle as JSON text."""
    import django

    server = os.environ["DATABASE_URL"]
    os.environ["DATABASE_URL"] = create_database(server, DATABASE)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carhistory.settings")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"
    # Throw-away log and VRF keys for the throw-away log (a fresh clone has neither on disk).
    from carhistory_verifier.note import Signer

    origin = os.environ.get("LEDGER_ORIGIN", "carhistory.localhost/log")
    os.environ["LEDGER_SIGNING_KEY"] = Signer.generate(origin).key_string()
    os.environ["LEDGER_VRF_KEY"] = base64.b64encode(os.urandom(32)).decode("ascii")
    django.setup()
    from django.core.management import call_command

    from carhistory.demo.data import DEMO_VINS, load_demo
    from carhistory.vehicles.evidence import build_evidence_bundle
    from ledger.keys import log_verifier_key

    try:
        call_command("migrate", verbosity=0)
        load_demo()
        bundles = [(vin, json.dumps(build_evidence_bundle(vin=vin))) for vin, _ in DEMO_VINS]
        return log_verifier_key(), bundles
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(server, DATABASE)


def time_in_chromium(cases: list[tuple[str, str, str]]) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        page.route(BLANK_PAGE, lambda route: route.fulfill(body="<!doctype html>"))
        page.goto(BLANK_PAGE)
        for script in SCRIPTS:
            page.add_script_tag(path=str(ROOT / script))
        times = {name: page.evaluate(TIME_ONE, [text, key, RUNS]) for name, text, key in cases}
        browser.close()
    return times


def main() -> None:
    log_key, bundles = demo_bundles()
    corpus = ROOT / "verifier" / "tests" / "corpus"
    manifest = json.loads((corpus / "manifest.json").read_text(encoding="utf-8"))
    twenty = (corpus / "valid_twenty_entries.json").read_text(encoding="utf-8")
    cases = [(vin, text, log_key) for vin, text in bundles]
    cases.append(("corpus: 20 entries", twenty, manifest["log_key"]))
    times = time_in_chromium(cases)
    print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    for name, text, _key in cases:
        entries = len(json.loads(text)["entries"])
        median, slowest = statistics.median(times[name]), max(times[name])
        print(f"{name:24} {entries:3} entries  median {median:6.1f} ms  max {slowest:6.1f} ms")


if __name__ == "__main__":
    main()

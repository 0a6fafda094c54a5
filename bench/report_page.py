"""Figures of the buyer's report page in a real browser (docs/PERFORMANCE.md, "Report page").

1. Builds a throw-away PostgreSQL database with the demo data (`load_demo`), collects the
   static files as production does (DEBUG=0: hashed names, gzip and Brotli copies by
   whitenoise) and serves the site with gunicorn, DEBUG off.
2. Opens the report of each demo car in Debian's headless Chromium (Playwright) with an empty
   cache, ten times each, and records:
   - the bytes on the wire (the compressed sizes Chromium's network log reports) of the first
     visit: the page, its styles, scripts and the evidence bundle;
   - the time from navigation until the verdict is on screen (the verdict section painted, as
     the page's own `performance.now()` sees it);
   - the time until every badge has been verified (the summary says "verified").
3. Prints medians per car and overall, with the load average, and drops the database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/5 \\
        .venv/bin/python bench/report_page.py [--loads 10]
"""

import argparse
import base64
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
sys.path.insert(0, str(ROOT))

from bench.benchdb import create_database, drop_database  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
DATABASE = "carhistory_bench_report_page"

# Set by the page itself: when the verdict section exists (it is the first thing in the
# body's content, so it is painted with the first frame that shows any of the report).
VERDICT_SHOWN = """() => new Promise((resolve) => {
  requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now())));
})"""


def main() -> int:
    options = parse_arguments()
    server_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/5")
    with tempfile.TemporaryDirectory() as scratch:
        database_url = create_database(server_url, DATABASE)
        environment = server_environment(Path(scratch), database_url, redis_url)
        try:
            prepare(environment)
            os.environ.update(environment)
            import django

            django.setup()
            with serve(environment) as base_url:
                results = measure(base_url, loads=options.loads)
        finally:
            drop_database(server_url, DATABASE)
    report(results)
    return 0


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=10, help="cold loads per demo car")
    return parser.parse_args()


def server_environment(scratch: Path, database_url: str, redis_url: str) -> dict[str, str]:
    from carhistory_verifier import note

    key_file = scratch / "log.key"
    key_file.write_text(note.Signer.generate("carhistory.localhost/log").key_string())
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("LEDGER_SIGNING", "LEDGER_VRF"))
    }
    environment.update(
        DEBUG="0",
        # Its own VRF key too: a fresh clone has none, and DEBUG=0 refuses to start without one.
        LEDGER_VRF_KEY=base64.b64encode(secrets.token_bytes(32)).decode("ascii"),
        SECRET_KEY=secrets.token_urlsafe(40),
        LEDGER_SIGNING_KEY_FILE=str(key_file),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        STATIC_ROOT=str(scratch / "static"),
        CACHE_KEY_PREFIX="bench-report-page",
        CELERY_TASK_ALWAYS_EAGER="1",
        LOG_LEVEL="WARNING",
        # The demo is refused with DEBUG off; the figures are of the same pages, so the data is
        # loaded with DEBUG on and served with it off.
        DJANGO_SETTINGS_MODULE="carhistory.settings",
    )
    return environment


def manage(*args: str, environment: dict[str, str]) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=environment, check=True)


def prepare(environment: dict[str, str]) -> None:
    manage("migrate", "--no-input", "-v", "0", environment=environment)
    manage("collectstatic", "--no-input", "-v", "0", environment=environment)
    manage("load_demo", environment=environment | {"DEBUG": "1"})


class serve:
    """gunicorn, 2 sync workers, DEBUG off, on a free port."""

    def __init__(self, environment: dict[str, str]) -> None:
        self.environment = environment

    def __enter__(self) -> str:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            [
                str(Path(PYTHON).parent / "gunicorn"),
                "carhistory.wsgi",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=self.environment | {"ALLOWED_HOSTS": "127.0.0.1"},
        )
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(base_url + "/healthz", timeout=2)
                return base_url
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def __exit__(self, *exc_info) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


def measure(base_url: str, *, loads: int) -> dict[str, list[dict]]:
    from playwright.sync_api import sync_playwright

    from carhistory.demo.data import DEMO_VINS

    results: dict[str, list[dict]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for vin, _description in DEMO_VINS:
            results[vin] = [cold_load(browser, f"{base_url}/vehicles/{vin}/") for _ in range(loads)]
        browser.close()
    return results


def cold_load(browser, url: str) -> dict:
    """One first visit: a new context (empty cache), a 390 × 844 phone viewport."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    session = context.new_cdp_session(page)
    session.send("Network.enable")
    transferred = {"bytes": 0}
    session.on(
        "Network.loadingFinished",
        lambda event: transferred.__setitem__(
            "bytes", transferred["bytes"] + event["encodedDataLength"]
        ),
    )
    page.goto(url, wait_until="commit")
    page.wait_for_selector(".verdict", state="visible")
    verdict_ms = page.evaluate(VERDICT_SHOWN)
    page.wait_for_selector('[data-verify-summary][data-verify-state="verified"]', timeout=30_000)
    verified_ms = page.evaluate("performance.now()")
    page.wait_for_load_state("networkidle")
    context.close()
    return {"bytes": transferred["bytes"], "verdict_ms": verdict_ms, "verified_ms": verified_ms}


def report(results: dict[str, list[dict]]) -> None:
    print(f"load average: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    print(f"{'VIN':<18} {'KB on the wire':>15} {'verdict ms':>11} {'verified ms':>12}")
    every = [load for loads in results.values() for load in loads]
    for vin, loads in [*results.items(), ("all", every)]:
        print(
            f"{vin:<18} {statistics.median(load['bytes'] for load in loads) / 1024:>15.1f}"
            f" {statistics.median(load['verdict_ms'] for load in loads):>11.0f}"
            f" {statistics.median(load['verified_ms'] for load in loads):>12.0f}"
        )


if __name__ == "__main__":
    sys.exit(main())

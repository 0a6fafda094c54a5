"""Figures of the buyer's report page in a real browser (docs/PERFORMANCE.md, "Report page").

1. Builds a throw-away PostgreSQL database with the demo data (`load_demo`), collects the
   static files as production does (DEBUG=0: hashed names, gzip and Brotli copies by
   whitenoise) and serves the site with gunicorn, DEBUG off.
2. Opens the report of each demo car in Debian's headless Chromium (Playwright) with an empty
   cache, ten times each, and records:
   - the bytes on the wire (the compressed sizes Chromium's network log reports) of the first
     visit: the page, its styles, scripts and the evidence bundle;
   - the time from navigation until the verdict is on screen: when Chromium painted the
     verdict's heading (Element Timing, the browser's own paint time), and, as earlier runs
     measured it, when the harness saw it visible plus two frames;
   - the time until every badge has been verified (the summary turned "verified", recorded by
     the page itself);
   - where that time goes: the server's first byte, the HTML and the stylesheets received,
     the first paint, the scripts run (DOMContentLoaded), the evidence bundle's request
     (start and end), and the verification after it.
3. Prints medians per car and overall, with the load average at start and end, and drops the
   database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/5 \\
        .venv/bin/python bench/report_page.py [--loads 10] [--database NAME] [--port PORT]
"""

import argparse
import base64
import contextlib
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
sys.path.insert(0, str(ROOT))

from bench.benchdb import create_database, drop_database  # noqa: E402

CHROMIUM = "/usr/bin/chromium"

# How earlier runs timed the verdict: once Playwright sees it visible, two frames later. It
# includes the harness's own polling and round trips; kept to compare with those runs.
VERDICT_SHOWN = """() => new Promise((resolve) => {
  requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now())));
})"""

# Recorded inside the page as it loads (an init script of the benchmark: nothing of it ships
# with the site), so no harness round trip is in the figures: when the verdict's heading was
# painted (Element Timing, registered by marking the heading as the parser inserts it, before
# its first paint), and when the proof status turned "verified".
PAGE_RECORDER = """
window.__bench = {};
new MutationObserver(() => {
  const heading = document.getElementById("verdict-heading");
  if (heading && !heading.hasAttribute("elementtiming")) {
    heading.setAttribute("elementtiming", "verdict");
  }
}).observe(document, { subtree: true, childList: true });
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (entry.identifier === "verdict" && !window.__bench.verdictPainted) {
      window.__bench.verdictPainted = entry.renderTime || entry.loadTime;
    }
  }
}).observe({ type: "element", buffered: true });
new MutationObserver(() => {
  const summary = document.querySelector("[data-verify-summary]");
  if (!window.__bench.verified && summary &&
      summary.getAttribute("data-verify-state") === "verified") {
    window.__bench.verified = performance.now();
  }
}).observe(document, { subtree: true, childList: true, attributes: true,
                       attributeFilter: ["data-verify-state"] });
"""

# The parts of one load, read from the page's own timing entries once it is verified.
PAGE_PARTS = """() => {
  const navigation = performance.getEntriesByType("navigation")[0];
  const resources = performance.getEntriesByType("resource");
  const ends = (test) => resources.filter(test).map((entry) => entry.responseEnd);
  const styles = (entry) => entry.initiatorType === "link" && entry.name.endsWith(".css");
  const evidence = resources.find((entry) => entry.name.includes("/evidence"));
  const paint = performance.getEntriesByName("first-contentful-paint")[0];
  return {
    first_byte_ms: navigation.responseStart,
    html_ms: navigation.responseEnd,
    css_ms: Math.max(0, ...ends(styles)),
    first_paint_ms: paint ? paint.startTime : null,
    verdict_painted_ms: window.__bench.verdictPainted || null,
    scripts_run_ms: navigation.domContentLoadedEventStart,
    evidence_start_ms: evidence ? evidence.startTime : null,
    evidence_end_ms: evidence ? evidence.responseEnd : null,
    verified_ms: window.__bench.verified,
  };
}"""
COLUMNS = (
    ("first_byte_ms", "1st byte"),
    ("html_ms", "HTML"),
    ("css_ms", "CSS"),
    ("first_paint_ms", "FCP"),
    ("verdict_painted_ms", "verdict"),
    ("verdict_seen_ms", "seen"),
    ("scripts_run_ms", "scripts"),
    ("evidence_start_ms", "ev.start"),
    ("evidence_end_ms", "ev.end"),
    ("verify_ms", "verify"),
    ("verified_ms", "verified"),
)


@dataclass
class Site:
    """One checkout of the project served for the run: this one, or the one compared with."""

    name: str
    root: Path
    database: str
    port: int
    environment: dict[str, str] = field(default_factory=dict)


def main() -> int:
    options = parse_arguments()
    load_at_start = os.getloadavg()
    server_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/5")
    sites = [Site("this tree", ROOT, options.database, options.port)]
    if options.compare_with:
        sites.insert(
            0,
            Site(
                "compared",
                options.compare_with.resolve(),
                f"{options.database}_compared",
                options.port + 1 if options.port else 0,
            ),
        )
    with tempfile.TemporaryDirectory() as scratch, contextlib.ExitStack() as running:
        try:
            for site in sites:
                database_url = create_database(server_url, site.database)
                folder = Path(scratch) / site.database
                folder.mkdir()
                site.environment = server_environment(site.root, folder, database_url, redis_url)
                prepare(site)
            os.environ.update(sites[-1].environment)
            import django

            django.setup()
            urls = [running.enter_context(serve(site)) for site in sites]
            results = measure(urls, loads=options.loads)
        finally:
            running.close()
            for site in sites:
                drop_database(server_url, site.database)
    for site, site_results in zip(sites, results, strict=True):
        print(f"\n{site.name}: {site.root}")
        report(site_results)
    if len(sites) == 2:
        compare(*results)
    print(f"\nload average at start: {' '.join(f'{value:.2f}' for value in load_at_start)}")
    print(f"load average at end:   {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    return 0


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=10, help="cold loads per demo car")
    parser.add_argument(
        "--database", default="carhistory_bench_report_page", help="throw-away database name"
    )
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port (0: any free one)")
    parser.add_argument(
        "--compare-with",
        type=Path,
        help="another checkout (e.g. a worktree of main) served beside this one; loads "
        "alternate between the two so both see the same load",
    )
    return parser.parse_args()


def server_environment(
    root: Path, scratch: Path, database_url: str, redis_url: str
) -> dict[str, str]:
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
        # A prefix of its own per site and run: the cached reports and bundles are keyed by the
        # log's size, which every demo log shares, but each one signs with a new key.
        CACHE_KEY_PREFIX=f"bench-report-page-{secrets.token_hex(4)}",
        CELERY_TASK_ALWAYS_EAGER="1",
        LOG_LEVEL="WARNING",
        # The demo is refused with DEBUG off; the figures are of the same pages, so the data is
        # loaded with DEBUG on and served with it off.
        DJANGO_SETTINGS_MODULE="carhistory.settings",
        # The checkout's own verifier package, not the one installed in this virtualenv.
        PYTHONPATH=str(root / "verifier" / "src"),
    )
    return environment


def manage(site: Site, *args: str, **overrides: str) -> None:
    subprocess.run(
        [PYTHON, "manage.py", *args], cwd=site.root, env=site.environment | overrides, check=True
    )


def prepare(site: Site) -> None:
    manage(site, "migrate", "--no-input", "-v", "0")
    manage(site, "collectstatic", "--no-input", "-v", "0")
    manage(site, "load_demo", DEBUG="1")


class serve:
    """gunicorn, 2 sync workers, DEBUG off, on the site's port (or any free one)."""

    def __init__(self, site: Site) -> None:
        self.site = site

    def __enter__(self) -> str:
        port = self.site.port
        if not port:
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
            cwd=self.site.root,
            env=self.site.environment | {"ALLOWED_HOSTS": "127.0.0.1"},
            stdout=subprocess.DEVNULL,
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


def measure(base_urls: list[str], *, loads: int) -> list[dict[str, list[dict]]]:
    """Cold loads of every demo car, alternating between the sites load by load."""
    from playwright.sync_api import sync_playwright

    from carhistory.demo.data import DEMO_VINS

    results: list[dict[str, list[dict]]] = [{} for _ in base_urls]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for vin, _description in DEMO_VINS:
            for _ in range(loads):
                for site_results, base_url in zip(results, base_urls, strict=True):
                    load = cold_load(browser, f"{base_url}/vehicles/{vin}/")
                    site_results.setdefault(vin, []).append(load)
        browser.close()
    return results


def cold_load(browser, url: str) -> dict:
    """One first visit: a new context (empty cache), a 390 × 844 phone viewport."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.add_init_script(PAGE_RECORDER)
    page = context.new_page()
    session = context.new_cdp_session(page)
    session.send("Network.enable")
    urls: dict[str, str] = {}
    files: dict[str, int] = {}
    session.on(
        "Network.requestWillBeSent",
        lambda event: urls.__setitem__(event["requestId"], event["request"]["url"]),
    )

    def finished(event: dict) -> None:
        name = file_name(urls.get(event["requestId"], "?"))
        files[name] = files.get(name, 0) + event["encodedDataLength"]

    session.on("Network.loadingFinished", finished)
    page.goto(url, wait_until="commit")
    page.wait_for_selector(".verdict", state="visible")
    verdict_seen_ms = page.evaluate(VERDICT_SHOWN)
    page.wait_for_selector('[data-verify-summary][data-verify-state="verified"]', timeout=30_000)
    page.wait_for_load_state("networkidle")
    parts = page.evaluate(PAGE_PARTS)
    context.close()
    # The verification can start once both its scripts and the bundle are there.
    parts["verify_ms"] = parts["verified_ms"] - max(
        parts["evidence_end_ms"] or 0, parts["scripts_run_ms"]
    )
    return {
        "bytes": sum(files.values()),
        "files": files,
        "verdict_seen_ms": verdict_seen_ms,
        **parts,
    }


def file_name(url: str) -> str:
    """A response named the same way on every load and car: a static file without its content
    hash, the report page and its API calls without the VIN."""
    path = url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
    if path.startswith("static/"):
        return re.sub(r"\.[0-9a-f]{12}(\.\w+)$", r"\1", path)
    return re.sub(r"[A-HJ-NPR-Z0-9]{17}", "<VIN>", path) or "/"


def _median(loads: list[dict], key: str) -> str:
    values = [load[key] for load in loads if load[key] is not None]
    return f"{statistics.median(values):.0f}" if values else "-"


def report(results: dict[str, list[dict]]) -> None:
    print("medians, ms from navigation start (KB: compressed bytes of the whole first visit)")
    print(f"{'VIN':<18} {'KB':>6}" + "".join(f" {title:>8}" for _key, title in COLUMNS))
    every = [load for loads in results.values() for load in loads]
    for vin, loads in [*results.items(), ("all", every)]:
        kilobytes = statistics.median(load["bytes"] for load in loads) / 1024
        print(
            f"{vin:<18} {kilobytes:>6.1f}"
            + "".join(f" {_median(loads, key):>8}" for key, _title in COLUMNS)
        )
    report_files(every)


def report_files(loads: list[dict]) -> None:
    """What a first visit carries, file by file: the median compressed bytes of each response
    over the loads that fetched it, and in how many loads it was fetched."""
    names = sorted({name for load in loads for name in load["files"]})
    rows = []
    for name in names:
        sizes = [load["files"][name] for load in loads if name in load["files"]]
        rows.append((statistics.median(sizes), len(sizes), name))
    print(f"\nfile by file (median bytes where fetched; in how many of the {len(loads)} loads)")
    for size, fetched, name in sorted(rows, reverse=True):
        print(f"  {size / 1024:>7.1f} KB  {fetched:>4}  {name}")


def compare(compared: dict[str, list[dict]], this: dict[str, list[dict]]) -> None:
    """This tree's medians over the compared tree's, over all loads of the same run."""
    print("\nthis tree / compared (medians of all loads, same run)")
    for key, title in (("bytes", "KB"), *COLUMNS):
        before = [load[key] for loads in compared.values() for load in loads if load[key]]
        after = [load[key] for loads in this.values() for load in loads if load[key]]
        if before and after:
            ratio = statistics.median(after) / statistics.median(before)
            print(f"  {title:<9} {ratio:>5.2f}×")


if __name__ == "__main__":
    sys.exit(main())

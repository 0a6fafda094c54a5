"""VIN index benchmark (SPEC §7): what the map costs the sequencer, proofs, and the browser.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/carhistory .venv/bin/python bench/vin_index.py \
        [--entries 1000000] [--vins 100000] [--proofs 2000]
    DATABASE_URL=... .venv/bin/python bench/vin_index.py --proofs-only carhistory_bench_report

It creates its own PostgreSQL database (`carhistory_index_bench`, `--database`) and drops it at
the end. `--proofs-only NAME` runs part 3 alone on a database `bench/report.py --keep` built
(1,000,000 entries over 100,000 VINs by default), with the keys it kept in `var/`. `--warm`
loads the tables a bundle reads into PostgreSQL's buffers first (pg_prewarm): a server that
has been answering for a while, where a cold one reads a random VIN's pages from the disk.

1. VRF: ECVRF proofs per second on one core (`carhistory_verifier.vrf`, libsodium).
2. Sequencer: the same entries integrated twice in this one run, into a fresh log each time:
   without the map (the map update replaced by a constant root) and with it. VRF proofs are
   computed at enqueue, so the integrate rate is the sequencer's alone.
3. Bundle proofs at the final size, for random VINs of the log and as many it never saw: the
   time to build the `vin_index` section of a bundle (the VIN's map key and path, the
   `vin_index` entry and its inclusion proof) and the whole bundle
   (`build_evidence_bundle`: entries, source keys, every inclusion proof, the map proof),
   the queries each takes, and the bytes the section adds.
4. Browser: Chromium verifying a 20-entry bundle (verify-core.js + vin-index.js), and ECVRF
   verifications per second in the browser.
"""

import argparse
import json
import os
import random
import statistics
import time
from urllib.parse import urlsplit, urlunsplit

from _harness import (
    ROOT,
    FillTimes,
    configure_django,
    fill_log,
    load_average,
    map_left_out,
    migrate_ledger,
    percentile,
    service_entry,
)
from benchdb import buffers_and_size, create_database, drop_database, prewarm

BENCH_DATABASE = "carhistory_index_bench"


def kept_keys(database: str) -> tuple[str, str]:
    """The log key and VRF key `bench/report.py --keep` kept in `var/` beside its database
    (the stored VIN keys depend on the VRF key)."""
    kept = ROOT / "var" / f"{database}.key"
    return (
        kept.read_text(encoding="ascii").strip(),
        kept.with_suffix(".vrf").read_text(encoding="ascii").strip(),
    )


def vin_of(number: int) -> str:
    return f"LSVAU2180N{number:07d}"


def bench_vrf(count: int) -> None:
    from carhistory_verifier import vrf

    key = vrf.VrfKey.generate()
    started = time.process_time()
    proofs = [vrf.prove(key, vin_of(number).encode()) for number in range(count)]
    proving = time.process_time() - started
    started = time.process_time()
    for number, proof in enumerate(proofs):
        vrf.verify(key.public_key, vin_of(number).encode(), proof)
    verifying = time.process_time() - started
    print(
        f"vrf: {count / proving:8.0f} proofs/s, {count / verifying:8.0f} verifications/s "
        f"(one core, CPU time), load {load_average()}",
        flush=True,
    )
    print(f"  a proof's parts, µs each: {vrf_parts(key, count)}", flush=True)


def vrf_parts(key, count: int) -> str:
    """CPU time of the libsodium calls a proof makes (two variable-base multiplications, one
    fixed-base one) and of its hash to the curve: why the rate is what it is."""
    from carhistory_verifier import vrf
    from nacl import bindings as sodium

    scalar = sodium.crypto_core_ed25519_scalar_reduce(bytes(range(64)))
    point = vrf.encode_to_curve(key.public_key, b"LSVAU2180N0000000")
    parts = {
        "variable-base multiplication": lambda: sodium.crypto_scalarmult_ed25519_noclamp(
            scalar, point
        ),
        "fixed-base multiplication": lambda: sodium.crypto_scalarmult_ed25519_base_noclamp(scalar),
        "encode_to_curve": lambda: vrf.encode_to_curve(key.public_key, vin_of(count).encode()),
        "point addition": lambda: sodium.crypto_core_ed25519_add(point, point),
    }
    timings = []
    for name, call in parts.items():
        started = time.process_time()
        for _ in range(count):
            call()
        timings.append(f"{name} {(time.process_time() - started) / count * 1e6:.1f}")
    return ", ".join(timings)


def bench_sequencer(total: int, vins: int, *, with_map: bool, seed: int) -> FillTimes:
    from ledger import vin_index

    migrate_ledger(fresh=True)
    random.seed(seed)
    saved = vin_index.update_map, vin_index.ensure_vin_keys
    if not with_map:
        vin_index.update_map = map_left_out
        vin_index.ensure_vin_keys = lambda vins: None
    try:
        times = fill_log(
            total, lambda number: service_entry(number, vin_of(random.randrange(vins)))
        )
    finally:
        vin_index.update_map, vin_index.ensure_vin_keys = saved
    label = "with the map   " if with_map else "without the map"
    own, database = times.integrate_cpu_per_entry
    print(
        f"sequencer {label}: integrate {times.integrate_rate:8.0f} entries/s "
        f"(median batch {times.median_chunk_rate:.0f}, {times.integrate_seconds:.0f} s), "
        f"enqueue {times.enqueue_rate:8.0f} entries/s (VRF of new VINs included); "
        f"CPU an entry integrated: {own:.1f} µs sequencer + {database:.1f} µs PostgreSQL = "
        f"{own + database:.1f} µs; load {load_average()}",
        flush=True,
    )
    return times


def bench_bundle_proofs(count: int) -> None:
    """Part 3: bundles for `count` VINs, half of them in the log (drawn from its stored VIN
    keys) and half never seen (their VRF proof is computed on the spot, as a lookup does)."""
    from django.test.utils import override_settings

    # As the site runs in production: with DEBUG on, Django logs every query it runs.
    with override_settings(DEBUG=False):
        _bench_bundle_proofs(count)


def _bench_bundle_proofs(count: int) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from carhistory.vehicles.evidence import build_evidence_bundle
    from ledger import selectors
    from ledger.models import VinKey

    size = selectors.tree_size()
    rng = random.Random(9381)
    logged = list(VinKey.objects.exclude(indexes=b"").values_list("vin", flat=True))
    vins = [
        rng.choice(logged) if number % 2 else f"LSVAU2180Z{rng.randrange(10**7):07d}"
        for number in range(count)
    ]
    sections, bundles, cpu, sizes, queries = [], [], [], [], []
    section_cpu: dict[bool, list[float]] = {True: [], False: []}
    by_kind: dict[bool, list[float]] = {True: [], False: []}  # by whether the VIN is logged
    for number, vin in enumerate(vins):
        checkpoint = selectors.latest_checkpoint()
        started, cpu_started = time.perf_counter(), time.process_time()
        vin_index_section(vin, checkpoint)
        sections.append((time.perf_counter() - started) * 1000)
        by_kind[bool(number % 2)].append(sections[-1])
        section_cpu[bool(number % 2)].append((time.process_time() - cpu_started) * 1000)
        # The query log keeps 9,000 queries: empty it, or the count stops at its end.
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as captured:
            started, cpu_started = time.perf_counter(), time.process_time()
            bundle = build_evidence_bundle(vin=vin, checkpoint=checkpoint)
            bundles.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
        queries.append(len(captured.captured_queries))
        sizes.append(len(json.dumps(bundle["vin_index"], separators=(",", ":"))))
    entries = statistics.median(
        len(selectors.vin_history(vin, checkpoint).entries) for vin in logged[:50]
    )
    print(
        f"bundle proofs at {size} entries ({len(logged)} VINs logged, a logged car has "
        f"{entries:.0f} entries), {count} VINs, half never logged:\n"
        f"  vin_index section (the VIN's rows and the vin_index entry, the map key and path, "
        f"the entry's inclusion proof): median "
        f"{statistics.median(sections):.2f} ms, p99 {percentile(sections, 0.99):.2f} ms\n"
        + "".join(
            f"    {label}: median {statistics.median(by_kind[kind]):.2f} ms, "
            f"p99 {percentile(by_kind[kind], 0.99):.2f} ms; this process's CPU median "
            f"{statistics.median(section_cpu[kind]):.2f} ms\n"
            for kind, label in ((True, "VINs of the log"), (False, "VINs never logged"))
        )
        + f"  whole bundle (build_evidence_bundle): median {statistics.median(bundles):.2f} ms, "
        f"p99 {percentile(bundles, 0.99):.2f} ms, {max(queries)} queries at most; this "
        f"process's CPU a bundle: median {statistics.median(cpu):.2f} ms\n"
        f"  bytes the section adds: median {statistics.median(sizes):.0f}, max {max(sizes)}; "
        f"load {load_average()}",
        flush=True,
    )
    # The parts, timed one by one on another draw of VINs (the same draw would find its
    # pages cached): where the section's time goes.
    rng = random.Random(9162)
    parts = section_parts(
        [
            rng.choice(logged) if number % 2 else f"LSVAU2180Y{rng.randrange(10**7):07d}"
            for number in range(count)
        ]
    )
    print(
        "  its parts, median / p99 ms: "
        + "; ".join(
            f"{name} {statistics.median(times):.2f} / {percentile(times, 0.99):.2f}"
            for name, times in parts.items()
        ),
        flush=True,
    )
    # What the index adds to a bundle, VIN by VIN: the section after the VIN's rows alone,
    # which a bundle reads whether or not it carries the index. The rows' pages are cached
    # by then, so this is the index's own cost (its key, its path, a VRF proof if new).
    rows, section = parts.values()
    added = [max(0.0, whole - alone) for alone, whole in zip(rows, section, strict=True)]
    print(
        f"  the parts the index adds (the section less the VIN's rows alone), per VIN: median "
        f"{statistics.median(added):.2f} ms, p99 {percentile(added, 0.99):.2f} ms",
        flush=True,
    )


# What a bundle reads: the entries, the stored subtrees, the VINs' places and the map.
BUNDLE_TABLES = ["ledger_entry", "ledger_subtree", "ledger_vinkey", "ledger_vinindexnode"]


def report_buffers(database_url: str, *, warm: bool) -> None:
    """Print PostgreSQL's buffers beside the database's size and, with `warm`, load what a
    bundle reads into them. Cold, a bundle of a random VIN reads most of its pages from the
    disk: on the development VM, whose host takes back page cache left unread for a few
    minutes, 0.2 to 1.2 ms a page (docs/PERFORMANCE.md, "Fifth session")."""
    buffers, size = buffers_and_size(database_url)
    print(
        f"  PostgreSQL shared_buffers {buffers / 2**20:,.0f} MiB, database {size / 2**20:,.0f} MiB",
        flush=True,
    )
    if warm:
        started = time.perf_counter()
        loaded = prewarm(database_url, BUNDLE_TABLES)
        print(
            f"  loaded {loaded / 2**20:,.0f} MiB of {', '.join(BUNDLE_TABLES)} and their "
            f"indexes into the buffers (pg_prewarm) in {time.perf_counter() - started:.1f} s",
            flush=True,
        )


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def vin_index_section(vin: str, checkpoint) -> tuple:
    """What the `vin_index` section of a bundle reads and computes (SPEC §7): the VIN's rows
    with the checkpoint's last entry, the VIN's VRF proof and map path (one statement, and for
    a VIN never logged its VRF proof and a second), and the last entry's inclusion proof (read
    once per checkpoint)."""
    from ledger import selectors

    return (
        selectors.vin_history(vin, checkpoint, with_map_proof=True),
        selectors.last_entry_inclusion_proof(checkpoint),
    )


def section_parts(vins: list[str]) -> dict[str, list[float]]:
    """The time of each part of `vin_index_section`, VIN by VIN, in milliseconds: the VIN's
    rows alone (what a bundle without the index reads), then the section, then the section
    again for a VIN of the log whose pages the first part left cached (the index's own cost)."""
    from ledger import selectors

    parts: dict[str, list[float]] = {
        "the VIN's rows and the last entry alone": [],
        "the section": [],
    }
    rows, section = parts.values()
    for vin in vins:
        checkpoint = selectors.latest_checkpoint()
        started = time.perf_counter()
        selectors.vin_history(vin, checkpoint)
        rows.append(lap(started))
        started = time.perf_counter()
        vin_index_section(vin, checkpoint)
        section.append(lap(started))
    return parts


def lap(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def twenty_entry_bundle() -> dict:
    from carhistory.vehicles.evidence import build_evidence_bundle
    from ledger import services

    vin = "LFV2A21K0E3000001"
    entries = [services.sign_as_platform(service_entry(n, vin)) for n in range(20)]
    services.enqueue_entries(entries=entries)
    services.integrate_pending()
    return build_evidence_bundle(vin=vin)


BROWSER_TIMING = """([bundle, logKey, runs]) => {
  const times = [];
  let outcome;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    outcome = carhistoryVerifyCore.verifyBundle(bundle, { logKey: logKey });
    times.push(performance.now() - started);
  }
  const section = bundle.vin_index;
  const bytes = (text) => carhistoryVerifyCore.fromBase64(text, null, "bench");
  const key = bytes(section.entry.facts.vrf_key);
  const pi = bytes(section.vrf_proof);
  const alpha = new TextEncoder().encode(bundle.vin);
  const vrfStarted = performance.now();
  let vrfCount = 0;
  while (performance.now() - vrfStarted < 2000) {
    carhistoryVinIndex.vrfVerify(key, alpha, pi);
    vrfCount++;
  }
  return {
    times: times,
    completeness: outcome.completeness.status,
    vrfPerSecond: vrfCount / ((performance.now() - vrfStarted) / 1000),
  };
}"""


def bench_browser(bundle: dict) -> None:
    from playwright.sync_api import sync_playwright

    from ledger.keys import log_verifier_key

    scripts = [
        ROOT / "static" / "vendor" / "noble.js",
        ROOT / "static" / "js" / "protocol.js",
        ROOT / "static" / "js" / "verify-core.js",
        ROOT / "static" / "js" / "vin-index.js",
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        page.route(
            "https://bench.test/",
            lambda route: route.fulfill(body="<!doctype html>", content_type="text/html"),
        )
        page.goto("https://bench.test/")
        for script in scripts:
            page.add_script_tag(path=str(script))
        result = page.evaluate(BROWSER_TIMING, [bundle, log_verifier_key(), 30])
        browser.close()
    times = result["times"][1:]  # the first run compiles
    print(
        f"browser: verify a {len(bundle['entries'])}-entry bundle with its VIN index proof "
        f"median {statistics.median(times):.1f} ms, max {max(times):.1f} ms "
        f"(first {result['times'][0]:.1f} ms), completeness {result['completeness']}; "
        f"ECVRF verifications {result['vrfPerSecond']:.0f}/s; load {load_average()}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--vins", type=int, default=100_000)
    parser.add_argument("--proofs", type=int, default=2000)
    parser.add_argument("--database", default=BENCH_DATABASE, help="the one to create and drop")
    parser.add_argument(
        "--proofs-only", metavar="NAME", help="part 3 alone, on the kept database NAME"
    )
    parser.add_argument(
        "--warm",
        action="store_true",
        help="load the tables a bundle reads into PostgreSQL's buffers before part 3",
    )
    arguments = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        parser.error("set DATABASE_URL to a PostgreSQL server (postgres://...)")
    if arguments.proofs_only:
        proofs_only(url, arguments.proofs_only, arguments.proofs, warm=arguments.warm)
        return
    print(
        f"VIN index benchmark: {arguments.entries} entries over {arguments.vins} VINs, "
        f"{os.cpu_count()} CPUs, load average {load_average()}",
        flush=True,
    )
    configure_django(create_database(url, arguments.database))
    try:
        bench_vrf(2000)
        without = bench_sequencer(arguments.entries, arguments.vins, with_map=False, seed=1)
        with_map = bench_sequencer(arguments.entries, arguments.vins, with_map=True, seed=1)
        by_wall = with_map.integrate_rate / without.integrate_rate
        by_cpu = sum(without.integrate_cpu_per_entry) / sum(with_map.integrate_cpu_per_entry)
        print(
            f"sequencer with the map / without: {by_wall:.2f}x by the wall clock "
            f"(target >= 0.6x), {by_cpu:.2f}x by CPU; "
            f"with the map {with_map.integrate_rate:.0f} entries/s (target >= 10,000)",
            flush=True,
        )
        # Statistics as autovacuum would have gathered them on a log this size: just after the
        # bulk load the planner still believes the tables small and scans them whole.
        analyze()
        report_buffers(
            urlunsplit(urlsplit(url)._replace(path=f"/{arguments.database}")), warm=arguments.warm
        )
        bench_bundle_proofs(arguments.proofs)
        bench_browser(twenty_entry_bundle())
        print(f"load average at the end {load_average()}")
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(url, arguments.database)


def proofs_only(url: str, database: str, count: int, *, warm: bool) -> None:
    print(f"{os.cpu_count()} CPUs, load average {load_average()}", flush=True)
    signing_key, vrf_key = kept_keys(database)
    database_url = urlunsplit(urlsplit(url)._replace(path=f"/{database}"))
    configure_django(database_url, signing_key=signing_key, vrf_key=vrf_key)
    report_buffers(database_url, warm=warm)
    bench_bundle_proofs(count)
    print(f"load average at the end {load_average()}")


if __name__ == "__main__":
    main()

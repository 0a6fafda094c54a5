"""Benchmark of the buyer's report API at scale (docs/PERFORMANCE.md, "Reports").

1. Builds its own PostgreSQL database (default `carhistory_bench_report`): 1,000,000 entries
   over 100,000 VINs, written as the sources would (signed entries, `enqueue_entries`, then the
   sequencer `integrate_pending`). A car's entries are spread across the log, as they arrive
   over years, so a report reads rows from all over the table.
2. Serves the site with gunicorn (2 sync workers, DEBUG off) and loads it with `wrk` (Debian
   package `wrk`) from a second process, for three paths in the same run:
   - the floor: a trivial Django view through the same middleware (bench/report_urls.py);
   - uncached reports: every request a VIN not asked for before, cache flushed first;
   - cached reports: a set of VINs asked for once beforehand.
3. Prints p50, p99 and requests/s for each, and drops the database unless --keep.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/5 \\
        .venv/bin/python bench/report.py [--keep] [--reuse] [--duration 20] [--connections 4]

The Redis database given is flushed between runs: give the benchmark one of its own.
"""

import argparse
import base64
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# Run as `python bench/report.py`: the project's packages are one level up.
sys.path.insert(0, str(ROOT))

# What the server may use: its own Redis key prefix, and the production throttle rate (the load
# comes from many client addresses through a trusted proxy, see report_settings.py).
SERVER_ENVIRONMENT = {
    "DEBUG": "0",
    "CACHE_KEY_PREFIX": "bench-report",
    "LOG_LEVEL": "WARNING",
    "CELERY_TASK_ALWAYS_EAGER": "1",
}

# Ten events a car, in the order they happen; `round` is the car's event number.
WMIS = ("LFV", "LSV", "LVS", "LGB")
SOURCES = (
    [(f"bench-dealer-{n}", "dealer_4s") for n in range(20)]
    + [(f"bench-repair-{n}", "repair_shop") for n in range(10)]
    + [(f"bench-insurer-{n}", "insurer") for n in range(4)]
    + [
        ("bench-registry", "registry"),
        ("bench-oem", "oem"),
        ("bench-inspection", "inspection_station"),
    ]
)

WRK_SCRIPT = """
local paths = {}
local position = 1

function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  -- Threads walk the list from evenly spaced starts, so no path is asked twice in a run
  -- unless the run outlasts the list.
  local threads = tonumber(args[2])
  local thread = thread_number
  position = math.floor(#paths * thread / threads) + 1
end

thread_number = 0
function setup(thread)
  thread:set("thread_number", thread_number)
  thread_number = thread_number + 1
end

-- Many buyers behind one proxy: each request from one of 65,536 client addresses, so that
-- every address keeps a throttle history as short as a real buyer's.
function request()
  local path = paths[position]
  position = position % #paths + 1
  local client = "10.77." .. math.random(0, 255) .. "." .. math.random(0, 255)
  return wrk.format("GET", path, {["X-Forwarded-For"] = client})
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "RESULT {\\"requests\\": %d, \\"seconds\\": %f, \\"p50_us\\": %d, \\"p99_us\\": %d, " ..
    "\\"non_2xx\\": %d, \\"socket_errors\\": %d}\\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
"""


def main() -> int:
    options = parse_arguments()
    server_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/5")
    database_url = with_database(server_url, options.database)
    signing_key = key_for(options.database)
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "LEDGER_SIGNING_KEY": signing_key,
            # Kept beside a kept database too: every stored VIN key depends on it.
            "LEDGER_VRF_KEY": vrf_key_for(options.database),
        }
    )
    os.environ.update(SERVER_ENVIRONMENT)
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(40)
    os.environ["DJANGO_SETTINGS_MODULE"] = "carhistory.settings"

    built = options.reuse and database_exists(server_url, options.database)
    if not built:
        recreate_database(server_url, options.database)
        run([PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"])
    import django

    django.setup()
    if not built:
        build_log(entries=options.entries, vins=options.vins)
    vins = stored_vins()
    print(f"log: {log_size():,} entries, {len(vins):,} VINs")
    print(f"load average before the runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    try:
        rounds, cpu = load_test(options, vins)
    finally:
        if not options.keep:
            from django.db import connections

            connections.close_all()
            drop_database(server_url, options.database)
            key_path(options.database).unlink(missing_ok=True)
    print_results(rounds)
    print_cpu(cpu)
    return 0


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="carhistory_bench_report")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--vins", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept database")
    parser.add_argument("--duration", type=int, default=20, help="seconds per load run")
    parser.add_argument("--rounds", type=int, default=1, help="times to measure each path")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per worker (more than 1: gthread)"
    )
    parser.add_argument("--port", type=int, default=0, help="default: a free one")
    parser.add_argument(
        "--cache-backend",
        choices=["django", "reusing"],
        default="reusing",
        help="the project's Redis backend (settings), or Django's stock one: no short path",
    )
    parser.add_argument(
        "--cpu-seconds",
        type=int,
        default=5,
        help="seconds of one-connection load per path to measure CPU a request (0: skip)",
    )
    return parser.parse_args()


# --- the database -------------------------------------------------------------------------


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def admin_connection(server_url: str):
    import psycopg2

    connection = psycopg2.connect(with_database(server_url, "postgres"))
    connection.autocommit = True
    return connection


def database_exists(server_url: str, name: str) -> bool:
    with admin_connection(server_url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return cursor.fetchone() is not None


def recreate_database(server_url: str, name: str) -> None:
    drop_database(server_url, name)
    connection = admin_connection(server_url)
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()


def drop_database(server_url: str, name: str) -> None:
    connection = admin_connection(server_url)
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    connection.close()


def key_path(database: str) -> Path:
    return ROOT / "var" / f"{database}.key"


def vrf_key_for(database: str) -> str:
    """The VRF key (SPEC §7), kept next to a kept database like the log key."""
    path = key_path(database).with_suffix(".vrf")
    if path.is_file():
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = base64.b64encode(os.urandom(32)).decode("ascii")
    path.write_text(text + "\n", encoding="ascii")
    return text


def key_for(database: str) -> str:
    """The log key, kept next to a kept database so that --reuse signs with the same key."""
    from carhistory_verifier import note

    path = key_path(database)
    if path.is_file():
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    signer = note.Signer.generate(os.environ.get("LEDGER_ORIGIN", "carhistory.localhost/log"))
    path.write_text(signer.key_string() + "\n", encoding="ascii")
    path.chmod(0o600)
    return signer.key_string()


# --- the log ------------------------------------------------------------------------------


def build_log(*, entries: int, vins: int, batch: int = 20_000) -> None:
    from django.db import connection

    from ledger.services import enqueue_entries, integrate_pending

    signers = create_sources()
    cars = [vin_for(number) for number in range(vins)]
    rounds = max(entries // vins, 1)
    started = time.perf_counter()
    pending: list[dict] = []
    written = 0
    rng = random.Random(9162)
    odometers = [rng.randint(0, 3000) for _ in cars]
    for round_number in range(rounds):
        for car, vin in enumerate(cars):
            odometers[car] += rng.randint(3000, 25000)
            pending.append(event(vin, round_number, odometers[car], signers, rng))
            if len(pending) == batch:
                enqueue_entries(entries=pending)
                integrate_pending(batch_size=batch, wait=True)
                written += len(pending)
                pending = []
                rate = written / (time.perf_counter() - started)
                print(f"  {written:,} entries, {rate:,.0f}/s", end="\r", flush=True)
    if pending:
        enqueue_entries(entries=pending)
        integrate_pending(batch_size=batch, wait=True)
        written += len(pending)
    print(f"built {written:,} entries in {time.perf_counter() - started:,.0f} s")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def create_sources() -> dict:
    from carhistory_verifier import note
    from django.utils import timezone

    from carhistory.sources.models import Organisation
    from carhistory.sources.services import register_signing_key

    signers = {}
    for slug, kind in SOURCES:
        organisation = Organisation.objects.create(
            slug=slug, name=slug.replace("-", " ").title(), kind=kind, status="approved",
            decided_at=timezone.now(),
        )  # fmt: skip
        signer = note.Signer.generate(slug)
        register_signing_key(organisation=organisation, verifier_key=signer.verifier().key_string())
        signers.setdefault(kind, []).append((slug, signer))
    return signers


def vin_for(number: int) -> str:
    from carhistory.vin import expected_check_digit

    body = f"{WMIS[number % len(WMIS)]}2A21K0E3{number:06d}"
    check = expected_check_digit(body)
    return body[:8] + check + body[9:]


def event(vin: str, round_number: int, km: int, signers: dict, rng: random.Random) -> dict:
    from carhistory_verifier import entry as entry_format

    year = 2014 + round_number
    date = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    kind, type, facts, odometer_km = {
        0: ("oem", "manufacture", {"plant": "Changchun", "built_on": f"{year}-01-02",
                                   "model": "Sagitar", "model_year": year}, None),
        1: ("registry", "registration", {"event": "first_registration", "region": "SH",
                                         "use": rng.choice(["private", "rental"])}, None),
        4: ("insurer", "accident", {"severity": "minor", "airbags_deployed": False,
                                    "damage_areas": ["front"]}, None),
        6: ("inspection_station", "inspection", {"result": "pass"}, km),
        7: ("registry", "registration", {"event": "ownership_transfer", "region": "BJ",
                                         "use": "private"}, None),
    }.get(round_number, (rng.choice(["dealer_4s", "repair_shop"]), "service",
                         {"items": ["oil", "filter"]}, km))  # fmt: skip
    slug, signer = rng.choice(signers[kind])
    entry = {
        "v": 1,
        "type": type,
        "vin": vin,
        "occurred_at": date,
        "facts": facts,
        "source": slug,
        "source_key": signer.verifier().key_string(),
        "private_commitment": None,
        "submitted_at": f"{date}T09:00:00Z",
        "nonce": entry_format.new_nonce(),
    }
    if odometer_km is not None:
        entry["odometer_km"] = odometer_km
    statement = entry_format.statement_bytes(entry)
    entry["source_sig"] = entry_format.b64encode(signer.sign(statement))
    return entry


def stored_vins() -> list[str]:
    from ledger.models import Entry

    # The cars of the first round: one manufacture entry each, in VIN order.
    query = Entry.objects.filter(type="manufacture").order_by("index").values_list("vin", flat=True)
    return list(query)


def log_size() -> int:
    from ledger.selectors import tree_size

    return tree_size()


# --- the load -----------------------------------------------------------------------------


def load_test(
    options: argparse.Namespace, vins: list[str]
) -> tuple[list[dict[str, dict]], dict[str, float]]:
    """One table of results per round, and the CPU a request of each path costs. Each round
    measures the three paths back to back, so that their ratio holds even when other work on
    the machine comes and goes."""
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    shuffled = vins[:]
    random.Random(8785).shuffle(shuffled)
    # A thousand cars asked for again and again; the rest each asked for once at most.
    warm_count = min(1000, len(shuffled) // 10)
    warm, cold = shuffled[:warm_count], shuffled[warm_count:]
    # Each round asks for VINs no earlier round asked for.
    cold_per_round = len(cold) // options.rounds
    options.port = options.port or free_port()
    base = f"http://127.0.0.1:{options.port}"
    rounds = []
    with tempfile.TemporaryDirectory() as work, serve(options) as server:
        work = Path(work)
        (work / "paths.lua").write_text(WRK_SCRIPT, encoding="utf-8")
        flush_cache()
        warm_up(base, warm)
        for round_number in range(options.rounds):
            unseen = cold[round_number * cold_per_round : (round_number + 1) * cold_per_round]
            rounds.append(
                {
                    "floor (trivial Django view)": wrk(options, base, work, ["/bench/floor"]),
                    "report, uncached": wrk(
                        options, base, work, [report_path(vin) for vin in unseen]
                    ),
                    "report, cached": wrk(options, base, work, [report_path(v) for v in warm]),
                }
            )
        cpu = cpu_per_request(options, base, work, server, warm) if options.cpu_seconds else {}
    return rounds, cpu


def cpu_per_request(
    options: argparse.Namespace, base: str, work: Path, server: subprocess.Popen, warm: list[str]
) -> dict[str, float]:
    """Milliseconds of CPU (user + system) the gunicorn workers spend on one request of each
    path, at one connection so that nothing waits for a CPU: what a path costs, whatever else
    runs on the machine."""
    paths = {
        "floor (trivial Django view)": ["/bench/floor"],
        "VIN check (DRF, no I/O)": [f"/api/v1/vins/{warm[0]}/check"],
        "report, cached": [report_path(vin) for vin in warm],
    }
    single = argparse.Namespace(
        **{**vars(options), "connections": 1, "duration": options.cpu_seconds}
    )
    costs = {}
    for name, listing in paths.items():
        before = workers_cpu_seconds(server.pid)
        result = wrk(single, base, work, listing, threads=1)
        costs[name] = (workers_cpu_seconds(server.pid) - before) * 1000 / result["requests"]
    return costs


def workers_cpu_seconds(master: int) -> float:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    ticks = 0
    for child in children:
        # /proc/<pid>/stat: utime and stime are fields 14 and 15, after the parenthesised name.
        fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def warm_up(base: str, vins: list[str]) -> None:
    for number, vin in enumerate(vins):
        client = {"X-Forwarded-For": f"10.78.{number // 256}.{number % 256}"}
        request = urllib.request.Request(base + report_path(vin), headers=client)
        urllib.request.urlopen(request, timeout=30).read()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def report_path(vin: str) -> str:
    return f"/api/v1/vehicles/{vin}/report"


def flush_cache() -> None:
    from django.core.cache import cache

    cache.clear()


class serve:
    """gunicorn with `options.workers` sync workers, for the `with` block."""

    def __init__(self, options: argparse.Namespace) -> None:
        self.options = options

    def __enter__(self) -> subprocess.Popen:
        environment = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="report_settings",
            BENCH_CACHE_BACKEND=self.options.cache_backend,
        )
        command = [
            str(Path(PYTHON).parent / "gunicorn"),
            "carhistory.wsgi",
            "--pythonpath", f"{ROOT},{ROOT / 'bench'}",
            "--workers", str(self.options.workers),
            "--threads", str(self.options.threads),
            "--bind", f"127.0.0.1:{self.options.port}",
            "--log-level", "warning",
        ]  # fmt: skip
        self.process = subprocess.Popen(command, cwd=ROOT, env=environment)
        deadline = time.monotonic() + 30
        url = f"http://127.0.0.1:{self.options.port}/bench/floor"
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).read()
                return self.process
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.process.kill()
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.3)

    def __exit__(self, *exc) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


def wrk(
    options: argparse.Namespace, base: str, work: Path, paths: list[str], threads: int = 2
) -> dict:
    listing = work / "list.txt"
    listing.write_text("\n".join(paths) + "\n", encoding="utf-8")
    command = [
        "wrk", "--latency", "-t", str(threads), "-c", str(options.connections),
        "-d", f"{options.duration}s", "-s", str(work / "paths.lua"), base,
        "--", str(listing), str(threads),
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    result["rps"] = result["requests"] / result["seconds"]
    # The machine's 1-minute load average at the end of the run: other work on the same cores
    # makes every blocking round trip wait for a CPU, so say how busy it was.
    result["load"] = os.getloadavg()[0]
    return result


def print_results(rounds: list[dict[str, dict]]) -> None:
    for results in rounds:
        print_round(results)


def print_cpu(cpu: dict[str, float]) -> None:
    if cpu:
        print("\n| path | CPU ms a request |\n|---|---:|")
    for name, milliseconds in cpu.items():
        print(f"| {name} | {milliseconds:.2f} |")


def print_round(results: dict[str, dict]) -> None:
    floor = next(iter(results.values()))["rps"]
    print("\n| path | p50 ms | p99 ms | requests/s | of floor | non-2xx | load |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, result in results.items():
        print(
            f"| {name} | {result['p50_us'] / 1000:.1f} | {result['p99_us'] / 1000:.1f} | "
            f"{result['rps']:,.0f} | {result['rps'] / floor:.0%} | "
            f"{result['non_2xx'] + result['socket_errors']} | {result['load']:.1f} |"
        )


def run(command: list[str]) -> None:
    subprocess.run(command, cwd=ROOT, check=True)


if __name__ == "__main__":
    sys.exit(main())

"""`carhistory-submit send` benchmark: signed records per second, end to end, and a rerun.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/carhistory \
    REDIS_URL=redis://127.0.0.1:6379/3 .venv/bin/python bench/submit.py \
        [--records 100000] [--cars N] [--parallel 2] [--workers 2] [--port 8766]

The production arrangement: gunicorn (gthread workers, DEBUG=0) on a throw-away PostgreSQL database
(`carhistory_bench_submit`, or BENCH_DATABASE), a real Celery worker integrating on Redis. The
source is set up as a source would do it: an API key from the site, then `carhistory-submit
keygen` and `register` over HTTP. The file holds `--records` unsigned service records in JSON
Lines, with no `external_id` (the tool derives them), for `--cars` different cars: by default
every record is a new car, the worst case (each new VIN costs the site a VRF proof); `--cars
10000` with 100,000 records is the ten-records-per-car file the other benchmarks use. The clock
runs from starting `carhistory-submit send` to the moment the last record is integrated in the
log, so it includes everything the tool does (reading, canonical JSON, Ed25519 signing, HTTP)
and everything the site does.

Then the same file is sent twice more: once with its result file (the tool skips every
record) and once without (every record goes to the server again, which recognises each
derived `external_id`). Neither may log anything: the log's size must not move.

Beside the rate it prints the CPU seconds per record each part spent during the first send
(`cpu_by_role.py`): with two CPUs the rate can be at most 2 / (their sum) records/s.
"""

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _harness import (
    GUNICORN_THREADS,
    ROOT,
    VENV_BIN,
    production_site,
    server_environment,
    set_up_django,
)
from benchdb import create_database, drop_database
from cpu_by_role import CpuByRole

# Another name lets two runs share one PostgreSQL server without dropping each other's database.
BENCH_DATABASE = os.environ.get("BENCH_DATABASE", "carhistory_bench_submit")
SUBMIT = str(VENV_BIN / "carhistory-submit")
TARGET_RECORDS_PER_SECOND = 2_000


def make_source() -> str:
    """An approved repair shop with an API key; the raw key."""
    from carhistory.sources.models import Organisation
    from carhistory.sources.services import create_api_key, set_source_status

    organisation = Organisation.objects.create(
        slug="bench-repair-shop", name="Bench Repair Shop", kind="repair_shop"
    )
    set_source_status(organisation=organisation, status="approved", reason="benchmark")
    return create_api_key(organisation=organisation, label="bench")[1]


def write_records(path: Path, count: int, cars: int) -> None:
    """`count` service records over `cars` cars (record n is car n mod `cars`, so the cars take
    turns, each visit later and 50 km further on), a quarter with private details."""
    from carhistory.vin import expected_check_digit

    first_day = datetime.date(2023, 1, 1)
    with path.open("w", encoding="utf-8") as lines:
        for number in range(count):
            car, visit = number % cars, number // cars
            body = f"LSVAU2180N2{car:06d}"
            day = (car + visit * 7) % 600
            record = {
                "vin": body[:8] + expected_check_digit(body) + body[9:],
                "type": "service",
                "occurred_at": (first_day + datetime.timedelta(days=day)).isoformat(),
                "odometer_km": 10_000 + car + visit * 50,
                "facts": {"items": ["oil", "oil filter"]},
            }
            if number % 4 == 0:
                record["private"] = {"invoice": f"INV-{number}", "total_cny": 680}
            lines.write(json.dumps(record) + "\n")


def submit(*arguments: str) -> tuple[int, str]:
    finished = subprocess.run(
        [SUBMIT, *arguments], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return finished.returncode, finished.stderr.strip().splitlines()[-2:]


def logged_records() -> int:
    # Not the log's size: the sequencer adds entries of its own (vin_index) per checkpoint.
    from ledger.models import Entry

    return Entry.objects.filter(type="service").count()


def wait_for_log(count: int) -> None:
    while logged_records() < count:
        time.sleep(0.05)


@dataclass
class Figures:
    size_before: int = 0
    load_before: tuple = ()
    load_after: tuple = ()
    sent_seconds: float = 0.0  # until the tool exits: all accepted
    integrated_seconds: float = 0.0  # until the last record is in the log
    size_after_first: int = 0
    rerun: tuple = ()  # (seconds, exit status, last lines of stderr)
    resend: tuple = ()
    size_after_reruns: int = 0
    cpu_seconds: dict = field(default_factory=dict)  # by role, during the first send


def tool_cpu_seconds() -> float:
    """CPU seconds of this process's finished children: the tool, run by `submit`."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def send_three_times(site, raw_key: str, work: Path, args: argparse.Namespace) -> Figures:
    """Set the source up as a source would, send the file, then send it twice more: with its
    result file, and without it."""
    url, records_count = site.url, args.records
    figures = Figures()
    token, key, records = work / "token", work / "shop.key", work / "records.jsonl"
    token.write_text(raw_key)
    subprocess.run(
        [SUBMIT, "keygen", "bench-repair-shop", "--out", str(key)],
        check=True,
        capture_output=True,
    )
    access = ["--url", url, "--token", f"@{token}", "--key", f"@{key}"]
    subprocess.run([SUBMIT, "register", *access], check=True, capture_output=True)
    write_records(records, records_count, args.cars or records_count)
    figures.size_before = logged_records()
    figures.load_before = os.getloadavg()

    cpu = CpuByRole({"web": site.server.pid, "worker": site.worker.pid}, BENCH_DATABASE)
    tool_before = tool_cpu_seconds()
    started = time.perf_counter()
    status, tail = submit("send", str(records), *access, "--parallel", str(args.parallel))
    figures.sent_seconds = time.perf_counter() - started
    tool_seconds = tool_cpu_seconds() - tool_before
    wait_for_log(figures.size_before + records_count)
    figures.integrated_seconds = time.perf_counter() - started
    figures.load_after = os.getloadavg()
    figures.cpu_seconds = {"tool": tool_seconds, **cpu.stop()}
    if status != 0:
        raise SystemExit(f"send exited {status}: {tail}")
    figures.size_after_first = logged_records()

    started = time.perf_counter()
    status, tail = submit("send", str(records), *access)
    figures.rerun = (time.perf_counter() - started, status, tail)
    (work / "records.jsonl.results.jsonl").unlink()
    started = time.perf_counter()
    status, tail = submit("send", str(records), *access)
    figures.resend = (time.perf_counter() - started, status, tail)
    time.sleep(3)  # give the worker time to integrate anything a resend had queued
    figures.size_after_reruns = logged_records()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--cars", type=int, help="different cars (default: one per record)")
    parser.add_argument("--parallel", type=int, default=2, help="the tool's batches in flight")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()

    base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/carhistory")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/3")
    environment = server_environment(create_database(base_url, BENCH_DATABASE), redis_url)
    environment["CACHE_KEY_PREFIX"] = "bench-submit"
    set_up_django(environment)
    raw_key = make_source()
    work = Path(tempfile.mkdtemp(prefix="bench-submit-"))
    try:
        with production_site(environment, port=args.port, workers=args.workers) as site:
            figures = send_three_times(site, raw_key, work, args)
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(base_url, BENCH_DATABASE)

    def load(values):
        return ", ".join(f"{value:.1f}" for value in values)

    accepted = args.records / figures.sent_seconds
    integrated = args.records / figures.integrated_seconds
    grew = figures.size_after_reruns != figures.size_after_first
    rerun_seconds, rerun_status, rerun_tail = figures.rerun
    resend_seconds, resend_status, resend_tail = figures.resend
    cars = args.cars or args.records
    cpu_ms = {role: seconds * 1000 / args.records for role, seconds in figures.cpu_seconds.items()}
    cpu_total = sum(cpu_ms.values())
    verdict = "met" if integrated >= TARGET_RECORDS_PER_SECOND else "MISSED"
    print(
        f"{args.records:,} records over {cars:,} cars, {args.workers} gunicorn workers of "
        f"{GUNICORN_THREADS} threads, "
        f"1 Celery worker, the tool with {args.parallel} batches in flight, {os.cpu_count()} "
        f"CPUs; load average {load(figures.load_before)} before, {load(figures.load_after)} after",
        f"  send, until all accepted:   {figures.sent_seconds:7.1f} s  {accepted:8,.0f} records/s",
        f"  send, until all integrated: {figures.integrated_seconds:7.1f} s  "
        f"{integrated:8,.0f} records/s (target >= {TARGET_RECORDS_PER_SECOND:,}: {verdict})",
        "  CPU per record during the send: "
        + ", ".join(f"{role} {value:.2f} ms" for role, value in sorted(cpu_ms.items()))
        + f"; {cpu_total:.2f} ms in all, at most {(os.cpu_count() or 1) * 1000 / cpu_total:,.0f}"
        " records/s on these CPUs",
        f"  rerun with the result file: {rerun_seconds:7.1f} s, exit {rerun_status}: {rerun_tail}",
        f"  rerun without it:           {resend_seconds:7.1f} s, exit {resend_status}: "
        f"{resend_tail}",
        f"  service entries in the log: {figures.size_before:,} before, "
        f"{figures.size_after_first:,} after the send, {figures.size_after_reruns:,} after both "
        f"reruns ({'GREW' if grew else 'nothing new'})",
        sep="\n",
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()

"""`carhistory-submit send` benchmark: signed records per second, end to end, and a rerun.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/carhistory \
    REDIS_URL=redis://127.0.0.1:6379/3 .venv/bin/python bench/submit.py \
        [--records 100000] [--workers 2] [--port 8766]

The production arrangement: gunicorn (sync workers, DEBUG=0) on a throw-away PostgreSQL
database (`carhistory_bench_submit`), a real Celery worker integrating on Redis. The source is
set up as a source would do it: an API key from the site, then `carhistory-submit keygen` and
`register` over HTTP. The file holds `--records` unsigned service records in JSON Lines, with no
`external_id` (the tool derives them). The clock runs from starting `carhistory-submit send`
to the moment the last record is integrated in the log, so it includes everything the tool
does (reading, canonical JSON, Ed25519 signing, HTTP) and everything the site does.

Then the same file is sent twice more: once with its result file (the tool skips every
record) and once without (every record goes to the server again, which recognises each
derived `external_id`). Neither may log anything: the log's size must not move.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _harness import ROOT, VENV_BIN, production_site, server_environment, set_up_django
from benchdb import create_database, drop_database

BENCH_DATABASE = "carhistory_bench_submit"
SUBMIT = str(VENV_BIN / "carhistory-submit")


def make_source() -> str:
    """An approved repair shop with an API key; the raw key."""
    from carhistory.sources.models import Organisation
    from carhistory.sources.services import create_api_key, set_source_status

    organisation = Organisation.objects.create(
        slug="bench-repair-shop", name="Bench Repair Shop", kind="repair_shop"
    )
    set_source_status(organisation=organisation, status="approved", reason="benchmark")
    return create_api_key(organisation=organisation, label="bench")[1]


def write_records(path: Path, count: int) -> None:
    """Service records for `count` different cars, a quarter with private details."""
    from carhistory.vin import expected_check_digit

    first_day = datetime.date(2023, 1, 1)
    with path.open("w", encoding="utf-8") as lines:
        for number in range(count):
            body = f"LSVAU2180N2{number:06d}"
            record = {
                "vin": body[:8] + expected_check_digit(body) + body[9:],
                "type": "service",
                "occurred_at": (first_day + datetime.timedelta(days=number % 600)).isoformat(),
                "odometer_km": 10_000 + number,
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


def send_three_times(url: str, raw_key: str, work: Path, records_count: int) -> Figures:
    """Set the source up as a source would, send the file, then send it twice more: with its
    result file, and without it."""
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
    write_records(records, records_count)
    figures.size_before = logged_records()
    figures.load_before = os.getloadavg()

    started = time.perf_counter()
    status, tail = submit("send", str(records), *access)
    figures.sent_seconds = time.perf_counter() - started
    wait_for_log(figures.size_before + records_count)
    figures.integrated_seconds = time.perf_counter() - started
    figures.load_after = os.getloadavg()
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
            figures = send_three_times(site.url, raw_key, work, args.records)
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
    print(
        f"{args.records:,} records, {args.workers} gunicorn workers, 1 Celery worker, "
        f"{os.cpu_count()} CPUs; load average {load(figures.load_before)} before, "
        f"{load(figures.load_after)} after",
        f"  send, until all accepted:   {figures.sent_seconds:7.1f} s  {accepted:8,.0f} records/s",
        f"  send, until all integrated: {figures.integrated_seconds:7.1f} s  "
        f"{integrated:8,.0f} records/s",
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

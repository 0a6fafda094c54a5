"""Ingestion benchmark: events per second through the batch API, end to end.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/carhistory \
    REDIS_URL=redis://127.0.0.1:6379/3 .venv/bin/python bench/ingest.py \
        [--events 10000] [--batch 1000] [--runs 3] [--workers 2]

It creates its own PostgreSQL database (`carhistory_bench_ingest`), starts gunicorn (gthread
workers) and a real Celery worker on the Redis db REDIS_URL names, and drops the database at the
end. One run: a source that signs its own events posts `--events` of them in batches of
`--batch` over HTTP from two client threads; the clock stops when the last one is integrated
in the log. Everything a real submission costs is inside: bearer-key authentication, the rate
limit, validation, the Ed25519 signature check, private commitments, the pending and submission
rows, and the sequencer. The signing and JSON encoding a source's own software does happen
before the clock starts.

Then the same number of ready entries go straight to `ledger.services.enqueue_entries` and
`integrate_pending`: the ledger-only rate, which no API on top of it can beat. Figures go to
stdout; record them in docs/PERFORMANCE.md with the machine they came from.
"""

import argparse
import datetime
import json
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from _harness import (  # witnessing.py takes these from here too
    ROOT,  # noqa: F401
    VENV_BIN,  # noqa: F401
    production_site,
    server_environment,
    set_up_django,
    start,  # noqa: F401
    stop,  # noqa: F401
    wait_until_serving,  # noqa: F401
)
from benchdb import create_database, drop_database

# Another name lets two runs share one PostgreSQL server without dropping each other's database.
BENCH_DATABASE = os.environ.get("BENCH_DATABASE", "carhistory_bench_ingest")


def make_source():
    """An approved dealer with an API key and its own registered signing key."""
    from carhistory_verifier import note

    from carhistory.sources.models import Organisation
    from carhistory.sources.services import (
        create_api_key,
        register_signing_key,
        set_source_status,
    )

    organisation = Organisation.objects.create(
        slug="bench-dealer", name="Bench Dealer", kind="dealer_4s"
    )
    set_source_status(organisation=organisation, status="approved", reason="benchmark")
    organisation.refresh_from_db()
    signer = note.Signer.generate(organisation.slug)
    register_signing_key(organisation=organisation, verifier_key=signer.verifier().key_string())
    raw_key = create_api_key(organisation=organisation, label="bench")[1]
    return organisation, signer, raw_key


def make_events(organisation, signer, run: int, count: int) -> list[dict]:
    """Signed service events for `count` different cars, a quarter with private details."""
    from carhistory_verifier.entry import b64encode

    from carhistory.sources.services import submission_statement
    from carhistory.vin import expected_check_digit

    source_key = signer.verifier().key_string()
    first_day = datetime.date(2023, 1, 1)
    events = []
    for number in range(count):
        body = f"LSVAU2180N{run}{number:06d}"[:17]
        vin = body[:8] + expected_check_digit(body) + body[9:]
        event = {
            "vin": vin,
            "type": "service",
            "occurred_at": (first_day + datetime.timedelta(days=number % 600)).isoformat(),
            "odometer_km": 10_000 + number,
            "facts": {"items": ["oil", "oil filter"]},
            "external_id": f"run{run}-ro-{number}",
        }
        if number % 4 == 0:
            event["private"] = {"invoice": f"INV-{run}-{number}", "total_cny": 680}
        statement = submission_statement(
            organisation=organisation, payload=event, source_key=source_key
        )
        event["source_sig"] = b64encode(signer.sign(statement))
        events.append(event)
    return events


def integrated_count() -> int:
    from ledger.models import Entry

    return Entry.objects.count()


def http_run(url: str, raw_key: str, bodies: list[bytes], expected_total: int) -> float:
    """Post every batch from two client threads; seconds until all are integrated."""
    headers = {"Authorization": f"Bearer {raw_key}", "Content-Type": "application/json"}
    sessions = [requests.Session(), requests.Session()]

    def post(position: int) -> None:
        session = sessions[position % len(sessions)]
        response = session.post(
            f"{url}/api/v1/events/batch", data=bodies[position], headers=headers
        )
        if response.status_code != 202:
            raise SystemExit(f"batch {position}: {response.status_code} {response.text[:300]}")
        refused = [r for r in response.json()["results"] if r["status"] == "rejected"]
        if refused:
            raise SystemExit(f"batch {position}: refused {refused[:2]}")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(sessions)) as pool:
        list(pool.map(post, range(len(bodies))))
    while integrated_count() < expected_total:
        time.sleep(0.02)
    return time.perf_counter() - started


def ledger_only_run(entries: list[dict]) -> float:
    from django.db import transaction

    from ledger.services import enqueue_entries, integrate_pending

    started = time.perf_counter()
    with transaction.atomic():
        enqueue_entries(entries=entries)
    integrate_pending(wait=True)
    return time.perf_counter() - started


def ready_entries(signer, run: int, count: int) -> list[dict]:
    """Complete, source-signed entries (SPEC §2) shaped like the API's, for the ledger-only
    rate."""
    from carhistory_verifier import entry as entry_format

    source_key = signer.verifier().key_string()
    submitted_at = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    entries = []
    for number in range(count):
        entry = {
            "v": 1,
            "type": "service",
            "vin": f"LSVAU2180N{run}{number:06d}"[:17],
            "occurred_at": "2024-05-03",
            "odometer_km": 10_000 + number,
            "facts": {"items": ["oil", "oil filter"]},
            "source": signer.name,
            "source_key": source_key,
        }
        entry["source_sig"] = entry_format.b64encode(
            signer.sign(entry_format.statement_bytes(entry))
        )
        entry["private_commitment"] = None
        entry["submitted_at"] = submitted_at
        entry["nonce"] = entry_format.new_nonce()
        entries.append(entry)
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/carhistory")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/3")
    environment = server_environment(create_database(base_url, BENCH_DATABASE), redis_url)
    set_up_django(environment)
    organisation, signer, raw_key = make_source()
    http_rates, ledger_rates = [], []
    load_before = os.getloadavg()
    try:
        with production_site(environment, port=args.port, workers=args.workers) as site:
            for run in range(args.runs):
                events = make_events(organisation, signer, run, args.events)
                bodies = [
                    json.dumps({"events": events[first : first + args.batch]}).encode()
                    for first in range(0, len(events), args.batch)
                ]
                seconds = http_run(site.url, raw_key, bodies, integrated_count() + args.events)
                http_rates.append(args.events / seconds)
                print(
                    f"run {run + 1}: HTTP end to end {args.events / seconds:8.0f} events/s",
                    flush=True,
                )
            site.stop_worker()
            for run in range(args.runs):
                entries = ready_entries(signer, 100 + run, args.events)
                seconds = ledger_only_run(entries)
                ledger_rates.append(args.events / seconds)
                print(
                    f"run {run + 1}: ledger only     {args.events / seconds:8.0f} events/s",
                    flush=True,
                )
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(base_url, BENCH_DATABASE)

    http, ledger = statistics.median(http_rates), statistics.median(ledger_rates)

    # The machine may be shared: the load says how much of it the benchmark had.
    def load(values) -> str:
        return ", ".join(f"{value:.1f}" for value in values)

    print(
        f"\n{args.events} events in batches of {args.batch}, {args.workers} gunicorn workers, "
        f"{os.cpu_count()} CPUs (load average {load(load_before)} at the start, "
        f"{load(os.getloadavg())} at the end), median of {args.runs} runs:\n"
        f"  HTTP end to end: {http:8.0f} events/s\n"
        f"  ledger only:     {ledger:8.0f} events/s\n"
        f"  ratio:           {http / ledger:8.2f}"
    )


if __name__ == "__main__":
    main()

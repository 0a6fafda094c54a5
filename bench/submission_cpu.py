"""CPU time the web process spends per submission, in-process: no HTTP, no other process.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/carhistory \\
    REDIS_URL=redis://127.0.0.1:6379/3 .venv/bin/python bench/submission_cpu.py \\
        [--batches 5] [--singles 300] [--profile]

Django's test client posts, through the whole middleware and DRF stack with DEBUG=0, signed
`service` events as `carhistory-submit` sends them: `--batches` batches of 1,000 events for new
cars (each needs its VRF proof), the same batches again (a resend: every item a duplicate),
batches of new events for those same cars (their VRF proofs are stored: the common case), and
`--singles` single `POST /api/v1/events`. `--profile` prints, for one more batch of known cars
(what is left beside the VRF proofs), its SQL statements with their times and a cProfile of the
request by CPU time. CPU time (`time.process_time`) rather than the wall clock, so other work on
a shared machine moves the figures less; the database's own CPU is not in it. The Celery hop
after each commit is left out (nothing would consume it). It creates and drops its own
database, `carhistory_bench_submission_cpu` (BENCH_DATABASE to change it).
"""

import argparse
import base64
import json
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchdb import create_database, drop_database

BENCH_DATABASE = os.environ.get("BENCH_DATABASE", "carhistory_bench_submission_cpu")


def set_up(database_url: str, redis_url: str) -> None:
    from carhistory_verifier import note

    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CACHE_KEY_PREFIX": "bench-submission-cpu",
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "LEDGER_SIGNING_KEY": note.Signer.generate("carhistory.localhost/log").key_string(),
            "LEDGER_VRF_KEY": base64.b64encode(secrets.token_bytes(32)).decode("ascii"),
            "ALLOWED_HOSTS": "127.0.0.1",
            "THROTTLE_SOURCE": "100000/minute",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "carhistory.settings",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import ledger.services

    # Measure the web process alone: the claim, not the broker publish.
    ledger.services.tasks.integrate_pending.apply_async = lambda countdown: None


def signed_bodies(count: int, first: int, signer, *, visit: int = 0) -> list[dict]:
    """Signed bodies of `count` cars from number `first`; each `visit` is a later record of
    the same cars, 50 km further on."""
    from carhistory_verifier.submit.statement import RecordSigner

    from carhistory.vin import expected_check_digit

    record_signer = RecordSigner(signer)
    bodies = []
    for number in range(first, first + count):
        serial = f"LSVAU2180N2{number:06d}"
        record = {
            "vin": serial[:8] + expected_check_digit(serial) + serial[9:],
            "type": "service",
            "occurred_at": "2024-05-03",
            "odometer_km": 10_000 + number + visit * 50,
            "facts": {"items": ["oil", "oil filter"]},
        }
        if number % 4 == 0:
            record["private"] = {"invoice": f"INV-{number}", "total_cny": 680}
        bodies.append(record_signer.signed_payload(record))
    return bodies


def cpu_ms(client, path: str, body: bytes, headers: dict) -> float:
    started = time.process_time()
    response = client.post(path, body, content_type="application/json", **headers)
    spent = (time.process_time() - started) * 1000
    if response.status_code != 202:
        raise SystemExit(f"{path}: {response.status_code} {response.content[:300]!r}")
    return spent


def backend_cpu_seconds() -> float:
    """CPU time so far of the PostgreSQL backend serving this process (on this machine)."""
    from cpu_by_role import cpu_seconds, stat_fields
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cpu_seconds(stat_fields(cursor.fetchone()[0]))


def print_profile(client, path: str, bodies: list[bytes], headers: dict) -> None:
    """The SQL of the first request (with each statement's time) and a cProfile by CPU time
    of all of them: one batch, or many single events (one is too short to profile)."""
    import cProfile
    import pstats

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    profile = cProfile.Profile(time.process_time)
    with CaptureQueriesContext(connection) as queries:
        profile.runcall(cpu_ms, client, path, bodies[0], headers)
    print(f"{len(queries.captured_queries)} statements:")
    for query in queries.captured_queries:
        print(f"  {float(query['time']) * 1000:7.1f} ms  {query['sql'][:120]}")
    for body in bodies[1:]:
        profile.runcall(cpu_ms, client, path, body, headers)
    print(f"cProfile of {len(bodies)} requests to {path}:")
    pstats.Stats(profile).sort_stats("cumulative").print_stats(60)
    pstats.Stats(profile).sort_stats("tottime").print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--singles", type=int, default=300)
    parser.add_argument("--profile", action="store_true", help="queries and cProfile, once")
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/carhistory")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/3")
    set_up(create_database(base_url, BENCH_DATABASE), redis_url)
    load_before = os.getloadavg()
    try:
        from carhistory_verifier import note
        from django.test import Client

        from carhistory.sources.models import Organisation
        from carhistory.sources.services import (
            create_api_key,
            register_signing_key,
            set_source_status,
        )

        shop = Organisation.objects.create(slug="cpu-shop", name="CPU shop", kind="repair_shop")
        set_source_status(organisation=shop, status="approved", reason="benchmark")
        signer = note.Signer.generate(shop.slug)
        register_signing_key(organisation=shop, verifier_key=signer.verifier().key_string())
        headers = {
            "HTTP_AUTHORIZATION": f"Bearer {create_api_key(organisation=shop, label='b')[1]}"
        }
        client = Client(HTTP_HOST="127.0.0.1")
        batches = [
            json.dumps({"events": signed_bodies(1000, 1000 * n, signer)}).encode()
            for n in range(args.batches + 1 if args.batches else 0)
        ]
        singles = [
            json.dumps(body).encode() for body in signed_bodies(args.singles + 20, 900_000, signer)
        ]
        # The first of each warms caches and connections, and is not counted.
        new = [cpu_ms(client, "/api/v1/events/batch", body, headers) for body in batches][1:]
        resent = [cpu_ms(client, "/api/v1/events/batch", body, headers) for body in batches][1:]
        known = [
            cpu_ms(client, "/api/v1/events/batch", body, headers)
            for body in (
                json.dumps({"events": signed_bodies(1000, 1000 * n, signer, visit=1)}).encode()
                for n in range(1, args.batches + 1)
            )
        ]
        database_before = backend_cpu_seconds()
        single = [cpu_ms(client, "/api/v1/events", body, headers) for body in singles][20:]
        database_single = (backend_cpu_seconds() - database_before) * 1000 / len(singles)
        if args.profile and args.batches:
            body = json.dumps({"events": signed_bodies(1000, 1000, signer, visit=2)}).encode()
            print_profile(client, "/api/v1/events/batch", [body], headers)
        if args.profile and args.singles:
            # New events of cars the singles above logged: their VRF proofs are stored.
            bodies = signed_bodies(args.singles, 900_000, signer, visit=1)
            print_profile(
                client, "/api/v1/events", [json.dumps(b).encode() for b in bodies], headers
            )
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(base_url, BENCH_DATABASE)

    def load(values) -> str:
        return ", ".join(f"{value:.1f}" for value in values)

    def runs(values) -> str:
        return ", ".join(f"{value:.0f}" for value in values)

    print(
        f"CPU time of the web process, medians; load average {load(load_before)} at the start, "
        f"{load(os.getloadavg())} at the end",
        *(  # --batches 0: single events only
            [
                f"  batch of 1,000 new:      {statistics.median(new):7.0f} ms "
                f"({statistics.median(new) / 1000:.2f} ms an event; runs: {runs(new)})",
                f"  batch of 1,000 resent:   {statistics.median(resent):7.0f} ms",
                f"  batch of 1,000, cars known: {statistics.median(known):4.0f} ms "
                f"({statistics.median(known) / 1000:.2f} ms an event; runs: {runs(known)})",
            ]
            if new
            else []
        ),
        f"  single event:            {statistics.median(single):7.2f} ms; PostgreSQL's backend "
        f"{database_single:.2f} ms (mean)",
        sep="\n",
    )


if __name__ == "__main__":
    main()

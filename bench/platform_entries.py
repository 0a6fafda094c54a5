"""A moderator's (or a source's key registration) write of a platform entry: how long the request
spends on it now that it only enqueues, against the former way that also ran the sequencer
inside the request (`append_platform_entry`: enqueue, then `integrate_pending(wait=True)`).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/carhistory .venv/bin/python \\
        bench/platform_entries.py [--backlog 5000] [--rounds 7]

It creates its own PostgreSQL database (`carhistory_platform_bench`, or BENCH_DATABASE),
migrates the ledger into it, fills a log of `--log` entries, and drops it at the end. Each
round measures both ways on the same log, alternating: once with nothing else pending, and once
with `--backlog` sources' events pending (what arrives in a few seconds of busy submissions),
which the former way had to integrate before the moderator's page could answer. Medians, their
ratio, and the load average at start and end go to stdout.
"""

import argparse
import os
import statistics
import time

from _harness import configure_django, fill_log, load_average, migrate_ledger, service_entry
from benchdb import create_database, drop_database

BENCH_DATABASE = os.environ.get("BENCH_DATABASE", "carhistory_platform_bench")
VINS = 200  # few VINs: their VRF keys are made once, as for cars already in the log


def source_event(number: int) -> dict:
    return service_entry(number, f"LSVAU2180N{number % VINS:07d}")


def correction(number: int) -> dict:
    return {
        "type": "correction",
        "vin": f"LSVAU2180N{number % VINS:07d}",
        "facts": {"corrects": number, "reason": "typing error", "odometer_km": 15_200},
    }


def timed_write(platform_entry: dict, *, integrate_in_request: bool) -> float:
    """Seconds for the request's part: one transaction that enqueues the platform entry and,
    the former way, runs the sequencer before answering."""
    from django.db import transaction

    from ledger import services

    started = time.perf_counter()
    with transaction.atomic():
        services.enqueue_platform_entry(**platform_entry)
        if integrate_in_request:
            services.integrate_pending(wait=True)
    return time.perf_counter() - started


def pend(count: int, first: int) -> None:
    from django.db import transaction

    from ledger import services

    if count:
        with transaction.atomic():
            services.enqueue_entries(entries=[source_event(first + n) for n in range(count)])


def measure(*, backlog: int, rounds: int, first: int) -> dict[str, list[float]]:
    from ledger import services

    times: dict[str, list[float]] = {"former": [], "now": []}
    for round_number in range(rounds):
        # Alternate which way goes first, so a drift in the machine's load favours neither.
        ways = ("former", "now") if round_number % 2 == 0 else ("now", "former")
        for way in ways:
            pend(backlog, first)
            first += backlog
            times[way].append(
                timed_write(correction(round_number), integrate_in_request=way == "former")
            )
            services.integrate_pending(wait=True)  # the worker's part, not the request's
    return times


def report(label: str, times: dict[str, list[float]]) -> None:
    former = statistics.median(times["former"])
    now = statistics.median(times["now"])
    print(
        f"{label}: request's write median {now * 1000:.1f} ms now, "
        f"{former * 1000:.1f} ms the former way (integrating in the request): "
        f"{former / now:.0f}x faster"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=int, default=50_000, help="entries in the log first")
    parser.add_argument("--backlog", type=int, default=5_000, help="events pending meanwhile")
    parser.add_argument("--rounds", type=int, default=7)
    arguments = parser.parse_args()

    server_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/carhistory")
    url = create_database(server_url, BENCH_DATABASE)
    try:
        configure_django(url)
        migrate_ledger()
        print(f"load average at start: {load_average()}")
        fill_log(arguments.log, source_event)
        print(f"log of {arguments.log:,} entries over {VINS} VINs")
        report("nothing else pending", measure(backlog=0, rounds=arguments.rounds, first=0))
        report(
            f"{arguments.backlog:,} sources' events pending",
            measure(backlog=arguments.backlog, rounds=arguments.rounds, first=arguments.log),
        )
        print(f"load average at end: {load_average()}")
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(server_url, BENCH_DATABASE)


if __name__ == "__main__":
    main()

"""Where one sequencer batch spends its time, on a log already holding many entries and VINs.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/carhistory .venv/bin/python \
        bench/sequencer_profile.py [--entries 500000] [--vins 100000] [--batches 3] [--no-map]

It creates its own PostgreSQL database (`carhistory_sequencer_profile`, or BENCH_DATABASE) and
drops it at the end. The log is filled with the real enqueue and sequencer (entries spread at
random over the VINs, as in bench/vin_index.py), then `--batches` more batches of
LEDGER_BATCH_SIZE entries are enqueued and integrated one by one under cProfile. It prints the
wall time of each profiled batch, then the sequencer's own functions by cumulative time and the
costliest calls by their own time, per batch. cProfile slows Python code by roughly a third, so
read the shares, not the absolute times. `--no-map` profiles the sequencer with the map update
replaced by a constant, as bench/vin_index.py's run without the map.
"""

import argparse
import cProfile
import io
import os
import pstats
import random
import time

from _harness import (
    configure_django,
    fill_log,
    load_average,
    map_left_out,
    migrate_ledger,
    service_entry,
)
from benchdb import create_database, drop_database

BENCH_DATABASE = os.environ.get("BENCH_DATABASE", "carhistory_sequencer_profile")


def vin_of(number: int) -> str:
    return f"LSVAU2180N{number:07d}"


def profile_batches(entries: int, vins: int, batches: int) -> None:
    from django.conf import settings

    random.seed(1)

    def entry_for(number: int) -> dict:
        return service_entry(number, vin_of(random.randrange(vins)))

    started = time.perf_counter()
    fill_log(entries, entry_for, chunk=50_000)
    print(
        f"filled {entries} entries over {vins} VINs in {time.perf_counter() - started:.0f} s, "
        f"load {load_average()}",
        flush=True,
    )
    profiler = cProfile.Profile()
    batch = settings.LEDGER_BATCH_SIZE
    for number in range(batches):
        first = entries + number * batch
        profiler.enable()
        times = fill_log(batch, lambda offset, first=first: entry_for(first + offset))
        profiler.disable()
        print(
            f"batch {number + 1}: {batch} entries integrated in {times.integrate_seconds:.3f} s "
            f"under the profiler ({times.integrate_rate:.0f} entries/s), load {load_average()}",
            flush=True,
        )
    for order, pattern, count in [
        ("cumulative", "ledger/|carhistory_verifier/|psycopg2|copy_expert|execute", 30),
        ("tottime", "", 20),
    ]:
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        # Per batch, not summed over all of them.
        stats.total_tt /= batches
        for key, (calls, primitive, own, cumulative, callers) in list(stats.stats.items()):
            stats.stats[key] = (calls, primitive, own / batches, cumulative / batches, callers)
        restrictions = (pattern, count) if pattern else (count,)
        stats.sort_stats(order).print_stats(*restrictions)
        print(f"--- by {order} time, seconds per batch (enqueue included) ---")
        print(text.getvalue().split("\n", 6)[-1], flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=500_000)
    parser.add_argument("--vins", type=int, default=100_000)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--no-map", action="store_true")
    arguments = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        parser.error("set DATABASE_URL to a PostgreSQL server (postgres://...)")
    print(f"sequencer profile, {os.cpu_count()} CPUs, load average {load_average()}", flush=True)
    configure_django(create_database(url, BENCH_DATABASE))
    migrate_ledger()
    try:
        if arguments.no_map:
            from ledger import vin_index

            vin_index.update_map = map_left_out
            vin_index.ensure_vin_keys = lambda vins: None
        profile_batches(arguments.entries, arguments.vins, arguments.batches)
        print(f"load average at the end {load_average()}")
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(url, BENCH_DATABASE)


if __name__ == "__main__":
    main()

"""CPU one sequencer batch costs with what follows it: the pushes to two witnesses and the
watch lookup, in-process, with this process's CPU and its PostgreSQL backend's.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/carhistory \\
    REDIS_URL=redis://127.0.0.1:6379/3 .venv/bin/python bench/batch_overhead.py \\
        [--entries 20] [--batches 40] [--statements | --profile] [--port 8776]

Under a stream of single submissions the sequencer signs a checkpoint every
LEDGER_BATCH_INTERVAL_SECONDS, and each costs a fixed amount whatever its size; this measures
that amount. Tasks run eagerly (no broker, no Celery overhead), so every batch is followed by a
push to each witness and a watch lookup, as if nothing were coalesced or paced. Two
`carhistory-witness serve` processes answer on `--port` and the next. `--statements` prints the
backend CPU of each kind of statement (from /proc/PID/schedstat, in nanoseconds); `--profile`
a cProfile of the batches by CPU time. It creates and drops its own database,
`carhistory_bench_batch_overhead` (BENCH_DATABASE to change it).
"""

import argparse
import collections
import cProfile
import os
import pstats
import statistics
import tempfile
import time
from pathlib import Path

from _harness import server_environment, service_entry, set_up_django, stop
from benchdb import create_database, drop_database
from witnessing import start_witnesses

BENCH_DATABASE = os.environ.get("BENCH_DATABASE", "carhistory_bench_batch_overhead")
WARM_UP_BATCHES = 5


def backend_nanoseconds(pid: int) -> int:
    """CPU time the process has run, in nanoseconds (finer than /proc/PID/stat's ticks)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=20, help="entries a batch")
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--statements", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--port", type=int, default=8776, help="the witnesses' (and the next)")
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/carhistory")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/3")
    environment = server_environment(create_database(base_url, BENCH_DATABASE), redis_url)
    environment |= {"CELERY_TASK_ALWAYS_EAGER": "1", "CACHE_KEY_PREFIX": "bench-batch-overhead"}
    set_up_django(environment)
    from carhistory_verifier import note
    from django.core.cache import cache
    from django.db import connection, transaction

    from ledger import sequencer, services

    witnesses = []
    spent: collections.Counter = collections.Counter()
    count: collections.Counter = collections.Counter()
    profile = cProfile.Profile(time.process_time)
    load_before = os.getloadavg()
    try:
        with tempfile.TemporaryDirectory() as directory:
            log_key = note.Signer.from_key_string(environment["LEDGER_SIGNING_KEY"]).verifier()
            witnesses = start_witnesses(Path(directory), log_key.key_string(), args.port)
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                (pid,) = cursor.fetchone()

            def timed_statement(execute, sql, params, many, context):
                before = backend_nanoseconds(pid)
                try:
                    return execute(sql, params, many, context)
                finally:
                    kind = " ".join(sql.split())[:90]
                    spent[kind] += backend_nanoseconds(pid) - before
                    count[kind] += 1

            process_ms, backend_ms = [], []
            for batch in range(WARM_UP_BATCHES + args.batches):
                # The commit queues no run: the batch is integrated below, under the clock.
                cache.set(sequencer.INTEGRATION_QUEUED_KEY, 1, 30)
                first = batch * args.entries
                with transaction.atomic():
                    services.enqueue_entries(
                        entries=[
                            service_entry(number, f"LSVAU2180N{number:07d}")
                            for number in range(first, first + args.entries)
                        ]
                    )
                measured = batch >= WARM_UP_BATCHES
                started, backend_started = time.process_time(), backend_nanoseconds(pid)
                if measured and args.statements:
                    with connection.execute_wrapper(timed_statement):
                        sequencer.integrate_pending()
                elif measured and args.profile:
                    profile.runcall(sequencer.integrate_pending)
                else:
                    sequencer.integrate_pending()
                if measured:
                    process_ms.append((time.process_time() - started) * 1000)
                    backend_ms.append((backend_nanoseconds(pid) - backend_started) / 1e6)
    finally:
        for process in witnesses:
            stop(process)
        from django.db import connections

        connections.close_all()
        drop_database(base_url, BENCH_DATABASE)

    for kind, nanoseconds in spent.most_common(30):
        print(
            f"  {nanoseconds / args.batches / 1e6:7.3f} ms a batch  "
            f"{count[kind] / args.batches:4.1f} x  {kind}"
        )
    if args.profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(r"ledger|carhistory", 40)
    print(
        f"{args.entries} entries a batch, medians of {args.batches}: this process "
        f"{statistics.median(process_ms):.2f} ms, its PostgreSQL backend "
        f"{statistics.median(backend_ms):.2f} ms; load average "
        + ", ".join(f"{value:.1f}" for value in load_before)
        + " at the start, "
        + ", ".join(f"{value:.1f}" for value in os.getloadavg())
        + " at the end"
    )


if __name__ == "__main__":
    main()

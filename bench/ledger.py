"""Ledger benchmark: how fast the log appends, serves proofs, and hashes, against floors.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/carhistory .venv/bin/python bench/ledger.py \
        [--entries 1000000] [--proofs 2000]

It creates its own PostgreSQL database (`carhistory_bench` on the server DATABASE_URL names),
migrates the ledger into it, and drops it at the end. Figures go to stdout; record them in
docs/PERFORMANCE.md with the machine they came from.

1. Append: enqueue entries in chunks of LEDGER_BATCH_SIZE and integrate each chunk with the
   real sequencer (`ledger.services`), then COPY the same Entry rows into a twin table: the
   floor no sequencer can beat.
2. Proofs: random inclusion and consistency proofs at the final size through the selectors.
3. Audit: `manage.py verify_ledger` over the whole log, its speed and memory.
4. In memory: the root of N leaves with `carhistory_verifier.merkle`, with pymerkle, and the
   hashlib floor.
"""

import argparse
import hashlib
import io
import os
import random
import statistics
import subprocess
import sys
import time

from _harness import (
    ROOT,
    FillTimes,
    configure_django,
    fill_log,
    load_average,
    migrate_ledger,
    percentile,
    service_entry,
)
from benchdb import create_database, drop_database

# Another name lets two runs share one PostgreSQL server without dropping each other's database.
BENCH_DATABASE = os.environ.get("BENCH_DATABASE", "carhistory_bench")
REPORT_EVERY = 100_000


def make_entry(number: int) -> dict:
    return service_entry(number, f"LSVAU2180N{number % 10_000_000:07d}")


def bench_append(total: int) -> float:
    window = {"start": time.perf_counter(), "done": 0, "rates": []}

    def report_window(done: int, times: FillTimes) -> None:
        # Every REPORT_EVERY entries and at the end: the rate of the window just finished.
        if done - window["done"] < REPORT_EVERY and done < total:
            return
        now = time.perf_counter()
        window["rates"].append((done - window["done"]) / (now - window["start"]))
        print(
            f"  {done:>9} entries: {window['rates'][-1]:8.0f} entries/s "
            "(window, including building the entries)",
            flush=True,
        )
        window.update(start=now, done=done)

    times = fill_log(total, make_entry, after_chunk=report_window)
    print(
        f"append: enqueue {times.enqueue_rate:8.0f} entries/s, "
        f"integrate {times.integrate_rate:8.0f} entries/s "
        f"(median batch {times.median_chunk_rate:.0f}), "
        f"enqueue+integrate "
        f"{total / (times.enqueue_seconds + times.integrate_seconds):8.0f} entries/s"
    )
    print(
        f"        slowest window {min(window['rates']):.0f} entries/s, "
        f"median window {statistics.median(window['rates']):.0f} entries/s"
    )
    return times.integrate_rate


def bench_copy_floor(total: int, integrate_rate: float) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        raw = cursor.connection
        buffer = io.BytesIO()
        raw.cursor().copy_expert("COPY ledger_entry TO STDOUT (FORMAT binary)", buffer)
        cursor.execute("CREATE TABLE bench_entry_copy (LIKE ledger_entry INCLUDING ALL)")
        raw.commit()
        buffer.seek(0)
        started = time.perf_counter()
        raw.cursor().copy_expert("COPY bench_entry_copy FROM STDIN (FORMAT binary)", buffer)
        raw.commit()
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_entry_copy")
        raw.commit()
    copy_rate = total / seconds
    print(
        f"floor:  COPY of the same Entry rows {copy_rate:8.0f} rows/s; the sequencer "
        f"integrates at {integrate_rate / copy_rate:.2f}x that"
    )


def bench_proofs(total: int, count: int) -> None:
    from ledger import selectors

    generator = random.Random(9162)  # a fixed seed: the same proofs on every run
    for name, ask in [
        (
            "inclusion",
            lambda: selectors.inclusion_proof(index=generator.randrange(total), tree_size=total),
        ),
        (
            "consistency",
            lambda: selectors.consistency_proof(
                first=generator.randrange(1, total + 1), second=total
            ),
        ),
    ]:
        timings = []
        for _ in range(count):
            started = time.perf_counter()
            ask()
            timings.append((time.perf_counter() - started) * 1000)
        print(
            f"proofs: {name:<11} at {total} entries: median {statistics.median(timings):.2f} "
            f"ms, p99 {percentile(timings, 0.99):.2f} ms over {count}"
        )


VERIFY_AND_REPORT_PEAK = """
import django
from django.core.management import call_command

django.setup()
call_command("verify_ledger")
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(int(peak.split()[1]) // 1024)
"""


def bench_verify(total: int) -> None:
    # A fresh process, and its own high-water mark (VmHWM): ru_maxrss of a child would carry
    # the size of this process at fork.
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", VERIFY_AND_REPORT_PEAK],
        cwd=ROOT,
        env=os.environ,
        check=True,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    peak = completed.stdout.split()[-1]
    print(
        f"audit:  verify_ledger over {total} entries: {seconds:.1f} s "
        f"({total / seconds:.0f} entries/s, process start included), peak RSS {peak} MiB"
    )


def best_of(repeats: int, work) -> float:
    """The fastest of a few runs: other work on a shared machine only ever adds time."""
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return min(timings)


def bench_in_memory(total: int) -> None:
    from carhistory_verifier import merkle
    from pymerkle import InmemoryTree

    entries = [os.urandom(200) for _ in range(total)]
    root = merkle.root_from_leaf_hashes([merkle.leaf_hash(entry) for entry in entries])
    ours = best_of(3, lambda: merkle.root_from_leaf_hashes([merkle.leaf_hash(e) for e in entries]))

    tree = InmemoryTree(algorithm="sha256")
    started = time.perf_counter()
    tree.append_entries(entries)
    theirs_root = tree.get_root()
    theirs = time.perf_counter() - started
    assert theirs_root == root, "pymerkle and carhistory_verifier.merkle disagree on the root"

    sha256 = hashlib.sha256
    pair = bytes(65)

    def floor_work() -> None:
        for entry in entries:
            sha256(b"\x00" + entry).digest()
            sha256(pair).digest()

    floor = best_of(3, floor_work)
    print(
        f"memory: root of {total} leaves (best of 3): our merkle {ours:.2f} s, pymerkle "
        f"{theirs:.2f} s ({theirs / ours:.1f}x slower), hashlib floor (2n SHA-256) {floor:.2f} s; "
        f"carhistory_verifier.merkle is {ours / floor:.2f}x the floor"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=2000)
    arguments = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        parser.error("set DATABASE_URL to a PostgreSQL server (postgres://...)")
    print(
        f"ledger benchmark: {arguments.entries} entries, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, load average {load_average()}",
        flush=True,
    )
    configure_django(create_database(url, BENCH_DATABASE))
    migrate_ledger()
    try:
        integrate_rate = bench_append(arguments.entries)
        bench_copy_floor(arguments.entries, integrate_rate)
        bench_proofs(arguments.entries, arguments.proofs)
        bench_verify(arguments.entries)
        bench_in_memory(arguments.entries)
        print(f"load average at the end {load_average()} (other work on the machine)")
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(url, BENCH_DATABASE)


if __name__ == "__main__":
    main()

"""Mirror benchmark: catch-up from empty, an incremental sync, a run with nothing new, and the
restore of the whole log from the mirror's store.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/carhistory .venv/bin/python bench/mirror.py \
        [--entries 1000000] [--incremental 1000]

It creates two throw-away databases on the server DATABASE_URL names (`carhistory_mirror_bench`
for the log, `carhistory_mirror_bench_restore` for the restore; `--database NAME` picks other
names, so that two runs on one server do not drop each other's) and drops them at the end. The
log is grown with the real sequencer, served by gunicorn (2 workers), and mirrored by
`carhistory-mirror sync` in its own process; the restore is `manage.py restore_from_mirror`.
Each figure is printed with the load average at its start and end.
"""

import argparse
import base64
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _harness import service_entry
from benchdb import create_database, drop_database

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable
LOG_DATABASE = "carhistory_mirror_bench"
CHUNK = 5_000
# Issue 11's target, and the figure of the third session's end-of-day reruns (docs/PERFORMANCE.md,
# 3 December 2026 14:46-15:35 UTC, 1,000,200 entries, load 1.4 to 2.5), before the fourth
# session's cuts to the mirror's own CPU.
TARGET_ENTRIES_PER_SECOND = 20_000
BEFORE_ENTRIES_PER_SECOND = 18_628


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_tree_cpu(pid: int) -> float:
    """CPU seconds of a running process and its children (gunicorn's master and workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command name: state, ppid, ..., utime (14th field) and stime (15th).
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def grow(first: int, count: int, vins: int) -> None:
    from ledger import services

    for start in range(first, first + count, CHUNK):
        end = min(first + count, start + CHUNK)
        services.enqueue_entries(
            entries=[
                service_entry(number, f"LSVAU2180N{number % vins:07d}")
                for number in range(start, end)
            ]
        )
        services.integrate_pending(wait=True)


def run(command: list[str], env: dict) -> tuple[str, float]:
    started = time.perf_counter()
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=3600
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{command[2:4]} failed: {result.stderr}")
    return result.stdout, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--incremental", type=int, default=1_000)
    parser.add_argument("--vins", type=int, default=100_000, help="distinct VINs in the log")
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port (default: any free)")
    parser.add_argument(
        "--database", default=LOG_DATABASE, help="the log's database (the restore's: NAME_restore)"
    )
    arguments = parser.parse_args()
    server = os.environ["DATABASE_URL"]
    work = Path(tempfile.mkdtemp(prefix="mirror-bench-"))
    log_database, restore_database = arguments.database, f"{arguments.database}_restore"
    log_url = create_database(server, log_database)
    restore_url = create_database(server, restore_database)
    from carhistory_verifier import note

    signer = note.Signer.generate("carhistory.localhost/log")
    (work / "log.key").write_text(signer.key_string(), encoding="ascii")
    (work / "log.pub").write_text(signer.verifier().key_string(), encoding="ascii")
    env = {
        **os.environ,
        "DATABASE_URL": log_url,
        "REDIS_URL": "",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "LEDGER_SIGNING_KEY": "",
        "LEDGER_SIGNING_KEY_FILE": str(work / "log.key"),
        "LEDGER_VRF_KEY": base64.b64encode(os.urandom(32)).decode("ascii"),
        # A throw-away log: verify_ledger must neither remember it in the checkout's state
        # nor compare it with what an earlier run remembered there.
        "LEDGER_AUDIT_STATE_FILE": str(work / "verified-checkpoint.json"),
    }
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carhistory.settings")
    import django

    django.setup()
    from django.core.management import call_command

    gunicorn = None
    try:
        call_command("migrate", verbosity=0)
        print(f"growing the log to {arguments.entries} entries (load {load()})", flush=True)
        started = time.perf_counter()
        grow(0, arguments.entries, arguments.vins)
        print(f"  grown in {time.perf_counter() - started:.0f}s (load {load()})", flush=True)

        mirror_keys = subprocess.run(
            [PYTHON, "-m", "carhistory_verifier.mirror.cli", "generate", "bench.example/mirror"],
            capture_output=True, text=True, check=True,
        ).stdout.splitlines()  # fmt: skip
        (work / "mirror.key").write_text(mirror_keys[0], encoding="ascii")
        token, _ = run([PYTHON, "manage.py", "add_mirror", "bench.example/mirror", "--key",
                        mirror_keys[1]], env)  # fmt: skip
        (work / "token").write_text(token.splitlines()[-1], encoding="ascii")
        port = arguments.port or free_port()
        gunicorn = subprocess.Popen(
            [PYTHON, "-m", "gunicorn", "carhistory.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/log/key", timeout=5).read()
                break
            except OSError:
                time.sleep(0.2)
        store = work / "mirror.sqlite3"
        sync = [
            PYTHON, "-m", "carhistory_verifier.mirror.cli", "sync",
            "--log", f"http://127.0.0.1:{port}", "--token", f"@{work / 'token'}",
            "--key", f"@{work / 'mirror.key'}", "--log-key", f"@{work / 'log.pub'}",
            "--store", str(store),
        ]  # fmt: skip

        before = load()
        client_before, server_before = children_cpu(), process_tree_cpu(gunicorn.pid)
        output, elapsed = run(sync, env)
        client_cpu = children_cpu() - client_before
        server_cpu = process_tree_cpu(gunicorn.pid) - server_before
        sent = re.search(r", (\d+) bytes, and (\d+) bytes of VRF proofs\)", output)
        transferred, proof_bytes = int(sent[1]), int(sent[2])
        fetched = int(re.search(r"fetched (\d+) entries", output)[1])
        rate = fetched / elapsed
        # The mirror's own process hashes, audits and stores every entry in order; its
        # worker processes check the VRF proofs. Which of them bounds the run shows here.
        main_cpu = float(re.search(r", ([\d.]+) CPU-seconds in this process", output)[1])
        print(
            f"catch-up from empty: {fetched} entries in {elapsed:.1f}s = {rate:,.0f} entries/s "
            f"verified and stored (target >= {TARGET_ENTRIES_PER_SECOND:,}/s: "
            f"{'met' if rate >= TARGET_ENTRIES_PER_SECOND else 'not met'}; "
            f"{rate / BEFORE_ENTRIES_PER_SECOND:.2f}x the {BEFORE_ENTRIES_PER_SECOND:,}/s "
            "of the third session's reruns, at 1M entries and load 1.4 to 2.5); "
            f"{transferred / fetched:.1f} bytes/entry of entries (gzip) and "
            f"{proof_bytes / fetched:.1f} of VRF proofs transferred; store "
            f"{store.stat().st_size / fetched:.0f} bytes/entry (load {before} -> "
            f"{load()})\n  CPU: mirror {client_cpu:.1f}s "
            f"({client_cpu / fetched * 1e6:.1f} us/entry: {main_cpu:.1f}s in its own process, "
            f"{client_cpu - main_cpu:.1f}s in its VRF check workers), gunicorn "
            f"{server_cpu:.1f}s ({server_cpu / fetched * 1e6:.1f} us/entry)",
            flush=True,
        )
        grow(arguments.entries, arguments.incremental, arguments.vins)
        before = load()
        output, elapsed = run(sync, env)
        print(
            f"incremental sync of {arguments.incremental} entries: {elapsed:.2f}s, process "
            f"start included (load {before} -> {load()})",
            flush=True,
        )
        before = load()
        output, elapsed = run(sync, env)
        print(f"sync with nothing new: {elapsed:.2f}s (load {before} -> {load()})", flush=True)
        gunicorn.terminate()
        gunicorn.wait()
        gunicorn = None

        restore_env = {**env, "DATABASE_URL": restore_url}
        run([PYTHON, "manage.py", "migrate", "-v", "0"], restore_env)
        before = load()
        total = arguments.entries + arguments.incremental
        cpu_before = children_cpu()
        output, elapsed = run([PYTHON, "manage.py", "restore_from_mirror", str(store)], restore_env)
        print(
            f"restore_from_mirror of {total} entries: {elapsed:.1f}s = {total / elapsed:,.0f} "
            f"entries/s, process start included, {children_cpu() - cpu_before:.1f} CPU-seconds "
            f"in the command (load {before} -> {load()})",
            flush=True,
        )
        before = load()
        output, elapsed = run([PYTHON, "manage.py", "verify_ledger"], restore_env)
        print(f"verify_ledger after restore: {elapsed:.1f}s, {output.strip()} (load {before})")
    finally:
        if gunicorn is not None:
            gunicorn.terminate()
            gunicorn.wait()
        from django.db import connections

        connections.close_all()
        drop_database(server, log_database)
        drop_database(server, restore_database)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Reliability benchmark: nothing accepted is lost or logged twice, whatever dies meanwhile.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/carhistory \
        .venv/bin/python bench/reliability.py [--batches 20] [--batch 100] [--redis-port 18810]

It creates its own PostgreSQL database (`carhistory_prod_bench_reliability`) and runs its own
redis-server on `--redis-port` (never the shared one), then a real Celery worker and beat, as
the README's production process list says. Submissions go through `submit_events` (what the API
calls) with an external_id each, and a submitter that meets an error retries the same batch, as
a source's software does. Three faults, one after the other:

- workers SIGKILLed: the worker is killed every couple of seconds, also inside the sequencer's
  transaction, and started again (the supervisor's job);
- a Redis outage: the redis-server is stopped for `--outage` seconds and started again;
- a PostgreSQL restart, as the site sees one: every connection to the database is terminated
  (`pg_terminate_backend`) several times; the shared server itself is never restarted.

For each: events accepted, integrated, lost (accepted, never integrated) and duplicated (one
event logged twice), and the time from the fault's end until nothing was pending. Figures go
to stdout with the load average; record them in docs/RELIABILITY.md.
"""

import argparse
import base64
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchdb import create_database, drop_database, run_on_server

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATABASE = "carhistory_prod_bench_reliability"
MAX_FAILURES_PER_BATCH = 600  # 0.2 s apart: two minutes
VENV_BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))


def environment(database_url: str, redis_url: str) -> dict[str, str]:
    from carhistory_verifier import note

    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "LEDGER_SIGNING_KEY": note.Signer.generate("carhistory.localhost/log").key_string(),
        # Every new VIN's VRF proof is computed at enqueue: without a key nothing is accepted.
        "LEDGER_VRF_KEY": base64.b64encode(secrets.token_bytes(32)).decode("ascii"),
        "LEDGER_BATCH_SIZE": "500",  # several sequencer transactions per batch of kills
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "carhistory.settings",
    }


class Processes:
    """redis-server, the worker and beat, started and stopped as a scenario needs."""

    def __init__(self, env: dict[str, str], redis_port: int, scratch: Path) -> None:
        self.env, self.redis_port, self.scratch = env, redis_port, scratch
        self.redis = self.worker = self.beat = None

    def start_redis(self) -> None:
        self.redis = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.scratch),
            ],
            stdout=subprocess.DEVNULL,
        )
        time.sleep(0.5)

    def start_worker(self) -> None:
        self.worker = subprocess.Popen(
            [
                str(VENV_BIN / "celery"),
                "-A",
                "carhistory",
                "worker",
                "-P",
                "solo",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=WARNING",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start_beat(self) -> None:
        self.beat = subprocess.Popen(
            [
                str(VENV_BIN / "celery"),
                "-A",
                "carhistory",
                "beat",
                "--loglevel=WARNING",
                "--schedule",
                str(self.scratch / "beat-schedule"),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    @staticmethod
    def kill(process, sig=signal.SIGKILL) -> None:
        if process is not None and process.poll() is None:
            process.send_signal(sig)
            process.wait(timeout=30)

    def stop_all(self) -> None:
        for process in (self.worker, self.beat, self.redis):
            self.kill(process, signal.SIGTERM)


def make_source():
    from carhistory.sources.services import apply_for_source, set_source_status

    organisation = apply_for_source(
        slug=f"bench-{secrets.token_hex(3)}", name="Reliability bench", kind="repair_shop"
    )
    set_source_status(organisation=organisation, status="approved", reason="bench")
    organisation.refresh_from_db()
    return organisation


def vin(serial: int) -> str:
    from carhistory.vin import expected_check_digit

    body = f"LSVAU2180N2{serial:06d}"
    return body[:8] + expected_check_digit(body) + body[9:]


class Submitter:
    """Submits numbered batches, retrying each until it is answered; counts what was accepted."""

    def __init__(self, organisation, scenario: str, batches: int, size: int) -> None:
        self.organisation, self.scenario = organisation, scenario
        self.batches, self.size = batches, size
        self.accepted: set[str] = set()
        self.retries = 0

    def payloads(self, batch: int) -> list[dict]:
        first = (hash(self.scenario) % 50 * 10_000 + batch * self.size) % 900_000
        return [
            {
                "vin": vin(first + offset),
                "type": "odometer",
                "occurred_at": "2024-03-01",
                "odometer_km": 1000 + offset,
                "external_id": f"{self.scenario}-{batch}-{offset}",
            }
            for offset in range(self.size)
        ]

    def run(self) -> None:
        from django.db import close_old_connections

        from carhistory.sources.services import submit_events

        for batch in range(self.batches):
            failures = 0
            while True:
                try:
                    results = submit_events(
                        organisation=self.organisation, payloads=self.payloads(batch)
                    )
                    break
                except Exception:
                    # A fault lasts seconds; an error that outlasts all of them is the
                    # benchmark's own (it once ran for half an hour without a VRF key).
                    failures += 1
                    if failures > MAX_FAILURES_PER_BATCH:
                        raise
                    self.retries += 1
                    close_old_connections()
                    from django.db import connection

                    connection.close()
                    time.sleep(0.2)
            for result in results:
                assert result.is_accepted, result.errors
                self.accepted.add(result.submission.external_id)
            time.sleep(0.05)


def pending_count() -> int:
    from django.db import connection

    connection.close()
    from ledger.models import PendingEntry

    return PendingEntry.objects.count()


def wait_until_integrated(timeout: float = 300) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if pending_count() == 0:
                return time.monotonic() - started
        except Exception:
            pass
        time.sleep(0.2)
    raise SystemExit("pending rows were never integrated")


def tally(scenario: str, accepted: set[str]) -> dict[str, int]:
    from carhistory.sources.models import Submission
    from ledger.models import Entry

    submissions = Submission.objects.filter(external_id__startswith=f"{scenario}-")
    pending_ids = list(submissions.values_list("pending_id", flat=True))
    entries = Entry.objects.filter(pending_id__in=pending_ids)
    logged = entries.count()
    distinct_vins = entries.values("vin").distinct().count()
    return {
        "accepted": len(accepted),
        "integrated": logged,
        "lost": len(accepted) - distinct_vins,
        "duplicated": logged - distinct_vins,
    }


def fault_worker_kills(processes: Processes, stop: threading.Event) -> None:
    while not stop.is_set():
        time.sleep(2.0)
        processes.kill(processes.worker)
        processes.start_worker()


def fault_redis_outage(processes: Processes, stop: threading.Event, seconds: float) -> None:
    time.sleep(2.0)
    processes.kill(processes.redis, signal.SIGTERM)
    time.sleep(seconds)
    processes.start_redis()


def fault_database_restart(database_url: str, stop: threading.Event) -> None:
    for _ in range(3):
        time.sleep(2.0)
        run_on_server(
            database_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{BENCH_DATABASE}' AND pid <> pg_backend_pid()",
        )


def run_scenario(name: str, fault, organisation, args) -> dict:
    submitter = Submitter(organisation, name, args.batches, args.batch)
    stop = threading.Event()
    faults = threading.Thread(target=fault, args=(stop,))
    faults.start()
    submitter.run()
    stop.set()
    faults.join()
    recovered = wait_until_integrated()
    figures = tally(name, submitter.accepted)
    figures["retries"] = submitter.retries
    figures["recovery_seconds"] = round(recovered, 1)
    figures["load_average"] = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--outage", type=float, default=10.0)
    parser.add_argument("--redis-port", type=int, default=18810)
    args = parser.parse_args()

    server_url = os.environ["DATABASE_URL"]
    database_url = create_database(server_url, BENCH_DATABASE)
    scratch = Path(tempfile.mkdtemp(prefix="carhistory-reliability-"))
    env = environment(database_url, f"redis://127.0.0.1:{args.redis_port}/0")
    processes = Processes(env, args.redis_port, scratch)
    os.environ.update(env)
    try:
        processes.start_redis()
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        organisation = make_source()
        processes.start_worker()
        processes.start_beat()
        scenarios = {
            "sigkill": lambda stop: fault_worker_kills(processes, stop),
            "redis": lambda stop: fault_redis_outage(processes, stop, args.outage),
            "postgres": lambda stop: fault_database_restart(server_url, stop),
        }
        print(f"{args.batches} batches of {args.batch} events per scenario")
        for name, fault in scenarios.items():
            figures = run_scenario(name, fault, organisation, args)
            print(name, " ".join(f"{key}={value}" for key, value in figures.items()), flush=True)
        call_command("verify_ledger", state=scratch / "verified.json")
    finally:
        processes.stop_all()
        from django.db import connections

        connections.close_all()
        drop_database(server_url, BENCH_DATABASE)


if __name__ == "__main__":
    main()

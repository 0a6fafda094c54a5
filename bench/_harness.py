"""What the benchmarks share: Django configured against a throw-away database with fresh keys,
SPEC §2 `service` entries, and filling the log through the real enqueue and sequencer; and
the production arrangement over HTTP (gunicorn, a real Celery worker) that bench/ingest.py
and bench/submit.py measure.

The scripts in bench/ import it by its bare name (Python puts a script's folder on sys.path);
it puts the project root there too, ahead of bench/, so that `ledger` is the app, not
bench/ledger.py.
"""

import base64
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def configure_django(
    database_url: str, *, signing_key: str | None = None, vrf_key: str | None = None
) -> None:
    """Point Django at `database_url` with the given log and VRF keys (new ones by default),
    no Redis, and the scheduled integration going to an in-memory broker (the benchmarks
    integrate themselves)."""
    from carhistory_verifier import note

    os.environ["DATABASE_URL"] = database_url
    os.environ.pop("REDIS_URL", None)
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0"
    os.environ["LEDGER_SIGNING_KEY"] = (
        signing_key
        or note.Signer.generate(
            os.environ.get("LEDGER_ORIGIN", "carhistory.localhost/log")
        ).key_string()
    )
    os.environ["LEDGER_VRF_KEY"] = vrf_key or base64.b64encode(os.urandom(32)).decode("ascii")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carhistory.settings")
    import django

    django.setup()


def migrate_ledger(*, fresh: bool = False) -> None:
    """Create the ledger's tables; `fresh` drops everything first (a new, empty log)."""
    from django.core.management import call_command
    from django.db import connection

    if fresh:
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    call_command("migrate", "ledger", verbosity=0, skip_checks=True)


def service_entry(number: int, vin: str) -> dict:
    """A SPEC §2 `service` entry of about 430 bytes of canonical JSON."""
    from carhistory_verifier.entry import new_nonce

    return {
        "v": 1,
        "type": "service",
        "vin": vin,
        "occurred_at": "2024-05-03",
        "odometer_km": number % 300_000,
        "facts": {"items": ["oil", "filter"]},
        "source": f"shop-{number % 500}",
        "source_key": "shop+1a2b3c4d+AXyzAXyzAXyzAXyzAXyzAXyzAXyzAXyzAXyzAXyzAXyzAXw=",
        "source_sig": "c2lnbmF0dXJl" * 7,
        "private_commitment": None,
        "submitted_at": "2024-05-03T09:12:44Z",
        "nonce": new_nonce(),
    }


@dataclass
class FillTimes:
    """Seconds spent enqueueing and integrating, overall and per chunk."""

    entries: int = 0
    enqueue_seconds: float = 0.0
    integrate_seconds: float = 0.0
    integrate_rates: list[float] = field(default_factory=list)  # entries/s of each chunk
    # CPU seconds of integrating: this process's, and its PostgreSQL backend's. Steadier than
    # the wall clock on a shared machine, and their sum is what the sequencer costs.
    integrate_cpu_seconds: float = 0.0
    integrate_database_cpu_seconds: float = 0.0

    @property
    def integrate_rate(self) -> float:
        return self.entries / self.integrate_seconds

    @property
    def enqueue_rate(self) -> float:
        return self.entries / self.enqueue_seconds

    @property
    def median_chunk_rate(self) -> float:
        return statistics.median(self.integrate_rates)

    @property
    def integrate_cpu_per_entry(self) -> tuple[float, float]:
        """Microseconds of CPU an entry integrated: (this process, its database backend)."""
        return (
            self.integrate_cpu_seconds / self.entries * 1e6,
            self.integrate_database_cpu_seconds / self.entries * 1e6,
        )


def database_backend_cpu_seconds() -> float:
    """CPU seconds used so far by this connection's PostgreSQL backend process, read from
    /proc (the server runs on this machine in every benchmark here)."""
    from cpu_by_role import cpu_seconds, stat_fields
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    return cpu_seconds(stat_fields(pid))


def fill_log(
    total: int,
    entry_for: Callable[[int], dict],
    *,
    chunk: int | None = None,
    after_chunk: Callable[[int, FillTimes], None] | None = None,
) -> FillTimes:
    """Append `total` entries (`entry_for(number)`) the way submissions arrive: enqueue a
    chunk (default LEDGER_BATCH_SIZE) in one transaction, then run the sequencer on it,
    timing the two apart. `after_chunk(done, times)` is called after each chunk."""
    from django.conf import settings
    from django.db import transaction

    from ledger import services

    chunk = chunk or settings.LEDGER_BATCH_SIZE
    times = FillTimes()
    for first in range(0, total, chunk):
        entries = [entry_for(number) for number in range(first, min(total, first + chunk))]
        started = time.perf_counter()
        with transaction.atomic():
            services.enqueue_entries(entries=entries)
        enqueued = time.perf_counter()
        cpu_before, database_before = time.process_time(), database_backend_cpu_seconds()
        services.integrate_pending()
        integrated = time.perf_counter()
        times.integrate_cpu_seconds += time.process_time() - cpu_before
        times.integrate_database_cpu_seconds += database_backend_cpu_seconds() - database_before
        times.entries += len(entries)
        times.enqueue_seconds += enqueued - started
        times.integrate_seconds += integrated - enqueued
        times.integrate_rates.append(len(entries) / (integrated - enqueued))
        if after_chunk is not None:
            after_chunk(first + len(entries), times)
    return times


def map_left_out(new_indexes: dict, *, alongside=None) -> bytes:
    """Stands in for `ledger.vin_index.update_map` in the runs without the VIN map: does what
    the sequencer hands it to do alongside (its entries' COPY) and commits to a constant."""
    if alongside is not None:
        alongside()
    return bytes(32)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def load_average() -> str:
    """The one-minute load average, for printing beside each figure."""
    return f"{os.getloadavg()[0]:.1f}"


# --- the production arrangement over HTTP: gunicorn and a real Celery worker -------------------

VENV_BIN = Path(sys.executable).parent


def server_environment(database_url: str, redis_url: str) -> dict[str, str]:
    """The environment of a production-like site (DEBUG=0, fresh keys) on `database_url`, its
    cache and broker on `redis_url`, with the source rate limit out of the way."""
    import secrets

    from carhistory_verifier import note

    origin = os.environ.get("LEDGER_ORIGIN", "carhistory.localhost/log")
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CACHE_KEY_PREFIX": "bench-ingest",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "DEBUG": "0",  # production settings: no query log, no demo keys
        "SECRET_KEY": secrets.token_urlsafe(50),
        "LEDGER_SIGNING_KEY": note.Signer.generate(origin).key_string(),
        "LEDGER_VRF_KEY": base64.b64encode(secrets.token_bytes(32)).decode("ascii"),
        "ALLOWED_HOSTS": "127.0.0.1",
        "THROTTLE_SOURCE": "100000/minute",  # measure the pipeline, not the rate limit
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "carhistory.settings",
    }


def set_up_django(environment: dict[str, str]) -> None:
    """Configure this process as the site (`server_environment`) and migrate its database."""
    os.environ.update(environment)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def start(command: list[str], environment: dict[str, str]) -> subprocess.Popen:
    """Start `command` in its own process group, so `stop` ends it with its children."""
    return subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, **environment}, start_new_session=True
    )


def stop(process: subprocess.Popen) -> None:
    """End `process` the way an operator would, then its group if anything is left.

    SIGTERM goes to the leader first: a Celery worker then finishes the task in hand (a
    sequencer run lingers up to a second for late submissions) and gunicorn its requests,
    instead of their children dying mid-task with a WorkerLostError in the log."""
    if process.poll() is None:
        process.terminate()
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
    # Whatever is left of its group: the leader if it hung, children it left behind.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def wait_until_serving(url: str) -> None:
    import requests

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}/log/key", timeout=10)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start within 60 s")


# Threads per gunicorn worker, as the README's production section runs it: a thread waiting on
# PostgreSQL or Redis lets another's request run (docs/PERFORMANCE.md, "Witnesses").
GUNICORN_THREADS = 4


@dataclass
class Site:
    """A running site: gunicorn (gthread workers) and one Celery worker integrating."""

    url: str
    server: subprocess.Popen
    worker: subprocess.Popen

    def stop_worker(self) -> None:
        stop(self.worker)


def purge_queued_tasks(environment: dict[str, str]) -> None:
    """Drop the tasks queued before the site starts (an interrupted run's, the setup's), and
    the mark of a queued sequencer run with them: left behind, it would keep every commit of
    the next half minute from queueing one (`ledger.sequencer.claim_integration_run`). Call
    after `set_up_django(environment)`."""
    from django.core.cache import cache

    from ledger.sequencer import INTEGRATION_QUEUED_KEY

    subprocess.run(
        [str(VENV_BIN / "celery"), "-A", "carhistory", "purge", "-f"],
        cwd=ROOT,
        env={**os.environ, **environment},
        check=True,
        capture_output=True,
    )
    cache.delete(INTEGRATION_QUEUED_KEY)


@contextmanager
def production_site(environment: dict[str, str], *, port: int, workers: int):
    """Run the site as the README's production section does (Celery worker, gunicorn with
    `workers` workers of GUNICORN_THREADS threads on 127.0.0.1:`port`) for the `with` block,
    then stop both.

    Tasks an earlier, interrupted run left queued are purged first."""
    celery = str(VENV_BIN / "celery")
    purge_queued_tasks(environment)
    worker = start(
        [celery, "-A", "carhistory", "worker", "--concurrency=1", "--loglevel=WARNING"],
        environment,
    )
    server = start(
        [
            str(VENV_BIN / "gunicorn"),
            "carhistory.wsgi:application",
            f"--workers={workers}",
            f"--threads={GUNICORN_THREADS}",
            f"--bind=127.0.0.1:{port}",
            "--timeout=120",  # a batch of 1,000 on a loaded machine takes seconds
            "--log-level=warning",
        ],
        environment,
    )
    site = Site(f"http://127.0.0.1:{port}", server, worker)
    try:
        wait_until_serving(site.url)
        yield site
    finally:
        stop(server)
        stop(worker)

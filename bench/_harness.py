"""What the benchmarks share: Django configured against a throw-away database with fresh keys,
SPEC §2 `service` entries, and filling the log through the real enqueue and sequencer.

The scripts in bench/ import it by its bare name (Python puts a script's folder on sys.path);
it puts the project root there too, ahead of bench/, so that `ledger` is the app, not
bench/ledger.py.
"""

import base64
import os
import statistics
import sys
import time
from collections.abc import Callable
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

    @property
    def integrate_rate(self) -> float:
        return self.entries / self.integrate_seconds

    @property
    def enqueue_rate(self) -> float:
        return self.entries / self.enqueue_seconds

    @property
    def median_chunk_rate(self) -> float:
        return statistics.median(self.integrate_rates)


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
        services.integrate_pending()
        integrated = time.perf_counter()
        times.entries += len(entries)
        times.enqueue_seconds += enqueued - started
        times.integrate_seconds += integrated - enqueued
        times.integrate_rates.append(len(entries) / (integrated - enqueued))
        if after_chunk is not None:
            after_chunk(first + len(entries), times)
    return times


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def load_average() -> str:
    """The one-minute load average, for printing beside each figure."""
    return f"{os.getloadavg()[0]:.1f}"

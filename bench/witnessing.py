"""Witnessing benchmark: time from a source's `POST /api/v1/events` to a checkpoint that
includes the event and is cosigned by both of two local witnesses.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/carhistory \
    REDIS_URL=redis://127.0.0.1:6379/3 .venv/bin/python bench/witnessing.py \
        [--rates 10,200] [--seconds 10] [--workers 2] [--threads 4] [--port 8766] \
        [--database carhistory_bench_witnessing]

The real arrangement: its own PostgreSQL database (`carhistory_bench_witnessing`, dropped at
the end), gunicorn, a Celery worker (integration and the pushes to witnesses), and two
`carhistory-witness serve` processes registered with `add_witness`. For each rate, single
signed events are posted open loop (event i leaves at i / rate seconds, whatever the answers
before it did) for `--seconds`; afterwards the database says, for each event, its index and the
first moment both witnesses' cosignatures on a checkpoint covering that index were stored. The
signing and JSON encoding a source does happen before the clock starts. The CPU an event of
each part (gunicorn, the Celery worker, the witnesses, and the PostgreSQL backends of the
benchmark's database) comes from bench/cpu_by_role.py.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from _harness import GUNICORN_THREADS, purge_queued_tasks
from benchdb import create_database, drop_database
from cpu_by_role import CpuByRole
from ingest import (
    ROOT,
    VENV_BIN,
    make_events,
    make_source,
    server_environment,
    set_up_django,
    start,
    stop,
    wait_until_serving,
)

BENCH_DATABASE = "carhistory_bench_witnessing"
TARGET_P99_SECONDS = 2.0
# Reuse a keep-alive connection only while it is younger than this: gunicorn's own limit is 2 s.
KEEP_ALIVE_SECONDS = 1.0


def start_witnesses(directory: Path, log_key: str, first_port: int) -> list[subprocess.Popen]:
    """Two witnesses trusting the log, registered with it, on `first_port` and the next."""
    from carhistory_verifier import note

    from ledger.witnessing import add_witness

    (directory / "log.pub").write_text(log_key + "\n")
    processes = []
    for port, name in enumerate(("registry.example/w", "insurers.example/w"), start=first_port):
        key = note.CosignatureSigner.generate(name)
        slug = name.split(".")[0]
        (directory / f"{slug}.key").write_text(key.key_string() + "\n")
        process = subprocess.Popen(
            [str(VENV_BIN / "carhistory-witness"), "serve", "--listen", f"127.0.0.1:{port}",
             "--key", f"@{directory / f'{slug}.key'}", "--log-key", f"@{directory / 'log.pub'}",
             "--state", str(directory / f"{slug}.db")],
            stdout=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        if "serving" not in process.stdout.readline():
            # A port taken by another run: leave no witness of ours behind.
            for started in [*processes, process]:
                stop(started)
            raise SystemExit(f"a witness could not listen on 127.0.0.1:{port}")
        add_witness(verifier_key=key.verifier().key_string(), url=f"http://127.0.0.1:{port}")
        processes.append(process)
    return processes


@dataclass
class Sending:
    """What the client did: each submission's id and the moment its POST left, and how the
    answers came back."""

    sent: dict[str, float]
    answer_seconds: list[float]  # POST to its answer
    answered_at: list[float]  # when each answer came, in order
    behind_schedule: float  # the latest a POST left after its planned moment, in seconds
    connections: int  # TCP connections opened


def post_open_loop(url: str, raw_key: str, bodies: list[bytes], rate: float) -> Sending:
    """Post body i at i / rate seconds from now, whatever the answers before it did.

    One asyncio task per POST over a pool of keep-alive connections (a new one whenever every
    open one is busy), written on raw streams: `requests` in threads cost about a millisecond
    of client CPU per POST and the GIL besides, on the machine the server runs on.
    """
    return asyncio.run(_post_open_loop(urlsplit(url), raw_key, bodies, rate))


async def _post_open_loop(url, raw_key: str, bodies: list[bytes], rate: float) -> Sending:
    head = (
        f"POST /api/v1/events HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Authorization: Bearer {raw_key}\r\nContent-Type: application/json\r\n"
    ).encode()
    # Open connections not in use, with when each fell idle.
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
    sending = Sending({}, [], [], 0.0, 0)
    start_at = time.time() + 0.5

    async def connection() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while idle:
            reader, writer, since = idle.pop()
            # gunicorn closes a keep-alive connection idle for 2 s (its --keep-alive): a POST
            # written into one that is closing would be lost.
            if time.time() - since < KEEP_ALIVE_SECONDS:
                return reader, writer
            writer.close()
        sending.connections += 1
        return await asyncio.open_connection(url.hostname, url.port)

    async def post(position: int) -> None:
        planned = start_at + position / rate
        await asyncio.sleep(max(0.0, planned - time.time()))
        reader, writer = await connection()
        leaving = time.time()
        sending.behind_schedule = max(sending.behind_schedule, leaving - planned)
        body = bodies[position]
        writer.write(head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        status, headers, answer = await asyncio.wait_for(_read_response(reader), timeout=120)
        sending.answered_at.append(time.time())
        sending.answer_seconds.append(sending.answered_at[-1] - leaving)
        if status not in (200, 201, 202):
            raise SystemExit(f"event {position}: {status} {answer[:200]!r}")
        sending.sent[json.loads(answer)["id"]] = leaving
        # Sync gunicorn workers close after each answer; gthread workers keep the connection.
        if headers.get("connection", "").lower() == "close":
            writer.close()
        else:
            idle.append((reader, writer, time.time()))

    await asyncio.gather(*(post(position) for position in range(len(bodies))))
    for _reader, writer, _since in idle:
        writer.close()
    return sending


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    status_line, *header_lines = (
        (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    )
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


def witnessed_latencies(
    sent: dict[str, float], witnesses: int, timeout: float
) -> tuple[list[float], list[float]]:
    """Seconds from each event's POST to the first checkpoint covering it that every witness
    has cosigned (as stored by the log), and to its integration in the log."""
    from carhistory.sources.models import Submission
    from ledger.models import Checkpoint, Cosignature, Entry

    deadline = time.time() + timeout
    while True:
        pending_ids = {
            str(public_id): pending_id
            for public_id, pending_id in Submission.objects.filter(
                public_id__in=list(sent)
            ).values_list("public_id", "pending_id")
        }
        indexes = dict(
            Entry.objects.filter(pending_id__in=list(pending_ids.values())).values_list(
                "pending_id", "index"
            )
        )
        latest = Checkpoint.objects.order_by("-tree_size").values_list("tree_size", flat=True)[0]
        cosigned_latest = (
            Cosignature.objects.filter(checkpoint_id=latest).values("cosigner").distinct().count()
        )
        if (len(indexes) == len(sent) and cosigned_latest >= witnesses) or time.time() > deadline:
            break
        time.sleep(0.2)
    # When each checkpoint had all its witnesses: the later of their first cosignatures.
    first_by_pair: dict[tuple[int, int], float] = {}
    for size, cosigner, created in Cosignature.objects.values_list(
        "checkpoint_id", "cosigner_id", "created_at"
    ):
        key = (size, cosigner)
        first_by_pair[key] = min(first_by_pair.get(key, created.timestamp()), created.timestamp())
    complete: dict[int, list[float]] = {}
    for (size, _), at in first_by_pair.items():
        complete.setdefault(size, []).append(at)
    witnessed = sorted(
        (size, max(times)) for size, times in complete.items() if len(times) >= witnesses
    )
    integrated_at = dict(
        Entry.objects.filter(index__in=list(indexes.values())).values_list("index", "integrated_at")
    )
    latencies, integration = [], []
    for public_id, leaving in sent.items():
        index = indexes.get(pending_ids.get(public_id))
        if index is None:
            continue
        integration.append(integrated_at[index].timestamp() - leaving)
        at = min((t for size, t in witnessed if size > index), default=None)
        if at is not None:
            latencies.append(at - leaving)
    return latencies, integration


def work_done() -> tuple[int, int]:
    """Checkpoints signed and cosignatures stored so far: batches, and pushes that got one."""
    from ledger.models import Checkpoint, Cosignature

    return Checkpoint.objects.count(), Cosignature.objects.count()


def report_line(
    rate: float, count: int, sending: Sending, latencies: list[float], integration: list[float]
) -> str:
    """The figure beside its target, with what the client achieved: a rate the client or the
    web tier could not keep up is shown as such, never as met."""
    achieved = _rate(sorted(sending.sent.values()))
    # What the web tier kept up: answers a second, from the first answer to the last.
    served = _rate(sending.answered_at)
    kept_up = min(achieved, served) >= 0.95 * rate and sending.behind_schedule < 1.0
    p99 = percentile(latencies, 0.99)
    if not kept_up:
        verdict = f"not shown: {min(achieved, served):.0f}/s sent and answered, not {rate:.0f}/s"
    elif len(latencies) < count:
        verdict = "missed (not every event was witnessed)"
    else:
        verdict = "met" if p99 <= TARGET_P99_SECONDS else "missed"
    return (
        f"{rate:5.0f} events/s offered, sent at {achieved:.0f}/s (at most "
        f"{sending.behind_schedule:.3f} s behind schedule, {sending.connections} connections), "
        f"answered at {served:.0f}/s: POST answered p50 "
        f"{percentile(sending.answer_seconds, 0.5):.3f} s, "
        f"p99 {percentile(sending.answer_seconds, 0.99):.3f} s\n"
        f"      {len(latencies)}/{count} witnessed: POST to witnessed p50 "
        f"{percentile(latencies, 0.5):.3f} s, p99 {p99:.3f} s, "
        f"max {max(latencies, default=0):.3f} s "
        f"(target p99 <= {TARGET_P99_SECONDS:.0f} s: {verdict}); POST to integrated p50 "
        f"{percentile(integration, 0.5):.3f} s, p99 {percentile(integration, 0.99):.3f} s"
    )


def _rate(moments: list[float]) -> float:
    return (len(moments) - 1) / (moments[-1] - moments[0]) if len(moments) > 1 else 0.0


def load_text(load: tuple[float, float, float]) -> str:
    return " / ".join(f"{value:.2f}" for value in load)


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="10,200")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--threads",
        type=int,
        default=GUNICORN_THREADS,
        help="threads per gunicorn worker (the production arrangement's by default; 1: sync "
        "workers, which answer one request at a time)",
    )
    parser.add_argument(
        "--port", type=int, default=8766, help="gunicorn's; the witnesses take the next two"
    )
    parser.add_argument(
        "--database", default=BENCH_DATABASE, help="the throw-away database (dropped at the end)"
    )
    args = parser.parse_args()

    base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/carhistory")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/3")
    environment = server_environment(create_database(base_url, args.database), redis_url)
    environment["CACHE_KEY_PREFIX"] = f"bench-witnessing-{args.database}"
    set_up_django(environment)
    from carhistory_verifier import note

    organisation, signer, raw_key = make_source()
    log_key = note.Signer.from_key_string(environment["LEDGER_SIGNING_KEY"]).verifier()
    url = f"http://127.0.0.1:{args.port}"
    celery = str(VENV_BIN / "celery")
    purge_queued_tasks(environment)
    results = []
    with tempfile.TemporaryDirectory() as directory:
        witnesses = start_witnesses(Path(directory), log_key.key_string(), args.port + 1)
        worker = start([celery, "-A", "carhistory", "worker", "--concurrency=3",
                        "--loglevel=WARNING"], environment)  # fmt: skip
        server = start([str(VENV_BIN / "gunicorn"), "carhistory.wsgi:application",
                        f"--workers={args.workers}", f"--threads={args.threads}",
                        f"--bind=127.0.0.1:{args.port}", "--log-level=warning"],
                       environment)  # fmt: skip
        try:
            wait_until_serving(url)
            # Every gunicorn thread's first request opens its database connection and loads
            # what Django loads lazily: seconds on a loaded machine, which is not what a
            # source meets. Not counted.
            warm_up = make_events(organisation, signer, 0, 4 * args.workers * args.threads)
            post_open_loop(url, raw_key, [json.dumps(event).encode() for event in warm_up], 50)
            for run, rate in enumerate(float(r) for r in args.rates.split(",")):
                count = int(rate * args.seconds)
                events = make_events(organisation, signer, run + 1, count)
                bodies = [json.dumps(event).encode() for event in events]
                started, load_before = time.time(), os.getloadavg()
                signed_before = work_done()
                groups = {"web": server.pid, "worker": worker.pid}
                groups |= {f"witness {n}": process.pid for n, process in enumerate(witnesses)}
                cpu = CpuByRole(groups, args.database)
                sending = post_open_loop(url, raw_key, bodies, rate)
                latencies, integration = witnessed_latencies(
                    sending.sent, len(witnesses), timeout=60
                )
                spent = cpu.stop()
                line = report_line(rate, count, sending, latencies, integration)
                by_role = {
                    "web": spent.get("web", 0.0),
                    "worker": spent.get("worker", 0.0),
                    "witnesses": sum(v for role, v in spent.items() if role.startswith("witness")),
                    "PostgreSQL": spent.get("database", 0.0),
                }
                cpu_per_event = ", ".join(
                    f"{name} {seconds * 1000 / count:.2f} ms" for name, seconds in by_role.items()
                )
                checkpoints, cosignatures = (
                    after - before for after, before in zip(work_done(), signed_before, strict=True)
                )
                line += (
                    f"\n      {checkpoints} checkpoints signed, {cosignatures} cosignatures stored"
                    f"\n      CPU an event: {cpu_per_event}; "
                    f"{sum(by_role.values()) * 1000 / count:.2f} ms in all"
                    f"\n      {time.time() - started:.0f} s in all; load average "
                    f"{load_text(load_before)} at the start, "
                    f"{load_text(os.getloadavg())} at the end"
                )
                results.append(line)
                print(line, flush=True)
        finally:
            stop(server)
            stop(worker)
            for process in witnesses:
                stop(process)
            from django.db import connections

            connections.close_all()
            drop_database(base_url, args.database)
    print(
        f"\n{os.cpu_count()} CPUs, {args.workers} gunicorn workers x {args.threads} threads, "
        "3 Celery processes:"
    )
    print("\n".join(results))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()

"""Witness benchmark: add-checkpoint requests per second one `carhistory-witness serve`
sustains, pinned to one core, for many rarely active logs.

    .venv/bin/python bench/witness.py [--logs 1000] [--rounds 5] [--clients 4,64] [--core 1]

It makes `--logs` logs (each its own Ed25519 key and origin), starts the witness trusting all
of them on a free port with a fresh SQLite state, and has `--clients` client processes (keep-
alive HTTP connections, as the spec recommends) push `--rounds` checkpoints per log: each
request is a new checkpoint one leaf larger than the last the witness cosigned, with its
consistency proof, so every answer is a real 200 (signature checks, the proof, a durable
SQLite commit, a cosignature). The bodies are made before the clock starts. The witness runs
under `taskset -c CORE`; the clients are left to the other cores. Each client count gets a
fresh witness; the first is also run against the server with Nagle's algorithm left on, for the
ratio. Medians of the rounds' rates are printed, with the load average at start and end.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "verifier" / "tests"))

from carhistory_verifier import merkle  # noqa: E402
from carhistory_verifier.note import Checkpoint, CosignatureSigner, Signer, sign_checkpoint  # noqa: E402
from carhistory_verifier.witness.client import request_body  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_bodies(logs: int, rounds: int) -> tuple[list[str], list[list[bytes]]]:
    """The log keys, and for each round the add-checkpoint bodies of every log."""
    keys, per_round = [], [[] for _ in range(rounds)]
    for number in range(logs):
        signer = Signer.generate(f"bench.example/log{number}")
        keys.append(signer.verifier().key_string())
        leaves = [merkle.leaf_hash(b"log %d leaf %d" % (number, i)) for i in range(rounds + 1)]
        for round_number in range(rounds):
            size = round_number + 1
            old = round_number
            checkpoint = Checkpoint(signer.name, size, merkle.root_from_leaf_hashes(leaves[:size]))
            proof = merkle.consistency_proof(old, leaves[:size]) if old else []
            note = sign_checkpoint(checkpoint, signer)
            per_round[round_number].append(
                request_body(old_size=old, proof=proof, checkpoint_note=note)
            )
    return keys, per_round


def client(port: int, bodies: list[bytes], ready, go, results: multiprocessing.Queue) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.connect()
    ready.release()
    go.wait()  # every client connected and waiting: forking is not timed
    bad = 0
    for body in bodies:
        connection.request("POST", "/add-checkpoint", body=body)
        response = connection.getresponse()
        response.read()
        bad += response.status != 200
    connection.close()
    results.put(bad)


# The server as it was before Nagle's algorithm was switched off on its sockets, started for
# the comparison only: the same code, with the handler's one setting put back.
NAGLE_ON = (
    "import sys; from carhistory_verifier.witness import cli, server; "
    "server._Handler.disable_nagle_algorithm = False; sys.exit(cli.main())"
)


def run_witness(
    directory: Path, log_arguments: list[str], key_file: Path, core: int, *, nagle: bool
) -> tuple[subprocess.Popen, int]:
    port = free_port()
    state = Path(directory) / f"state-{port}.db"
    program = ["-c", NAGLE_ON] if nagle else ["-m", "carhistory_verifier.witness.cli"]
    witness = subprocess.Popen(
        ["taskset", "-c", str(core), sys.executable, *program, "serve",
         "--listen", f"127.0.0.1:{port}", "--key", f"@{key_file}", *log_arguments,
         "--state", str(state)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert "serving" in witness.stdout.readline()
    return witness, port


def measure(port: int, per_round: list[list[bytes]], clients: int) -> tuple[list[float], int]:
    """Requests per second of each round, and the number of non-200 answers."""
    rates, bad = [], 0
    for bodies in per_round:
        # Each client takes a slice of the logs: no two clients race on one log.
        slices = [bodies[i::clients] for i in range(clients)]
        results: multiprocessing.Queue = multiprocessing.Queue()
        ready, go = multiprocessing.Semaphore(0), multiprocessing.Event()
        workers = [
            multiprocessing.Process(target=client, args=(port, part, ready, go, results))
            for part in slices
        ]
        for worker in workers:
            worker.start()
        for _ in workers:
            ready.acquire()
        started = time.perf_counter()
        go.set()
        bad += sum(results.get() for _ in workers)
        for worker in workers:
            worker.join()
        rates.append(len(bodies) / (time.perf_counter() - started))
    return rates, bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--clients",
        default="4,64",
        help="client counts to measure, comma-separated (a thousand rarely active logs pushing "
        "at once means many concurrent connections)",
    )
    parser.add_argument("--core", type=int, default=1)
    parser.add_argument(
        "--no-compare",
        action="store_true",
        help="skip the comparison run against the server with Nagle's algorithm left on",
    )
    arguments = parser.parse_args()
    load_at_start = os.getloadavg()
    keys, per_round = make_bodies(arguments.logs, arguments.rounds)
    runs = [(int(count), False) for count in arguments.clients.split(",")]
    if not arguments.no_compare:
        runs.insert(0, (runs[0][0], True))
    medians = {}
    with tempfile.TemporaryDirectory() as directory:
        key_file = Path(directory) / "witness.key"
        key_file.write_text(CosignatureSigner.generate("bench.example/witness").key_string())
        log_arguments = []
        for number, key in enumerate(keys):
            path = Path(directory) / f"log{number}.pub"
            path.write_text(key)
            log_arguments += ["--log-key", f"@{path}"]
        for clients, nagle in runs:
            # A fresh witness (and state) per run, so every request is a real 200.
            witness, port = run_witness(
                Path(directory), log_arguments, key_file, arguments.core, nagle=nagle
            )
            # Reading the keys is start-up, not serving: counted out.
            startup_cpu = process_cpu_seconds(witness.pid)
            try:
                rates, bad = measure(port, per_round, clients)
                cpu_seconds = process_cpu_seconds(witness.pid) - startup_cpu
            finally:
                witness.terminate()
                witness.wait()
            total = sum(len(bodies) for bodies in per_round)
            median = statistics.median(rates)
            medians[(clients, nagle)] = median
            label = "Nagle on (the old server)" if nagle else "Nagle off"
            print(
                f"{clients:3d} clients, {label}: median {median:.0f} requests/s over "
                f"{len(rates)} rounds of {arguments.logs} logs (witness on core "
                f"{arguments.core}); {total / cpu_seconds:.0f} requests per CPU second; "
                f"non-200 answers: {bad}"
            )
    if not arguments.no_compare:
        clients = runs[0][0]
        ratio = medians[(clients, False)] / medians[(clients, True)]
        print(f"{clients} clients: Nagle off answers {ratio:.1f}x as many requests per second")
    print(
        "load average at start "
        + " ".join(f"{value:.2f}" for value in load_at_start)
        + ", at end "
        + " ".join(f"{value:.2f}" for value in os.getloadavg())
    )


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()

"""Witness benchmark: add-checkpoint requests per second one `carhistory-witness serve`
sustains, pinned to one core, for many rarely active logs.

    .venv/bin/python bench/witness.py [--logs 1000] [--rounds 5] [--clients 4] [--core 1]

It makes `--logs` logs (each its own Ed25519 key and origin), starts the witness trusting all
of them on a free port with a fresh SQLite state, and has `--clients` client processes (keep-
alive HTTP connections, as the spec recommends) push `--rounds` checkpoints per log: each
request is a new checkpoint one leaf larger than the last the witness cosigned, with its
consistency proof, so every answer is a real 200 (signature checks, the proof, a durable
SQLite commit, a cosignature). The bodies are made before the clock starts. The witness runs
under `taskset -c CORE`; the clients are left to the other cores.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import socket
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


def client(port: int, bodies: list[bytes], results: multiprocessing.Queue) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    bad = 0
    for body in bodies:
        connection.request("POST", "/add-checkpoint", body=body)
        response = connection.getresponse()
        response.read()
        bad += response.status != 200
    connection.close()
    results.put(bad)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--core", type=int, default=1)
    arguments = parser.parse_args()
    keys, per_round = make_bodies(arguments.logs, arguments.rounds)
    with tempfile.TemporaryDirectory() as directory:
        key_file = Path(directory) / "witness.key"
        key_file.write_text(CosignatureSigner.generate("bench.example/witness").key_string())
        log_arguments = []
        for number, key in enumerate(keys):
            path = Path(directory) / f"log{number}.pub"
            path.write_text(key)
            log_arguments += ["--log-key", f"@{path}"]
        port = free_port()
        witness = subprocess.Popen(
            ["taskset", "-c", str(arguments.core), sys.executable, "-m",
             "carhistory_verifier.witness.cli", "serve", "--listen", f"127.0.0.1:{port}",
             "--key", f"@{key_file}", *log_arguments, "--state", f"{directory}/state.db"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert "serving" in witness.stdout.readline()
        # Reading the keys is start-up, not serving: counted out.
        startup_cpu = process_cpu_seconds(witness.pid)
        try:
            total, elapsed, bad = 0, 0.0, 0
            for bodies in per_round:
                # Each client takes a slice of the logs: no two clients race on one log.
                slices = [bodies[i :: arguments.clients] for i in range(arguments.clients)]
                results: multiprocessing.Queue = multiprocessing.Queue()
                workers = [
                    multiprocessing.Process(target=client, args=(port, part, results))
                    for part in slices
                ]
                started = time.perf_counter()
                for worker in workers:
                    worker.start()
                bad += sum(results.get() for _ in workers)
                for worker in workers:
                    worker.join()
                elapsed += time.perf_counter() - started
                total += len(bodies)
            cpu_seconds = process_cpu_seconds(witness.pid) - startup_cpu
        finally:
            witness.terminate()
            witness.wait()
    print(
        f"{total} add-checkpoint requests for {arguments.logs} logs in {elapsed:.2f} s: "
        f"{total / elapsed:.0f}/s wall clock with the witness on core {arguments.core}, "
        f"{arguments.clients} clients; the witness used {cpu_seconds:.2f} CPU seconds: "
        f"{total / cpu_seconds:.0f} requests per CPU second; non-200 answers: {bad}; "
        f"load average {' '.join(f'{value:.2f}' for value in os.getloadavg())}"
    )


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()

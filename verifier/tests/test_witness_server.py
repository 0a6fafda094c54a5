"""The witness over HTTP, as a log meets it: every tlog-witness status, racing requests, and a
restart that must not forget what was cosigned. The witness runs as a real process where the
test is about the process (restart), in a thread where it is about the protocol."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from carhistory_verifier.note import CosignatureSigner, verify_cosignature
from carhistory_verifier.witness.cli import main
from carhistory_verifier.witness.client import (
    WitnessConflict,
    WitnessRefused,
    add_checkpoint,
    request_body,
)
from carhistory_verifier.witness.server import Witness, make_server
from carhistory_verifier.witness.state import WitnessState
from witness_support import TreeLog, other_root, running_witness

WITNESS_NAME = "witness.example/w1"


@pytest.fixture
def log():
    log = TreeLog()
    log.grow(10)
    return log


@pytest.fixture
def key():
    return CosignatureSigner.generate(WITNESS_NAME)


def post(url: str, body: bytes) -> tuple[int, str, str]:
    request = urllib.request.Request(url + "/add-checkpoint", data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def test_each_status_code_over_http(tmp_path, log, key):
    stranger = TreeLog("stranger.example/log")
    stranger.grow(2)
    with running_witness(tmp_path / "state.db", log, key=key) as (url, _):
        status, content_type, body = post(url, log.body(0))
        assert content_type.startswith("text/plain")
        assert status == 200
        assert body.startswith(f"— {WITNESS_NAME} ") and body.endswith("\n")
        timestamp = verify_cosignature(log.checkpoint() + body, key.verifier())
        assert abs(timestamp - time.time()) < 60
        assert post(url, stranger.body(0))[0] == 404
        assert post(url, TreeLog(log.signer.name).body(0))[0] == 403
        too_old = request_body(old_size=11, proof=[], checkpoint_note=log.checkpoint())
        assert post(url, too_old)[0] == 400
        assert post(url, b"old x\n\n")[0] == 400
        assert post(url, log.body(3))[:3] == (409, "text/x.tlog.size", "10\n")
        forked = request_body(
            old_size=10, proof=[], checkpoint_note=log.checkpoint(root=other_root("fork"))
        )
        assert post(url, forked)[:3] == (409, "text/x.tlog.size", "10\n")
        log.grow(3)
        bad_proof = request_body(
            old_size=10,
            proof=[other_root(str(i)) for i in range(3)],
            checkpoint_note=log.checkpoint(),
        )
        assert post(url, bad_proof)[0] == 422
        assert post(url, log.body(10))[0] == 200


def test_the_client_recovers_from_a_conflict(tmp_path, log, key):
    with running_witness(tmp_path / "state.db", log, key=key) as (url, _):
        add_checkpoint(
            url=url,
            old_size=0,
            proof=[],
            checkpoint_note=log.checkpoint(),
            witness_key=key.verifier(),
        )
        log.grow(5)
        with pytest.raises(WitnessConflict) as conflict:
            add_checkpoint(
                url=url,
                old_size=0,
                proof=[],
                checkpoint_note=log.checkpoint(),
                witness_key=key.verifier(),
            )
        old = conflict.value.latest_size
        line, _ = add_checkpoint(
            url=url,
            old_size=old,
            proof=log.proof(old),
            checkpoint_note=log.checkpoint(),
            witness_key=key.verifier(),
        )
        with pytest.raises(WitnessRefused) as refused:
            add_checkpoint(
                url=url + "/elsewhere",
                old_size=15,
                proof=[],
                checkpoint_note=log.checkpoint(),
                witness_key=key.verifier(),
            )
        assert refused.value.status == 404
    assert verify_cosignature(log.checkpoint() + line + "\n", key.verifier()) > 0


def test_two_racing_requests_never_roll_the_witness_back(tmp_path, log, key):
    """Two requests from the same old size, one for a smaller tree and one for a larger: the
    witness cosigns exactly one and records its size, never the smaller after the larger."""
    with running_witness(tmp_path / "state.db", log, key=key) as (url, witness):
        for _ in range(20):
            old = witness.state.latest(log.signer.name).size
            smaller = log.grow(4)
            larger = log.grow(4)
            bodies = [log.body(old, smaller), log.body(old, larger)]
            answers: list[tuple[int, str, str]] = [(0, "", "")] * 2
            start = threading.Barrier(2)

            def send(position: int, bodies=bodies, answers=answers, start=start) -> None:
                start.wait()
                answers[position] = post(url, bodies[position])

            threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert sorted(answer[0] for answer in answers) == [200, 409], answers
            winner = 0 if answers[0][0] == 200 else 1
            recorded = witness.state.latest(log.signer.name).size
            assert recorded == (smaller, larger)[winner]
            assert answers[1 - winner][1:] == ("text/x.tlog.size", f"{recorded}\n")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_witness_process(
    tmp_path: Path, log: TreeLog, key: CosignatureSigner
) -> tuple[subprocess.Popen, str]:
    (tmp_path / "witness.key").write_text(key.key_string() + "\n")
    (tmp_path / "log.pub").write_text(log.key.key_string() + "\n")
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "carhistory_verifier.witness.cli",
            "serve",
            "--listen",
            f"127.0.0.1:{port}",
            "--key",
            f"@{tmp_path / 'witness.key'}",
            "--log-key",
            f"@{tmp_path / 'log.pub'}",
            "--state",
            str(tmp_path / "state.db"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert "serving" in process.stdout.readline()
    return process, f"http://127.0.0.1:{port}"


def test_a_killed_and_restarted_witness_remembers_what_it_cosigned(tmp_path, log, key):
    process, url = start_witness_process(tmp_path, log, key)
    try:
        assert post(url, log.body(0))[0] == 200
        log.grow(6)
        assert post(url, log.body(10))[0] == 200
    finally:
        # SIGKILL: no clean shutdown, so only what was committed before answering survives.
        process.send_signal(signal.SIGKILL)
        process.wait()
    process, url = start_witness_process(tmp_path, log, key)
    try:
        assert post(url, log.body(0))[:3] == (409, "text/x.tlog.size", "16\n")
        assert post(url, log.body(10))[:3] == (409, "text/x.tlog.size", "16\n")
        log.grow(1)
        assert post(url, log.body(16))[0] == 200
    finally:
        process.terminate()
        process.wait()


def test_generate_prints_the_signer_key_then_the_verifier_key(capsys):
    assert main(["generate", "registry.example/witness"]) == 0
    signer_line, verifier_line = capsys.readouterr().out.splitlines()
    signer = CosignatureSigner.from_key_string(signer_line)
    assert signer.verifier().key_string() == verifier_line
    assert verifier_line.startswith("registry.example/witness+")


def test_serve_refuses_an_unreadable_key(tmp_path, capsys):
    (tmp_path / "bad.key").write_text("not a key\n")
    code = main(
        [
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--key",
            f"@{tmp_path / 'bad.key'}",
            "--log-key",
            f"@{tmp_path / 'bad.key'}",
            "--state",
            str(tmp_path / "s.db"),
        ]
    )
    assert code == 2
    assert "--key" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "s.db")


def test_every_connection_answers_without_waiting_for_nagle(tmp_path, log):
    # An answer's headers and body are two writes: with Nagle's algorithm on, the body waited
    # for the client's delayed ACK (40 ms on Linux), which held each keep-alive connection to
    # about 25 answers a second. Every connection the server accepts must have TCP_NODELAY.
    witness = Witness(
        key=CosignatureSigner.generate(WITNESS_NAME),
        log_keys=[log.key],
        state=WitnessState(tmp_path / "state.db"),
    )
    server = make_server(witness, "127.0.0.1", 0)
    no_delay: list[int] = []
    handler = server.RequestHandlerClass

    def setup(self) -> None:
        handler.setup(self)
        no_delay.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    server.RequestHandlerClass = type("Watched", (handler,), {"setup": setup})
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        status, _, _ = post(f"http://127.0.0.1:{server.server_address[1]}", log.body(0))
    finally:
        server.shutdown()
        server.server_close()
        witness.state.close()
    assert status == 200
    assert no_delay and all(no_delay)

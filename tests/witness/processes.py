"""Witnesses as real processes (`carhistory-witness serve`) for tests of the log's pusher."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from carhistory_verifier import note


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class WitnessProcess:
    """One witness: its keys and state under `directory`, serving on `port` once started."""

    def __init__(self, directory: Path, name: str, log_key: note.Verifier, port: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.key = note.CosignatureSigner.generate(name)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        (directory / "witness.key").write_text(self.key.key_string() + "\n")
        (directory / "log.pub").write_text(log_key.key_string() + "\n")
        self.process: subprocess.Popen | None = None

    @property
    def verifier(self) -> note.CosignatureVerifier:
        return self.key.verifier()

    def start(self) -> WitnessProcess:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "carhistory_verifier.witness.cli",
                "serve",
                "--listen",
                f"127.0.0.1:{self.port}",
                "--key",
                f"@{self.directory / 'witness.key'}",
                "--log-key",
                f"@{self.directory / 'log.pub'}",
                "--state",
                str(self.directory / "state.db"),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()
        assert "serving" in line, line
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

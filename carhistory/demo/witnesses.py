"""Two witnesses beside the demo site, so `make run` shows cosigned checkpoints at once.

Each is a real `carhistory-witness serve` process with its key and state under
`var/witnesses/<slug>/` (made on first use, kept between runs like the rest of `var/`),
registered with the log by `add_witness` as any operator would register one.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from carhistory_verifier import note
from django.conf import settings

from ledger import keys, witnessing


@dataclass(frozen=True)
class DemoWitness:
    slug: str
    name: str
    title: str
    title_zh_hans: str


DEMO_WITNESSES = (
    DemoWitness(
        "registry",
        "witness.sh-vehicle-registry.example/w1",
        "Shanghai Vehicle Registry",
        "上海市机动车登记所",
    ),
    DemoWitness(
        "insurers",
        "witness.insurers-association.example/w1",
        "Insurers' Association",
        "保险行业协会",
    ),
)


def _key_file(witness: DemoWitness) -> Path:
    """The witness's signer key file, created (0600) the first time."""
    directory = settings.VAR_DIR / "witnesses" / witness.slug
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "witness.key"
    if not path.exists():
        path.write_text(note.CosignatureSigner.generate(witness.name).key_string() + "\n")
        path.chmod(0o600)
    return path


def start_demo_witnesses(*, host: str, ports: list[int]) -> list[subprocess.Popen]:
    """Start the demo witnesses on `ports` and register them with the log; return the
    processes (the caller stops them)."""
    processes = []
    log_key_file = settings.VAR_DIR / "witnesses" / "log.pub"
    log_key_file.parent.mkdir(parents=True, exist_ok=True)
    log_key_file.write_text(keys.log_verifier_key() + "\n")
    for witness, port in zip(DEMO_WITNESSES, ports, strict=True):
        key_file = _key_file(witness)
        signer = note.CosignatureSigner.from_key_string(key_file.read_text().strip())
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [
                sys.executable,
                "-m",
                "carhistory_verifier.witness.cli",
                "serve",
                "--listen",
                f"{host}:{port}",
                "--key",
                f"@{key_file}",
                "--log-key",
                f"@{log_key_file}",
                "--state",
                str(key_file.parent / "state.db"),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        started = process.stdout.readline()
        if "serving" not in started:
            stop(processes)
            raise RuntimeError(f"witness {witness.name} did not start on port {port}")
        witnessing.add_witness(
            verifier_key=signer.verifier().key_string(),
            url=f"http://{host}:{port}",
            title=witness.title,
            title_zh_hans=witness.title_zh_hans,
        )
    return processes


def push_to_all() -> list[witnessing.PushResult]:
    """Bring every active witness up to the latest checkpoint now."""
    return [
        witnessing.push_to_witness(witness_id=witness_id)
        for witness_id in witnessing.active_witness_ids()
    ]


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=10)

"""The disaster drill of README "Operations", end to end on PostgreSQL with real processes:
the site (gunicorn) on a database of its own, a mirror and a witness. The database is
dropped, recreated, restored from the mirror's store, and the log goes on: same checkpoint,
consistency from every checkpoint before the disaster, the witness and the mirror accept what
comes next."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg2
import pytest
from carhistory_verifier import merkle, note
from carhistory_verifier.witness.client import add_checkpoint
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
GROW = (
    "from ledger import services; from tests.ledger.factories import EntryFactory; "
    "services.enqueue_entries(entries=EntryFactory.build_batch({count})); "
    "services.integrate_pending(wait=True)"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def drill_database() -> str:
    """A name of this run's own, so parallel suites on one server never drop each other's."""
    return f"{settings.DATABASES['default']['NAME']}_drill"


def server_url() -> str:
    database = settings.DATABASES["default"]
    return f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}"


def recreate_database() -> None:
    connection = psycopg2.connect(f"{server_url()}/postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {drill_database()} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {drill_database()}")
    connection.close()


class Site:
    """The site's processes on the drill database: manage.py commands and a gunicorn."""

    def __init__(self, tmp_path: Path) -> None:
        self.env = {
            **os.environ,
            "DATABASE_URL": f"{server_url()}/{drill_database()}",
            "REDIS_URL": "",
            "CELERY_TASK_ALWAYS_EAGER": "1",
            "LEDGER_SIGNING_KEY": "",
            "LEDGER_SIGNING_KEY_FILE": str(tmp_path / "log.key"),
        }
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: subprocess.Popen | None = None

    def manage(self, *arguments: str) -> str:
        result = subprocess.run(
            [PYTHON, "manage.py", *arguments],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def grow(self, count: int) -> None:
        self.manage("shell", "-c", GROW.format(count=count))

    def start(self) -> None:
        self.server = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "gunicorn",
                "carhistory.wsgi",
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{self.port}",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                self.get("/log/key")
                return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("the site did not start")

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=30)
            self.server = None

    def get(self, path: str) -> str:
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return response.read().decode("utf-8")

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        import json

        from carhistory_verifier.entry import b64decode

        data = json.loads(self.get(f"/api/v1/log/proof/consistency?first={first}&second={second}"))
        return [b64decode(value) for value in data["proof"]]


@pytest.fixture
def site(tmp_path):
    recreate_database()
    site = Site(tmp_path)
    yield site
    site.stop()
    connection = psycopg2.connect(f"{server_url()}/postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {drill_database()} WITH (FORCE)")
    connection.close()


@pytest.fixture
def witness(tmp_path):
    keys = subprocess.run(
        [PYTHON, "-m", "carhistory_verifier.witness.cli", "generate", "drill.example/witness"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.splitlines()
    (tmp_path / "witness.key").write_text(keys[0], encoding="utf-8")
    port = free_port()

    def start(log_key_line: str) -> tuple[str, note.CosignatureVerifier]:
        (tmp_path / "log-for-witness.pub").write_text(log_key_line, encoding="utf-8")
        process = subprocess.Popen(
            [
                PYTHON, "-m", "carhistory_verifier.witness.cli", "serve",
                "--listen", f"127.0.0.1:{port}",
                "--key", f"@{tmp_path / 'witness.key'}",
                "--log-key", f"@{tmp_path / 'log-for-witness.pub'}",
                "--state", str(tmp_path / "witness.sqlite3"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        processes.append(process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        return f"http://127.0.0.1:{port}", note.CosignatureVerifier.from_key_string(keys[1])

    processes: list[subprocess.Popen] = []
    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


def log_signed(served: str, log_key: note.Verifier) -> str:
    text, _, signatures = served.rpartition("\n\n")
    own = [line for line in signatures.splitlines() if line.startswith(f"— {log_key.name} ")]
    return text + "\n\n" + "".join(line + "\n" for line in own)


def test_drop_the_database_restore_from_the_mirror_and_go_on(site, witness, tmp_path):
    site.manage("migrate", "--no-input", "-v", "0")
    log_key = note.Verifier.from_key_string(site.manage("create_log_key").strip())
    mirror_keys = subprocess.run(
        [PYTHON, "-m", "carhistory_verifier.mirror.cli", "generate", "drill.example/mirror"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.splitlines()
    (tmp_path / "mirror.key").write_text(mirror_keys[0], encoding="utf-8")
    (tmp_path / "log.pub").write_text(log_key.key_string(), encoding="utf-8")
    token = site.manage("add_mirror", "drill.example/mirror", "--key", mirror_keys[1])
    (tmp_path / "token").write_text(token.splitlines()[-1], encoding="utf-8")
    store = tmp_path / "mirror.sqlite3"

    def sync() -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                PYTHON, "-m", "carhistory_verifier.mirror.cli", "sync",
                "--log", site.url, "--token", f"@{tmp_path / 'token'}",
                "--key", f"@{tmp_path / 'mirror.key'}", "--log-key", f"@{tmp_path / 'log.pub'}",
                "--store", str(store),
            ],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip

    site.start()
    witness_url, witness_key = witness(log_key.key_string())
    site.grow(700)
    first = note.verify_checkpoint(site.get("/log/checkpoint"), log_key)
    assert sync().returncode == 0
    site.grow(550)
    served_before = site.get("/log/checkpoint")
    before = note.verify_checkpoint(served_before, log_key)
    add_checkpoint(
        url=witness_url,
        old_size=0,
        proof=[],
        checkpoint_note=log_signed(served_before, log_key),
        witness_key=witness_key,
    )
    result = sync()
    assert result.returncode == 0, result.stderr
    served_before = site.get("/log/checkpoint")

    # The disaster: the database is gone. Accounts come back from their own backup; here the
    # mirror is registered again with the same key (a new token).
    site.stop()
    recreate_database()
    site.manage("migrate", "--no-input", "-v", "0")
    token = site.manage("add_mirror", "drill.example/mirror", "--key", mirror_keys[1])
    (tmp_path / "token").write_text(token.splitlines()[-1], encoding="utf-8")
    backup = tmp_path / "copy-of-the-mirror.sqlite3"
    shutil.copy(store, backup)
    assert "Restored 1250 entries and 2 checkpoints" in site.manage(
        "restore_from_mirror", str(backup)
    )
    assert "ok: 1250 entries" in site.manage("verify_ledger")

    site.start()
    assert site.get("/log/checkpoint") == served_before
    site.grow(300)
    after = note.verify_checkpoint(site.get("/log/checkpoint"), log_key)
    assert after.size == 1550
    for earlier in (first, before):
        merkle.verify_consistency(
            first=earlier.size,
            second=after.size,
            first_root=earlier.root_hash,
            second_root=after.root_hash,
            proof=site.consistency_proof(earlier.size, after.size),
        )
    line, _timestamp = add_checkpoint(
        url=witness_url,
        old_size=before.size,
        proof=site.consistency_proof(before.size, after.size),
        checkpoint_note=log_signed(site.get("/log/checkpoint"), log_key),
        witness_key=witness_key,
    )
    assert line.startswith("— drill.example/witness ")
    result = sync()
    assert result.returncode == 0, result.stderr
    assert "at tree size 1550: fetched 300 entries (from index 1250" in result.stdout

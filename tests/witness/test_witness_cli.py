"""`carhistory-witness` as a witness runs it, against the real log over HTTP: pytest-
django's live server on PostgreSQL, the CLI in-process."""

import json
import socket
import subprocess
import sys
from pathlib import Path
from urllib.request import urlopen

import pytest
from carhistory_verifier import merkle, note
from carhistory_verifier.witness import EXIT_FORK, EXIT_OK, EXIT_REFUSED, EXIT_UNREADABLE, main

from ledger import services
from ledger.models import Cosignature, Witness
from tests.ledger.factories import EntryFactory

ROOT = Path(__file__).resolve().parents[2]
WITNESS_NAME = "registry.example/witness"


@pytest.fixture
def witness_key():
    return note.CosignatureSigner.generate(WITNESS_NAME)


@pytest.fixture
def registered(witness_key, transactional_db):
    return Witness.objects.create(
        name=witness_key.name, verifier_key=witness_key.verifier().key_string()
    )


@pytest.fixture
def key_files(tmp_path, log_key, witness_key):
    log_key_file = tmp_path / "log.pub"
    log_key_file.write_text(log_key.verifier().key_string() + "\n", encoding="utf-8")
    witness_key_file = tmp_path / "witness.key"
    witness_key_file.write_text(witness_key.key_string() + "\n", encoding="utf-8")
    return log_key_file, witness_key_file


@pytest.fixture
def state_file(tmp_path):
    return tmp_path / "state" / "witness.json"


@pytest.fixture
def run_witness(live_server, key_files, state_file):
    log_key_file, witness_key_file = key_files
    state_file.parent.mkdir()

    def run(*, log_url=None):
        return main(
            [
                "cosign",
                "--log",
                log_url or live_server.url,
                "--log-key",
                f"@{log_key_file}",
                "--key",
                f"@{witness_key_file}",
                "--state",
                str(state_file),
            ]
        )

    return run


def grow_log(count: int) -> None:
    services.enqueue_entries(entries=EntryFactory.build_batch(count))
    services.integrate_pending(wait=True)


def served_checkpoint(live_server) -> str:
    with urlopen(f"{live_server.url}/log/checkpoint", timeout=30) as response:
        return response.read().decode("utf-8")


def test_the_witness_cosigns_the_log_as_it_grows(
    live_server, registered, witness_key, log_key, run_witness, state_file, capsys
):
    grow_log(5)
    assert run_witness() == EXIT_OK
    assert "OK: cosigned carhistory.localhost/log at tree size 5" in capsys.readouterr().out
    first = served_checkpoint(live_server)
    assert note.verify_cosignature(first, witness_key.verifier()) > 0

    grow_log(4)
    assert run_witness() == EXIT_OK
    served = served_checkpoint(live_server)
    assert note.verify_checkpoint(served, log_key.verifier()).size == 9
    assert note.verify_cosignature(served, witness_key.verifier()) > 0
    assert list(Cosignature.objects.values_list("checkpoint_id", flat=True).order_by("id")) == [
        5,
        9,
    ]
    saved = json.loads(state_file.read_text(encoding="utf-8"))
    assert note.verify_checkpoint(saved["checkpoint"], log_key.verifier()).size == 9


def test_running_again_without_growth_is_harmless(
    live_server, registered, run_witness, witness_key
):
    grow_log(3)
    assert run_witness() == EXIT_OK
    assert run_witness() == EXIT_OK
    assert Cosignature.objects.count() == 1
    assert served_checkpoint(live_server).count(f"— {witness_key.name} ") == 1


def write_state(state_file: Path, checkpoint_note: str) -> str:
    text = json.dumps({"format": "carhistory-witness-state/v1", "checkpoint": checkpoint_note})
    state_file.write_text(text, encoding="utf-8")
    return text


def test_a_log_that_signs_another_tree_of_the_size_seen_is_reported_as_a_fork(
    live_server, registered, log_key, run_witness, state_file, capsys
):
    grow_log(6)
    # What this witness saw earlier: a checkpoint of size 6 the log key signed over other leaves.
    other_root = merkle.root_from_leaf_hashes([merkle.leaf_hash(b"x")] * 6)
    seen = note.sign_checkpoint(note.Checkpoint("carhistory.localhost/log", 6, other_root), log_key)
    before = write_state(state_file, seen)
    assert run_witness() == EXIT_FORK
    message = capsys.readouterr().err
    assert "THE LOG FORKED" in message
    assert seen in message and "--- checkpoint served now ---" in message
    assert state_file.read_text(encoding="utf-8") == before
    assert not Cosignature.objects.exists()


def test_a_log_that_went_back_is_refused_and_the_state_kept(
    live_server, registered, log_key, run_witness, state_file, capsys
):
    grow_log(4)
    root = merkle.root_from_leaf_hashes([merkle.leaf_hash(b"x")] * 10)
    before = write_state(
        state_file,
        note.sign_checkpoint(note.Checkpoint("carhistory.localhost/log", 10, root), log_key),
    )
    assert run_witness() == EXIT_REFUSED
    assert "smaller than the size 10" in capsys.readouterr().err
    assert state_file.read_text(encoding="utf-8") == before
    assert not Cosignature.objects.exists()


def test_a_log_serving_checkpoints_under_another_key_is_refused(
    live_server, registered, run_witness, state_file, settings, capsys
):
    grow_log(2)
    impostor = note.Signer.generate(settings.LEDGER_ORIGIN)
    settings.LEDGER_SIGNING_KEY = impostor.key_string()
    grow_log(1)
    assert run_witness() == EXIT_REFUSED
    assert "not the log's" in capsys.readouterr().err
    assert not state_file.exists()


def test_an_unregistered_witness_is_told_the_log_refused_it(
    live_server, transactional_db, run_witness, state_file, capsys
):
    grow_log(2)
    assert run_witness() == EXIT_REFUSED
    assert "the log refused the cosignature" in capsys.readouterr().err
    # Verified and saved before sending, so the witness never forgets what it signed.
    assert state_file.exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_log_exits_2(transactional_db, run_witness, state_file, capsys):
    assert run_witness(log_url=f"http://127.0.0.1:{free_port()}") == EXIT_UNREADABLE
    assert "cannot reach" in capsys.readouterr().err
    assert not state_file.exists()


def test_only_http_urls_are_accepted(transactional_db, run_witness, capsys):
    assert run_witness(log_url="file:///etc/passwd") == EXIT_UNREADABLE
    assert "http:// or https://" in capsys.readouterr().err


def test_a_damaged_state_file_stops_the_witness(
    live_server, registered, run_witness, state_file, capsys
):
    grow_log(2)
    state_file.write_text("{", encoding="utf-8")
    assert run_witness() == EXIT_UNREADABLE
    assert "state file" in capsys.readouterr().err
    assert not Cosignature.objects.exists()


def test_generate_prints_a_signer_and_its_verifier_key(capsys):
    assert main(["generate", WITNESS_NAME]) == EXIT_OK
    signer_line, verifier_line = capsys.readouterr().out.splitlines()
    signer = note.CosignatureSigner.from_key_string(signer_line)
    assert signer.verifier().key_string() == verifier_line
    assert verifier_line.startswith(f"{WITNESS_NAME}+")


def test_generate_refuses_a_name_with_a_space(capsys):
    assert main(["generate", "my witness"]) == EXIT_UNREADABLE
    assert "space" in capsys.readouterr().err


def test_the_witness_imports_no_django():
    script = (
        "import sys\n"
        "import carhistory_verifier.witness\n"
        "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_a_url_that_is_not_the_log_exits_2(live_server, transactional_db, run_witness, capsys):
    assert run_witness(log_url=f"{live_server.url}/no-log-here") == EXIT_UNREADABLE
    assert "answered 404" in capsys.readouterr().err

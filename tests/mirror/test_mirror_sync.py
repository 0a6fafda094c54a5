"""`carhistory-mirror sync` as a mirror runs it: a separate process talking HTTP to the real
log (pytest-django's live server on PostgreSQL)."""

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.request import urlopen

from carhistory_verifier import note
from django.db import connection

from ledger.models import Cosignature
from tests.mirror.conftest import (
    MIRROR_NAME,
    grow_log,
    logged_entries,
    stored_entries,
    sync_command,
)

ROOT = Path(__file__).resolve().parents[2]


def served_checkpoint(live_server) -> str:
    with urlopen(f"{live_server.url}/log/checkpoint", timeout=30) as response:
        return response.read().decode("utf-8")


def test_a_mirror_copies_every_entry_and_cosigns_what_it_stored(
    live_server, registered_mirror, mirror_files, run_mirror, log_key
):
    grow_log(600)
    result = run_mirror()
    assert result.returncode == 0, result.stderr
    assert (
        "mirrored carhistory.localhost/log at tree size 600: fetched 600 entries" in result.stdout
    )
    assert stored_entries(mirror_files["store"]) == logged_entries()
    served = served_checkpoint(live_server)
    assert note.verify_checkpoint(served, log_key.verifier()).size == 600
    assert note.verify_cosignature(served, registered_mirror.key.verifier()) > 0
    assert Cosignature.objects.get().cosigner.name == MIRROR_NAME

    grow_log(300)
    result = run_mirror()
    assert result.returncode == 0, result.stderr
    assert "at tree size 900: fetched 300 entries (from index 600" in result.stdout
    assert stored_entries(mirror_files["store"]) == logged_entries()


def test_a_run_with_nothing_new_is_quick_and_cosigns_nothing_twice(
    live_server, registered_mirror, run_mirror
):
    grow_log(1000)
    assert run_mirror().returncode == 0
    started = time.monotonic()
    result = run_mirror()
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert "fetched 0 entries" in result.stdout
    assert "already had the cosignature" in result.stdout
    # The interpreter's start-up is most of it; nothing is fetched or rehashed.
    assert elapsed < 5
    assert Cosignature.objects.count() == 1


def test_a_mirror_syncs_while_sources_submit(
    live_server, registered_mirror, mirror_files, run_mirror, log_key
):
    from tests.sources.factories import OrganisationFactory, api_key_for, event_payload, make_vin

    dealer = OrganisationFactory(kind="dealer_4s")
    key = api_key_for(dealer)
    grow_log(300)
    stop = threading.Event()
    submitted = []

    def submit():
        import json
        from urllib.request import Request

        serial = 0
        while not stop.is_set():
            body = json.dumps(event_payload("odometer", vin=make_vin(serial))).encode()
            request = Request(
                f"{live_server.url}/api/v1/events",
                data=body,
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )
            with urlopen(request, timeout=30) as response:
                submitted.append(response.status)
            serial += 1

    submitter = threading.Thread(target=submit)
    submitter.start()
    try:
        sizes = []
        for _ in range(3):
            result = run_mirror()
            assert result.returncode == 0, result.stderr
            sizes.append(int(result.stdout.split("at tree size ")[1].split(":")[0]))
            time.sleep(0.3)
    finally:
        stop.set()
        submitter.join()
    assert submitted and set(submitted) <= {201, 202}
    assert sizes == sorted(sizes) and sizes[-1] > 300
    assert run_mirror().returncode == 0
    assert stored_entries(mirror_files["store"]) == logged_entries()
    assert note.verify_cosignature(served_checkpoint(live_server), registered_mirror.key.verifier())


def test_an_interrupted_sync_resumes_without_fetching_again(
    live_server, registered_mirror, mirror_files, run_mirror
):
    total = 60_000
    for _ in range(total // 10_000):
        grow_log(10_000)
    process = subprocess.Popen(
        sync_command(live_server, mirror_files),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    stored = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if mirror_files["store"].exists():
            try:
                stored = len(stored_entries(mirror_files["store"]))
            except sqlite3.OperationalError:
                stored = 0
            if stored:
                break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    _, stderr = process.communicate(timeout=30)
    assert 0 < stored < total, f"the mirror was not caught mid-way; grow the log ({stderr})"
    assert not Cosignature.objects.exists()

    result = run_mirror()
    assert result.returncode == 0, result.stderr
    resumed_at = int(result.stdout.split("(from index ")[1].split(",")[0])
    assert resumed_at >= stored
    assert f"fetched {total - resumed_at} entries" in result.stdout
    assert stored_entries(mirror_files["store"]) == logged_entries()
    assert Cosignature.objects.count() == 1


def restart_the_log_with_other_entries(count: int) -> None:
    """What a log that forks looks like to a mirror: the same key signing another history."""
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE ledger_cosignature, ledger_checkpoint, ledger_subtree, ledger_entry, "
            "ledger_vinindexnode, ledger_vinkey"
        )
    grow_log(count, vin="LVSHFFAL9H5226410")


def test_a_mirror_refuses_a_log_that_forked(
    live_server, registered_mirror, mirror_files, run_mirror
):
    grow_log(10)
    assert run_mirror().returncode == 0
    before = stored_entries(mirror_files["store"])
    restart_the_log_with_other_entries(12)
    result = run_mirror()
    assert result.returncode == 3
    assert "fork: the tree of size 12 does not extend the tree of size 10" in result.stderr
    assert stored_entries(mirror_files["store"]) == before
    assert not Cosignature.objects.exists()


def test_a_mirror_refuses_another_tree_of_the_size_it_mirrored(
    live_server, registered_mirror, run_mirror
):
    grow_log(10)
    assert run_mirror().returncode == 0
    restart_the_log_with_other_entries(10)
    result = run_mirror()
    assert result.returncode == 3
    assert "two different trees of size 10" in result.stderr
    assert not Cosignature.objects.exists()


def test_entries_that_do_not_hash_to_the_checkpoint_are_refused(
    live_server, registered_mirror, mirror_files, run_mirror
):
    grow_log(20)
    # Behind the append-only trigger: the log now serves bytes its tree never held.
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE ledger_entry DISABLE TRIGGER ledger_entry_append_only")
        cursor.execute(
            "UPDATE ledger_entry SET data = "
            "convert_to(replace(convert_from(data, 'UTF8'), 'oil', 'air'), 'UTF8') "
            'WHERE "index" = 7'
        )
        cursor.execute("ALTER TABLE ledger_entry ENABLE TRIGGER ledger_entry_append_only")
    result = run_mirror()
    assert result.returncode == 1
    assert "wrong root: entries 0-19 hash to" in result.stderr
    assert "not cosigned" in result.stderr
    assert stored_entries(mirror_files["store"]) == []
    assert not Cosignature.objects.exists()


def test_a_wrong_token_is_told_it_is_not_let_in(live_server, mirror_files, run_mirror):
    grow_log(3)
    mirror_files["token"].write_text("mirror_wrong\n", encoding="utf-8")
    result = run_mirror()
    assert result.returncode == 2
    assert "answered 401" in result.stderr


def test_generate_prints_a_signer_and_its_verifier_key():
    result = subprocess.run(
        [sys.executable, "-m", "carhistory_verifier.mirror.cli", "generate", MIRROR_NAME],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    signer_line, verifier_line = result.stdout.splitlines()
    signer = note.CosignatureSigner.from_key_string(signer_line)
    assert signer.verifier().key_string() == verifier_line


def test_the_mirror_imports_no_django():
    script = (
        "import sys\n"
        "import carhistory_verifier.mirror.cli\n"
        "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr

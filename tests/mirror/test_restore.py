"""`restore_from_mirror`: the log rebuilt from a mirror's store, and stores that must be
refused. The store is made the way a mirror makes it: `carhistory-mirror sync` over HTTP."""

import shutil
import sqlite3
from io import StringIO

import pytest
from carhistory_verifier import merkle, note
from carhistory_verifier.mirror.cli import main as mirror_main
from carhistory_verifier.tiles import decode_entry_bundle, encode_entry_bundle
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from ledger import audit, selectors
from ledger.models import Checkpoint, Cosignature, Entry, Subtree
from tests.mirror.conftest import grow_log


def sync_arguments(live_server, registered_mirror, log_key, tmp_path) -> list[str]:
    (tmp_path / "log.pub").write_text(log_key.verifier().key_string(), encoding="utf-8")
    (tmp_path / "mirror.key").write_text(registered_mirror.key.key_string(), encoding="utf-8")
    (tmp_path / "token").write_text(registered_mirror.token, encoding="utf-8")
    return [
        "sync",
        "--log",
        live_server.url,
        "--token",
        f"@{tmp_path / 'token'}",
        "--key",
        f"@{tmp_path / 'mirror.key'}",
        "--log-key",
        f"@{tmp_path / 'log.pub'}",
        "--store",
        str(tmp_path / "mirror.sqlite3"),
    ]


@pytest.fixture
def mirrored_store(live_server, registered_mirror, log_key, tmp_path):
    """A store holding two checkpoints (500 and 1,200 entries) the mirror verified."""
    arguments = sync_arguments(live_server, registered_mirror, log_key, tmp_path)
    grow_log(500)
    assert mirror_main(arguments) == 0
    grow_log(700)
    assert mirror_main(arguments) == 0
    return tmp_path / "mirror.sqlite3"


def lose_the_log() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE ledger_cosignature, ledger_checkpoint, ledger_subtree, ledger_entry, "
            "ledger_pendingentry, ledger_vinkey, ledger_vinindexnode"
        )


def restore(path) -> str:
    out = StringIO()
    call_command("restore_from_mirror", str(path), stdout=out)
    return out.getvalue()


def test_the_log_is_rebuilt_and_grows_on(mirrored_store, registered_mirror, log_key):
    before = {
        size: bytes(root) for size, root in Checkpoint.objects.values_list("tree_size", "root_hash")
    }
    entries_before = list(Entry.objects.order_by("index").values_list("index", "leaf_hash", "data"))
    served_before = selectors.served_checkpoint_text(selectors.latest_checkpoint())
    lose_the_log()

    assert "Restored 1200 entries and 2 checkpoints (2 mirror cosignatures)" in restore(
        mirrored_store
    )
    assert selectors.served_checkpoint_text(selectors.latest_checkpoint()) == served_before
    restored = list(Entry.objects.order_by("index").values_list("index", "leaf_hash", "data"))
    assert [(i, bytes(h), bytes(d)) for i, h, d in restored] == [
        (i, bytes(h), bytes(d)) for i, h, d in entries_before
    ]
    assert audit.verify_ledger()["entries"] == 1200
    assert Cosignature.objects.count() == 2

    grow_log(77)
    latest = selectors.latest_checkpoint()
    assert latest.tree_size == 1277
    for size in (500, 1200):
        merkle.verify_consistency(
            first=size,
            second=1277,
            first_root=before[size],
            second_root=bytes(latest.root_hash),
            proof=selectors.consistency_proof(first=size, second=1277),
        )
    assert note.verify_checkpoint(latest.note, log_key.verifier()).size == 1277


def test_a_tampered_store_is_refused_and_nothing_restored(mirrored_store):
    lose_the_log()
    tampered = mirrored_store.with_name("tampered.sqlite3")
    shutil.copy(mirrored_store, tampered)
    with sqlite3.connect(tampered) as database:
        (data,) = database.execute("SELECT data FROM bundles WHERE tile = 1").fetchone()
        entries = decode_entry_bundle(bytes(data))
        entries[321 - 256] = entries[321 - 256].replace(b"oil", b"air")
        database.execute(
            "UPDATE bundles SET data = ? WHERE tile = 1", (encode_entry_bundle(entries),)
        )
    with pytest.raises(CommandError, match="wrong root: the store's entries 0-499 hash to"):
        restore(tampered)
    assert not Entry.objects.exists()
    assert not Subtree.objects.exists()
    assert not Checkpoint.objects.exists()


def test_a_log_that_still_has_entries_is_never_restored_over(mirrored_store):
    with pytest.raises(CommandError, match="the log is not empty"):
        restore(mirrored_store)
    assert Entry.objects.count() == 1200


def test_a_store_of_another_log_is_refused(mirrored_store, settings):
    lose_the_log()
    settings.LEDGER_SIGNING_KEY = note.Signer.generate(settings.LEDGER_ORIGIN).key_string()
    with pytest.raises(CommandError, match="mirrors the log with key"):
        restore(mirrored_store)
    assert not Entry.objects.exists()


def test_a_store_whose_checkpoint_was_forged_is_refused(mirrored_store, settings):
    lose_the_log()
    with sqlite3.connect(mirrored_store) as database:
        database.execute("UPDATE checkpoints SET note = replace(note, '500', '501')")
    with pytest.raises(CommandError, match="a checkpoint the log did not sign"):
        restore(mirrored_store)
    assert not Entry.objects.exists()


def test_a_missing_store_is_named(transactional_db, tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        restore(tmp_path / "nowhere.sqlite3")
    assert not (tmp_path / "nowhere.sqlite3").exists()


def test_demo_loading_after_a_restore_logs_no_history_twice(
    live_server, registered_mirror, log_key, tmp_path, settings
):
    from carhistory.demo.data import DEMO_VINS

    settings.DEBUG = True
    call_command("load_demo", stdout=StringIO())
    grow_log(3)
    assert mirror_main(sync_arguments(live_server, registered_mirror, log_key, tmp_path)) == 0
    histories = {vin: len(selectors.entries_for_vin(vin)) for vin, _ in DEMO_VINS}
    # The whole database is lost, accounts and submissions included, and not restored.
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE sources_organisation CASCADE")
    lose_the_log()
    restore(tmp_path / "mirror.sqlite3")
    call_command("load_demo", stdout=StringIO())
    assert {vin: len(selectors.entries_for_vin(vin)) for vin, _ in DEMO_VINS} == histories

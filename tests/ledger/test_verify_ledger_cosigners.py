"""`manage.py verify_ledger` checks the log against what its witnesses and mirrors hold: a log
rolled back or rewritten by whoever controls its database agrees with itself, but not with
them. Witnesses are real `carhistory-witness serve` processes, asked over HTTP."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from carhistory_verifier import merkle, note
from carhistory_verifier.mirror.store import MirrorStore
from django.core.management import CommandError, call_command
from django.db import connection

from ledger import selectors, services, witnessing
from ledger.models import Entry
from tests.ledger.factories import EntryFactory
from tests.witness.processes import WitnessProcess

# Every table of the ledger app: what a dump of the log's database holds of it.
LEDGER_TABLES = [
    "ledger_pendingentry",
    "ledger_entry",
    "ledger_subtree",
    "ledger_checkpoint",
    "ledger_cosigner",
    "ledger_cosignature",
    "ledger_mirror",
    "ledger_vinkey",
    "ledger_vinindexnode",
]


def register(process: WitnessProcess) -> int:
    return witnessing.add_witness(verifier_key=process.verifier.key_string(), url=process.url)[0].id


def grow(batches: int, size: int = 30) -> None:
    # Each batch is `size` entries and its vin_index entry (SPEC §7): 31 leaves.
    for _ in range(batches):
        services.enqueue_entries(entries=EntryFactory.build_batch(size))
        services.integrate_pending()


def push(witness_id: int) -> None:
    result = witnessing.push_to_witness(witness_id=witness_id)
    assert result.outcome == witnessing.Outcome.COSIGNED, result


def take_dump(tables: list[str] = LEDGER_TABLES) -> None:
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"CREATE TEMPORARY TABLE dump_{table} AS SELECT * FROM {table}")


def restore_dump(tables: list[str] = LEDGER_TABLES) -> None:
    # What the owner of the database can do: switch the triggers (append-only and foreign
    # keys) off, empty the tables and load the old dump.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        for table in tables:
            cursor.execute(f"DELETE FROM {table}")
            cursor.execute(f"INSERT INTO {table} SELECT * FROM dump_{table}")
        cursor.execute("SET LOCAL session_replication_role = origin")


def rewrite_from_scratch(leaves: int) -> None:
    """Empty the log and rebuild it, signed by the same key, from other entries."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        for table in ["ledger_entry", "ledger_subtree", "ledger_checkpoint"]:
            cursor.execute(f"DELETE FROM {table}")
        cursor.execute("DELETE FROM ledger_cosignature")
        cursor.execute("DELETE FROM ledger_vinkey")
        cursor.execute("DELETE FROM ledger_vinindexnode")
        cursor.execute("SET LOCAL session_replication_role = origin")
    services.enqueue_entries(entries=EntryFactory.build_batch(leaves - 1))
    services.integrate_pending()


def audit(*arguments: str) -> str:
    out = StringIO()
    call_command("verify_ledger", *arguments, stdout=out)
    return out.getvalue()


def test_an_intact_log_is_checked_against_the_witness(db, witness):
    witness_id = register(witness)
    grow(2)
    push(witness_id)

    out = audit()
    assert "witness registry.example/w1: 62 (its stored cosignature) is in the log" in out
    assert "witness registry.example/w1: held 62, extended by checkpoint 62" in out
    assert "ok: 62 entries" in out


def test_a_witness_that_never_cosigned_is_told_the_log_and_passes(db, witness):
    register(witness)
    grow(1)
    assert "had cosigned nothing of this log; now holds 31" in audit()


def test_a_log_restored_from_an_old_dump_fails_naming_the_witness(db, witness):
    witness_id = register(witness)
    grow(2)
    push(witness_id)
    take_dump()
    grow(1)
    push(witness_id)  # the witness now holds checkpoint 93
    restore_dump()  # the whole ledger, cosigners included, as it was at 62

    # The restored log agrees with itself and with the cosignatures it holds; it has no
    # memory of 93 (a fresh audit state file), only the witness does.
    assert audit("--offline")
    with pytest.raises(
        CommandError,
        match=r"witness registry\.example/w1 holds checkpoint 93 \(as it answered\), but the "
        r"log's latest checkpoint is 62: the log was rolled back",
    ):
        audit()


def test_a_rollback_of_the_log_tables_alone_is_caught_without_the_network(db, witness):
    witness_id = register(witness)
    grow(2)
    log_tables = ["ledger_entry", "ledger_subtree", "ledger_checkpoint", "ledger_vinkey"]
    take_dump([*log_tables, "ledger_vinindexnode"])
    grow(1)
    push(witness_id)
    restore_dump([*log_tables, "ledger_vinindexnode"])
    witness.stop()  # nothing to ask: the rows the rollback left behind are enough

    with pytest.raises(
        CommandError,
        match=r"witness registry\.example/w1 cosigned checkpoints that are no longer stored",
    ):
        audit("--offline")
    # The test's transaction checks its foreign keys when it ends: drop what the attack left.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("DELETE FROM ledger_cosignature WHERE checkpoint_id > 62")


@pytest.mark.parametrize("cosigned_batches", [3, 2], ids=["same size", "smaller size"])
def test_a_forked_log_fails_naming_the_witness(db, witness, cosigned_batches):
    witness_id = register(witness)
    grow(cosigned_batches)
    push(witness_id)
    # Another log of 93 leaves under the same key: the witness saw 93 (same size, another
    # root) or 62 (a tree the new one does not extend).
    rewrite_from_scratch(93)

    with pytest.raises(
        CommandError,
        match=r"witness registry\.example/w1 cosigned a tree of size \d+ that the log's latest "
        "checkpoint does not extend: the log was forked",
    ):
        audit()


def test_a_rewritten_stored_cosignature_is_caught(db, witness):
    witness_id = register(witness)
    grow(1)
    push(witness_id)
    other = note.CosignatureSigner.generate("registry.example/w1")
    forged = note.cosign_checkpoint(selectors.latest_checkpoint().note, other, timestamp=1)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE ledger_cosignature SET signature_line = %s", [forged.rstrip("\n")])
        cursor.execute("SET LOCAL session_replication_role = origin")

    with pytest.raises(CommandError, match="stored cosignature on checkpoint 31 does not verify"):
        audit("--offline")


def test_a_witness_that_is_down_is_reported_not_failed(db, witness):
    witness_id = register(witness)
    grow(1)
    push(witness_id)
    witness.stop()

    out = audit()
    assert "witness registry.example/w1: not checked (cannot reach" in out
    assert "ok: 31 entries" in out


# --- mirrors ----------------------------------------------------------------------------------


def mirror_the_log(path: Path, log_key: note.Signer) -> None:
    """A mirror store of the whole log as `carhistory-mirror sync` leaves it: every entry, the
    tree's right edge, and the latest checkpoint with the mirror's cosignature."""
    entries = [
        bytes(data) for data in Entry.objects.order_by("index").values_list("data", flat=True)
    ]
    frontier = merkle.Frontier()
    for entry in entries:
        frontier.append(merkle.leaf_hash(entry))
    checkpoint = selectors.latest_checkpoint()
    mirror_key = note.CosignatureSigner.generate("insurers.example/mirror")
    store = MirrorStore(path, log_key.verifier())
    store.append(0, entries, frontier)
    store.record_checkpoint(
        checkpoint.note, note.cosign_checkpoint(checkpoint.note, mirror_key, timestamp=1).rstrip()
    )
    store.close()


def test_a_mirror_store_the_log_extends_passes(db, tmp_path, log_key):
    grow(1)
    mirror_the_log(tmp_path / "mirror.db", log_key)
    grow(1)
    out = audit("--mirror-store", str(tmp_path / "mirror.db"))
    assert "mirror insurers.example/mirror: 31 (signed by the log, in" in out


def test_a_log_rolled_back_below_a_mirror_fails_naming_the_mirror(db, tmp_path, log_key):
    grow(1)
    take_dump()
    grow(1)
    mirror_the_log(tmp_path / "mirror.db", log_key)
    restore_dump()

    with pytest.raises(
        CommandError, match=r"mirror insurers\.example/mirror holds checkpoint 62 \(signed by"
    ):
        audit("--mirror-store", str(tmp_path / "mirror.db"))


def test_a_mirror_store_that_does_not_exist_is_an_error(db, tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        audit("--mirror-store", str(tmp_path / "missing.db"))

"""`manage.py verify_ledger` catches rows changed behind the triggers' back."""

import pytest
from carhistory_verifier import merkle
from django.core.management import CommandError, call_command
from django.db import connection

from ledger import audit, services
from tests.ledger.factories import EntryFactory


@pytest.fixture
def log_of_100(db):
    # Four batches (30, 30, 30, 6), each ending with its vin_index entry: 100 leaves,
    # checkpoints at 31, 62, 93 and 100.
    services.enqueue_entries(entries=EntryFactory.build_batch(96))
    services.integrate_pending(batch_size=30)


def tamper(sql: str, params: list) -> None:
    # What an attacker with database superuser rights could do: switch the triggers off.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("SET LOCAL session_replication_role = origin")


def test_an_intact_log_passes(log_of_100, capsys):
    call_command("verify_ledger")
    assert "ok: 100 entries, 97 subtrees and 4 checkpoints verified" in capsys.readouterr().out


def test_the_audit_runs_without_the_command(log_of_100):
    # The command is a thin edge: the audit is a function other code (and tests) can call.
    assert audit.verify_ledger(chunk_size=7) == {
        "entries": 100,
        "subtrees": 97,
        "checkpoints": 4,
        "vin_index_entries": 4,
    }


def test_an_empty_log_passes(db, capsys):
    call_command("verify_ledger")
    assert "ok: 0 entries" in capsys.readouterr().out


def test_rewritten_entry_bytes_are_named_by_index(log_of_100):
    tamper("UPDATE ledger_entry SET data = %s WHERE index = 42", [b'{"forged":true}'])
    with pytest.raises(CommandError, match="first tampered index 42: its leaf hash"):
        call_command("verify_ledger")


def test_bytes_rewritten_with_a_matching_leaf_hash_are_caught_by_the_subtrees(log_of_100):
    forged = b'{"forged":true}'
    tamper(
        "UPDATE ledger_entry SET data = %s, leaf_hash = %s WHERE index = 57",
        [forged, merkle.leaf_hash(forged)],
    )
    with pytest.raises(CommandError, match=r"first tampered index 56: stored subtree \(1, 28\)"):
        call_command("verify_ledger")


def test_a_deleted_entry_is_named(log_of_100):
    tamper("DELETE FROM ledger_entry WHERE index = 13", [])
    with pytest.raises(CommandError, match="first tampered index 13: the entry is missing"):
        call_command("verify_ledger")


def test_a_forged_subtree_is_named(log_of_100):
    tamper("UPDATE ledger_subtree SET hash = %s WHERE level = 3 AND index = 5", [bytes(32)])
    with pytest.raises(CommandError, match=r"first tampered index 40: stored subtree \(3, 5\)"):
        call_command("verify_ledger")


def test_a_forged_checkpoint_root_is_caught(log_of_100):
    tamper("UPDATE ledger_checkpoint SET root_hash = %s WHERE tree_size = 62", [bytes(32)])
    with pytest.raises(CommandError, match="checkpoint 62: its root hash"):
        call_command("verify_ledger")


def test_a_checkpoint_note_signed_by_another_key_is_caught(log_of_100):
    tamper(
        "UPDATE ledger_checkpoint SET note = replace(note, '\n100\n', '\n101\n') "
        "WHERE tree_size = 100",
        [],
    )
    with pytest.raises(CommandError, match="checkpoint 100"):
        call_command("verify_ledger")


# --- the audit remembers what it verified -----------------------------------------------------


def test_a_truncated_log_fails_once_a_checkpoint_was_verified(log_of_100, capsys):
    call_command("verify_ledger")
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE ledger_entry, ledger_subtree, ledger_checkpoint CASCADE")

    with pytest.raises(CommandError, match="the log has 0 entries, but checkpoint 100"):
        call_command("verify_ledger")


def test_a_log_rewritten_from_scratch_fails_on_its_root(log_of_100, settings):
    call_command("verify_ledger")
    # Empty the log and rebuild it, signed by the same key, from other entries: it verifies on
    # its own, but it is not the log that was audited.
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE ledger_entry, ledger_subtree, ledger_checkpoint CASCADE")
    # 99 entries and the batch's vin_index entry (SPEC §7): another tree of size 100.
    services.enqueue_entries(entries=EntryFactory.build_batch(99))
    services.integrate_pending()

    with pytest.raises(CommandError, match="checkpoint 100 has another root"):
        call_command("verify_ledger")


def test_the_remembered_checkpoint_moves_forward_with_the_log(log_of_100, settings):
    call_command("verify_ledger")
    services.enqueue_entries(entries=EntryFactory.build_batch(5))
    services.integrate_pending()
    call_command("verify_ledger")

    remembered = audit.remembered_checkpoint(settings.LEDGER_AUDIT_STATE_FILE)
    assert remembered.tree_size == 106  # five entries and their vin_index entry

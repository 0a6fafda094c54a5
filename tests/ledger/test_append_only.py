"""History cannot be rewritten: the database itself refuses UPDATE and DELETE on the log."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from ledger import services
from ledger.models import Checkpoint, Cosignature, Cosigner, Entry, Subtree
from tests.ledger.factories import EntryFactory

ATTACKS = [
    "UPDATE ledger_entry SET data = '\\x00'::bytea WHERE index = 0",
    "DELETE FROM ledger_entry WHERE index = 1",
    "UPDATE ledger_subtree SET hash = '\\x00'::bytea WHERE level = 1",
    "DELETE FROM ledger_subtree",
    "UPDATE ledger_checkpoint SET note = 'forged' WHERE tree_size = 5",
    "DELETE FROM ledger_checkpoint",
    "UPDATE ledger_cosignature SET signature_line = 'forged'",
    "DELETE FROM ledger_cosignature",
]


@pytest.fixture
def small_log(log_key):
    services.enqueue_entries(entries=EntryFactory.build_batch(4))
    services.integrate_pending()
    witness = Cosigner.objects.create(name="witness.example", verifier_key="w+00000000+BA==")
    Cosignature.objects.create(
        checkpoint=Checkpoint.objects.get(tree_size=5),
        cosigner=witness,
        signature_line="— witness.example AAAA",
        timestamp=1,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("attack", ATTACKS)
def test_raw_sql_cannot_rewrite_the_log_on_postgresql(small_log, attack):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(attack)
    assert Entry.objects.count() == 5  # four and the batch's vin_index entry
    assert Subtree.objects.count() == 3
    assert Checkpoint.objects.get(tree_size=5).note.startswith(settings.LEDGER_ORIGIN)
    assert Cosignature.objects.get().signature_line == "— witness.example AAAA"


@pytest.mark.django_db
def test_the_orm_cannot_rewrite_the_log_either(small_log):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Entry.objects.filter(index=0).update(vin="WVWZZZ1JZXW000001")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Entry.objects.filter(index=3).delete()


@pytest.mark.django_db
def test_cosigners_and_pending_entries_stay_editable(small_log):
    assert Cosigner.objects.update(active=False) == 1


def test_the_migration_makes_sqlite_refuse_updates_and_deletes(tmp_path: Path):
    database = tmp_path / "embedded.sqlite3"
    environment = {**os.environ, "DATABASE_URL": f"sqlite:///{database}"}
    environment.pop("REDIS_URL", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "ledger", "--skip-checks", "-v", "0"],
        cwd=settings.BASE_DIR,
        env=environment,
        check=True,
        timeout=120,
    )
    with sqlite3.connect(database) as raw:
        for row in [
            'INSERT INTO ledger_entry ("index", leaf_hash, data, type, source, occurred_at, '
            "integrated_at) VALUES (0, zeroblob(32), x'7b7d', 'service', 's', '', '2024-01-01')",
            'INSERT INTO ledger_subtree (level, "index", hash) VALUES (1, 0, zeroblob(32))',
            "INSERT INTO ledger_checkpoint (tree_size, root_hash, note, created_at) "
            "VALUES (1, zeroblob(32), 'n', '2024-01-01')",
            "INSERT INTO ledger_cosigner (id, name, title, verifier_key, kind, active, url, "
            "failures, last_error) VALUES (1, 'w', '', 'k', 'witness', 1, '', 0, '')",
            "INSERT INTO ledger_cosignature (checkpoint_id, cosigner_id, signature_line, "
            "timestamp, created_at) VALUES (1, 1, 'line', 1, '2024-01-01')",
        ]:
            raw.execute(row)
        for attack in [
            "UPDATE ledger_entry SET data = x'00'",
            "DELETE FROM ledger_entry",
            "UPDATE ledger_subtree SET hash = x'00'",
            "DELETE FROM ledger_subtree",
            "UPDATE ledger_checkpoint SET note = 'forged'",
            "DELETE FROM ledger_checkpoint",
            "UPDATE ledger_cosignature SET signature_line = 'forged'",
            "DELETE FROM ledger_cosignature",
        ]:
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                raw.execute(attack)
        assert raw.execute("SELECT count(*) FROM ledger_entry").fetchone() == (1,)
        assert raw.execute("SELECT note FROM ledger_checkpoint").fetchone() == ("n",)
        assert raw.execute("UPDATE ledger_cosigner SET active = 0").rowcount == 1

"""Rows written when platform entries were integrated inside the request kept a log index; the
migrations to pending ids give each the pending id of the entry at that index, and going back
gives the index again."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from ledger.selectors import entry_for_pending
from ledger.services import enqueue_entries, integrate_pending
from tests.ledger.factories import EntryFactory

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [
    ("sources", "0003_submission_body_fingerprint"),
    ("moderation", "0004_audit_change_source_profile"),
]
AFTER = [("sources", "0004_signingkey_pending_id"), ("moderation", "0005_pending_ids")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def old_schema():
    apps = _migrate(BEFORE)
    yield apps
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def _logged(count: int) -> list[int]:
    """Log `count` entries; their pending ids, in index order."""
    pendings = enqueue_entries(entries=EntryFactory.build_batch(count))
    integrate_pending(wait=True)
    assert [entry_for_pending(p.id).index for p in pendings] == list(range(count))
    return [pending.id for pending in pendings]


def _old_rows(apps, indexes):
    organisation = apps.get_model("sources", "Organisation").objects.create(
        slug="old-garage",
        name="Old Garage",
        kind="repair_shop",
        status="approved",
        decided_at="2026-01-01T00:00:00Z",
    )
    apps.get_model("sources", "SigningKey").objects.create(
        organisation=organisation,
        verifier_key="old-garage+0a0b0c0d+AAAA",
        key_id="0a0b0c0d",
        ledger_index=indexes["key"],
    )
    moderator = apps.get_model("auth", "User").objects.create(username="moderator")
    dispute = apps.get_model("moderation", "Dispute").objects.create(
        entry_index=0,
        vin="LFV2A21K0E3000001",
        reason="typo",
        status="corrected",
        resolution_reason="fixed",
        resolved_at="2026-01-01T00:00:00Z",
        correction_index=indexes["correction"],
    )
    AuditEntry = apps.get_model("moderation", "AuditEntry")
    AuditEntry.objects.create(
        moderator=moderator,
        action="correct_entry",
        reason="typo",
        dispute=dispute,
        ledger_index=indexes["correction"],
    )
    AuditEntry.objects.create(moderator=moderator, action="reject_application", reason="no")


def test_old_rows_get_the_pending_ids_of_their_entries_and_back(old_schema):
    pending_ids = _logged(3)
    _old_rows(old_schema, {"key": 1, "correction": 2})

    apps = _migrate(AFTER)

    assert apps.get_model("sources", "SigningKey").objects.get().pending_id == pending_ids[1]
    assert (
        apps.get_model("moderation", "Dispute").objects.get().correction_pending_id
        == (pending_ids[2])
    )
    audits = apps.get_model("moderation", "AuditEntry").objects.order_by("pk")
    assert [audit.pending_id for audit in audits] == [pending_ids[2], None]

    apps = _migrate(BEFORE)

    assert apps.get_model("sources", "SigningKey").objects.get().ledger_index == 1
    assert apps.get_model("moderation", "Dispute").objects.get().correction_index == 2
    audits = apps.get_model("moderation", "AuditEntry").objects.order_by("pk")
    assert [audit.ledger_index for audit in audits] == [2, None]


def test_a_row_whose_entry_has_no_pending_id_stops_the_migration(old_schema):
    _logged(1)
    organisation = old_schema.get_model("sources", "Organisation").objects.create(
        slug="old-garage", name="Old Garage", kind="repair_shop", status="applied"
    )
    SigningKey = old_schema.get_model("sources", "SigningKey")
    # Index 1 is the vin_index entry that ends the batch: the sequencer's own, no pending id.
    SigningKey.objects.create(
        organisation=organisation,
        verifier_key="old-garage+0a0b0c0d+AAAA",
        key_id="0a0b0c0d",
        ledger_index=1,
    )
    with pytest.raises(RuntimeError, match="cannot be migrated"):
        _migrate([("sources", "0004_signingkey_pending_id")])
    # Nothing was changed: the row still names its index, and without it the migration passes.
    assert SigningKey.objects.get().ledger_index == 1
    SigningKey.objects.all().delete()

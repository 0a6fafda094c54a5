"""The audit trail and corrected disputes refer to the entry a moderator's action appended by
pending id instead of log index.

A moderator's action now only enqueues its entry; the sequencer integrates it after the request,
so the index is not known when the row is written. Every entry the sequencer integrated keeps
its pending id (`ledger.Entry.pending_id`), which is how existing rows find theirs.
"""

from django.db import migrations, models
from django.db.models import Q

# (model, the old index field, the new pending-id field)
REFERENCES = [
    ("AuditEntry", "ledger_index", "pending_id"),
    ("Dispute", "correction_index", "correction_pending_id"),
]


def pending_ids_from_indexes(apps, schema_editor):
    Entry = apps.get_model("ledger", "Entry")
    for model_name, index_field, pending_field in REFERENCES:
        model = apps.get_model("moderation", model_name)
        rows = list(model.objects.filter(**{f"{index_field}__isnull": False}))
        wanted = [getattr(row, index_field) for row in rows]
        pending_ids = dict(
            Entry.objects.filter(index__in=wanted).values_list("index", "pending_id")
        )
        missing = sorted(index for index in wanted if pending_ids.get(index) is None)
        if missing:
            # A log restored from a mirror keeps no pending ids; guessing one would point the
            # row at another entry, so stop and say which rows need a decision.
            raise RuntimeError(
                f"no pending id is stored for the entries at indexes {missing} that "
                f"{model_name} rows name; they cannot be migrated automatically"
            )
        for row in rows:
            setattr(row, pending_field, pending_ids[getattr(row, index_field)])
        model.objects.bulk_update(rows, [pending_field])


def indexes_from_pending_ids(apps, schema_editor):
    Entry = apps.get_model("ledger", "Entry")
    for model_name, index_field, pending_field in REFERENCES:
        model = apps.get_model("moderation", model_name)
        rows = list(model.objects.filter(**{f"{pending_field}__isnull": False}))
        wanted = [getattr(row, pending_field) for row in rows]
        indexes = dict(
            Entry.objects.filter(pending_id__in=wanted).values_list("pending_id", "index")
        )
        if any(pending_id not in indexes for pending_id in wanted):
            raise RuntimeError(
                f"some entries {model_name} rows name are still pending: let the sequencer "
                "integrate them first"
            )
        for row in rows:
            setattr(row, index_field, indexes[getattr(row, pending_field)])
        model.objects.bulk_update(rows, [index_field])


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0006_vin_index"),
        ("moderation", "0004_audit_change_source_profile"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditentry",
            name="pending_id",
            field=models.BigIntegerField(
                blank=True, null=True, verbose_name="pending id of the appended entry"
            ),
        ),
        migrations.AddField(
            model_name="dispute",
            name="correction_pending_id",
            field=models.BigIntegerField(
                blank=True, null=True, verbose_name="pending id of the correction entry"
            ),
        ),
        migrations.RemoveConstraint(
            model_name="dispute", name="dispute_correction_index_iff_corrected"
        ),
        migrations.RunPython(pending_ids_from_indexes, indexes_from_pending_ids),
        migrations.RemoveField(model_name="auditentry", name="ledger_index"),
        migrations.RemoveField(model_name="dispute", name="correction_index"),
        migrations.AddConstraint(
            model_name="dispute",
            constraint=models.CheckConstraint(
                condition=(Q(status="corrected") & Q(correction_pending_id__isnull=False))
                | (~Q(status="corrected") & Q(correction_pending_id__isnull=True)),
                name="dispute_correction_iff_corrected",
            ),
        ),
    ]

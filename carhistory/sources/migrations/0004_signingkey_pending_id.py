"""Signing keys refer to their `source_key` entry by pending id instead of log index.

Registering a key now only enqueues its entry; the sequencer integrates it after the request, so
the index is not known when the row is written. Every entry the sequencer integrated keeps its
pending id (`ledger.Entry.pending_id`), which is how existing rows find theirs.
"""

from django.db import migrations, models


def pending_ids_from_indexes(apps, schema_editor):
    SigningKey = apps.get_model("sources", "SigningKey")
    Entry = apps.get_model("ledger", "Entry")
    keys = list(SigningKey.objects.all())
    pending_ids = dict(
        Entry.objects.filter(index__in=[key.ledger_index for key in keys]).values_list(
            "index", "pending_id"
        )
    )
    missing = sorted(key.ledger_index for key in keys if pending_ids.get(key.ledger_index) is None)
    if missing:
        # A log restored from a mirror keeps no pending ids; guessing one would point the key
        # at another entry, so stop and say which rows need a decision.
        raise RuntimeError(
            f"no pending id is stored for the source_key entries at indexes {missing}; "
            "these signing keys cannot be migrated automatically"
        )
    for key in keys:
        key.pending_id = pending_ids[key.ledger_index]
    SigningKey.objects.bulk_update(keys, ["pending_id"])


def indexes_from_pending_ids(apps, schema_editor):
    SigningKey = apps.get_model("sources", "SigningKey")
    Entry = apps.get_model("ledger", "Entry")
    keys = list(SigningKey.objects.all())
    indexes = dict(
        Entry.objects.filter(pending_id__in=[key.pending_id for key in keys]).values_list(
            "pending_id", "index"
        )
    )
    if any(key.pending_id not in indexes for key in keys):
        raise RuntimeError(
            "some source_key entries are still pending: let the sequencer integrate them first"
        )
    for key in keys:
        key.ledger_index = indexes[key.pending_id]
    SigningKey.objects.bulk_update(keys, ["ledger_index"])


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0006_vin_index"),
        ("sources", "0003_submission_body_fingerprint"),
    ]

    operations = [
        migrations.AddField(
            model_name="signingkey",
            name="pending_id",
            field=models.BigIntegerField(
                null=True, verbose_name="pending id of its source_key entry"
            ),
        ),
        # Nullable before the copy, so that going back can add the column empty and fill it.
        migrations.AlterField(
            model_name="signingkey",
            name="ledger_index",
            field=models.BigIntegerField(
                null=True, unique=True, verbose_name="log index of its source_key entry"
            ),
        ),
        migrations.RunPython(pending_ids_from_indexes, indexes_from_pending_ids),
        migrations.RemoveField(model_name="signingkey", name="ledger_index"),
        migrations.AlterField(
            model_name="signingkey",
            name="pending_id",
            field=models.BigIntegerField(
                unique=True, verbose_name="pending id of its source_key entry"
            ),
        ),
    ]

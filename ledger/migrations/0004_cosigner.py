"""Witness becomes Cosigner (witnesses and mirrors alike), with what the log needs to push
checkpoints to a witness; a checkpoint may hold several cosignatures by one cosigner, one per
time it was asked.

On SQLite, changing a table's constraints rebuilds the table, and its triggers go with it:
the append-only triggers of 0002 are created again at the end.
"""

from importlib import import_module

from django.db import migrations, models

append_only = import_module("ledger.migrations.0002_append_only_triggers")


class Migration(migrations.Migration):
    dependencies = [("ledger", "0003_mirror")]

    operations = [
        migrations.RenameModel("Witness", "Cosigner"),
        migrations.AlterModelOptions(
            name="cosigner",
            options={"verbose_name": "cosigner", "verbose_name_plural": "cosigners"},
        ),
        migrations.RemoveConstraint(
            model_name="cosignature", name="ledger_cosignature_once_per_witness"
        ),
        migrations.RenameField("Cosignature", "witness", "cosigner"),
        migrations.AddField(
            model_name="cosigner",
            name="kind",
            field=models.CharField(
                choices=[("witness", "witness"), ("mirror", "mirror")],
                default="witness",
                max_length=16,
                verbose_name="kind",
            ),
        ),
        migrations.AddField(
            model_name="cosigner",
            name="url",
            field=models.URLField(
                blank=True,
                help_text="A witness's tlog-witness submission prefix; add-checkpoint is sent below it.",
                verbose_name="submission URL",
            ),
        ),
        migrations.AddField(
            model_name="cosigner",
            name="cosigned_size",
            field=models.BigIntegerField(blank=True, null=True, verbose_name="last cosigned size"),
        ),
        migrations.AddField(
            model_name="cosigner",
            name="cosigned_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="last cosigned at"),
        ),
        migrations.AddField(
            model_name="cosigner",
            name="failures",
            field=models.PositiveIntegerField(default=0, verbose_name="failures in a row"),
        ),
        migrations.AddField(
            model_name="cosigner",
            name="retry_at",
            field=models.DateTimeField(
                blank=True, null=True, verbose_name="next attempt not before"
            ),
        ),
        migrations.AddField(
            model_name="cosigner",
            name="last_error",
            field=models.TextField(blank=True, verbose_name="last error"),
        ),
        migrations.AddConstraint(
            model_name="cosigner",
            constraint=models.CheckConstraint(
                condition=models.Q(cosigned_size__gte=0), name="ledger_cosigner_cosigned_size"
            ),
        ),
        migrations.AddConstraint(
            model_name="cosignature",
            constraint=models.UniqueConstraint(
                fields=("checkpoint", "cosigner", "timestamp"),
                name="ledger_cosignature_once_per_time",
            ),
        ),
        migrations.RunPython(append_only.create_triggers, migrations.RunPython.noop),
    ]

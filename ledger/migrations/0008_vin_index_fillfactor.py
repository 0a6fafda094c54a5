"""Free space in the pages of the two tables the sequencer rewrites every batch (SPEC §7's map).

A batch updates tens of thousands of VIN index nodes and VIN keys in place. With free space
on a row's page, PostgreSQL writes the new version there without touching the primary-key
index (a "heap-only tuple" update), since no indexed column changes. The setting applies to
pages written from now on; `VACUUM FULL` on either table applies it to an existing log.
"""

from django.db import migrations

TABLES = {"ledger_vinindexnode": 70, "ledger_vinkey": 80}


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, percent in TABLES.items():
        schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {percent})")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"ALTER TABLE {table} RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("ledger", "0007_cosigner_title_zh_hans")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor)]

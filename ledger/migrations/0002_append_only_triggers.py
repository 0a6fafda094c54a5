"""The log's history is enforced by the database, not only by Python: every UPDATE or DELETE on
an append-only table is refused by a trigger, whoever issues it (ORM, admin, raw SQL, a shell).

PostgreSQL gets one PL/pgSQL function shared by a row trigger per table; SQLite, which has no
trigger functions, gets a pair of RAISE(ABORT) triggers per table. TRUNCATE is left alone on
PostgreSQL (row triggers do not fire on it) so that test databases can still be flushed; it
needs table ownership, which the application role in production should not have.
"""

from django.db import migrations

APPEND_ONLY_TABLES = ["ledger_entry", "ledger_subtree", "ledger_checkpoint", "ledger_cosignature"]

POSTGRESQL_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;
"""


def _statements_for(vendor: str, *, create: bool) -> list[str]:
    statements: list[str] = []
    if vendor == "postgresql":
        if create:
            statements.append(POSTGRESQL_FUNCTION)
        for table in APPEND_ONLY_TABLES:
            statements.append(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            if create:
                statements.append(
                    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
                )
        if not create:
            statements.append("DROP FUNCTION IF EXISTS ledger_refuse_change()")
    elif vendor == "sqlite":
        for table in APPEND_ONLY_TABLES:
            for operation in ("UPDATE", "DELETE"):
                name = f"{table}_no_{operation.lower()}"
                statements.append(f"DROP TRIGGER IF EXISTS {name}")
                if create:
                    statements.append(
                        f"CREATE TRIGGER {name} BEFORE {operation} ON {table} BEGIN "
                        f"SELECT RAISE(ABORT, 'the ledger is append-only: {operation} on "
                        f"{table} is refused'); END"
                    )
    else:
        raise NotImplementedError(
            f"append-only triggers are written for PostgreSQL and SQLite, not {vendor}"
        )
    return statements


def create_triggers(apps, schema_editor):
    for statement in _statements_for(schema_editor.connection.vendor, create=True):
        schema_editor.execute(statement, params=None)


def drop_triggers(apps, schema_editor):
    for statement in _statements_for(schema_editor.connection.vendor, create=False):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]

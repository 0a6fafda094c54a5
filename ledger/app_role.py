"""The database role the site runs as: it neither owns the tables nor is a superuser.

Append-only triggers stop UPDATE and DELETE from anyone, but the owner of a table may still
TRUNCATE it, disable or drop its trigger, and a superuser may set `session_replication_role =
replica` so no trigger fires. So migrations run as the owner, and the web server, the worker
and beat connect as this role, which may only read and write rows: on the append-only tables
(found by their trigger) it may only SELECT and INSERT. Run `manage.py create_app_role` as the
owner after every `migrate`: new tables need their grants.
"""

from django.db import connection
from psycopg2 import sql

APPEND_ONLY_TRIGGER_FUNCTION = "ledger_refuse_change"
ROW_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
APPEND_ONLY_PRIVILEGES = "SELECT, INSERT"


def append_only_tables() -> list[str]:
    """The tables guarded by the append-only trigger, as the database says, not as a list here."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT c.relname FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE p.proname = %s ORDER BY c.relname",
            [APPEND_ONLY_TRIGGER_FUNCTION],
        )
        return [row[0] for row in cursor.fetchall()]


def create_app_role(*, role: str, password: str | None = None) -> list[str]:
    """Create `role` if missing (LOGIN, no superuser, no role or database creation, no
    replication, no row-security bypass) and grant it exactly what the site needs on this
    database; idempotent. Returns the tables granted append-only."""
    if connection.vendor != "postgresql":
        raise ValueError("database roles are a PostgreSQL feature; this database is not one")
    name = sql.Identifier(role)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        verb = "ALTER" if cursor.fetchone() else "CREATE"
        cursor.execute(
            sql.SQL(
                verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                "NOBYPASSRLS NOINHERIT"
            ).format(name)
            + (sql.SQL(" PASSWORD {}").format(sql.Literal(password)) if password else sql.SQL(""))
        )
        cursor.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(connection.settings_dict["NAME"]), name
            )
        )
        cursor.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(name))
        append_only = append_only_tables()
        for table in connection.introspection.table_names(cursor):
            privileges = APPEND_ONLY_PRIVILEGES if table in append_only else ROW_PRIVILEGES
            # Revoke first, so a rerun also takes back what an older version granted.
            cursor.execute(
                sql.SQL("REVOKE ALL ON TABLE {} FROM {}").format(sql.Identifier(table), name)
            )
            cursor.execute(
                sql.SQL("GRANT " + privileges + " ON TABLE {} TO {}").format(
                    sql.Identifier(table), name
                )
            )
        cursor.execute(
            sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(name)
        )
    return append_only

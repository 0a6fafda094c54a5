"""A throw-away PostgreSQL database for one benchmark run, on the server DATABASE_URL names."""

from urllib.parse import urlsplit, urlunsplit

import psycopg2


def run_on_server(url: str, *statements: str) -> None:
    # CREATE/DROP DATABASE refuse to run in a transaction: autocommit, no `with connection`.
    connection = psycopg2.connect(urlunsplit(urlsplit(url)._replace(path="/postgres")))
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        connection.close()


def create_database(url: str, name: str) -> str:
    """Create `name` afresh (dropping any left by an earlier run) and return its URL."""
    run_on_server(url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}")
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def drop_database(url: str, name: str) -> None:
    run_on_server(url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def buffers_and_size(url: str) -> tuple[int, int]:
    """PostgreSQL's `shared_buffers` and the size of `url`'s database, in bytes."""
    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT setting::bigint * current_setting('block_size')::bigint, "
                "pg_database_size(current_database()) FROM pg_settings "
                "WHERE name = 'shared_buffers'"
            )
            return cursor.fetchone()
    finally:
        connection.close()


def prewarm(url: str, tables: list[str]) -> int:
    """Load `tables` and their indexes into PostgreSQL's shared buffers (the pg_prewarm
    extension, shipped with PostgreSQL) and return the bytes loaded: the state of a server
    that has been answering for a while, rather than one reading each page for the first time
    since it started. Pages beyond `shared_buffers` push earlier ones out again."""
    connection = psycopg2.connect(url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
            cursor.execute(
                "SELECT coalesce(sum(pg_prewarm(relation.oid, 'buffer')), 0) "
                "* current_setting('block_size')::bigint FROM pg_class AS relation "
                "WHERE relation.oid = ANY(%s::regclass[]) OR relation.oid IN "
                "(SELECT indexrelid FROM pg_index WHERE indrelid = ANY(%s::regclass[]))",
                [tables, tables],
            )
            return cursor.fetchone()[0]
    finally:
        connection.close()

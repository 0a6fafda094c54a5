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

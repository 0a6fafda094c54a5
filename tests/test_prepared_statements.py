"""Prepared statements follow their connection: a rollback keeps them, a new connection
prepares them again, and two statements of the same name on two connections do not meet."""

import threading

import pytest
from django.db import connection, connections, transaction

from carhistory.prepared_statements import prepared
from carhistory.sources.services import find_api_key
from tests.sources.factories import OrganisationFactory, api_key_for

STATEMENT = "SELECT $1::int + 1"


def run(value: int) -> int:
    with connection.cursor() as cursor:
        name = prepared(cursor, name="test_add_one", statement=STATEMENT)
        cursor.execute(f"EXECUTE {name}(%s)", [value])
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_statement_prepared_in_a_rolled_back_transaction_still_runs():
    with transaction.atomic():
        assert run(1) == 2
        transaction.set_rollback(True)
    assert run(2) == 3


@pytest.mark.django_db(transaction=True)
def test_a_new_connection_prepares_again():
    assert run(1) == 2
    connection.close()
    assert run(41) == 42


@pytest.mark.django_db(transaction=True)
def test_each_thread_prepares_on_its_own_connection():
    assert run(1) == 2
    found = []

    def in_another_thread() -> None:
        try:
            found.append(run(9))
        finally:
            connections.close_all()

    thread = threading.Thread(target=in_another_thread)
    thread.start()
    thread.join()
    assert found == [10]


@pytest.mark.django_db(transaction=True)
def test_an_api_key_is_found_again_after_its_connection_was_replaced():
    organisation = OrganisationFactory()
    raw = api_key_for(organisation)
    assert find_api_key(raw).organisation == organisation
    connection.close()
    assert find_api_key(raw).organisation == organisation

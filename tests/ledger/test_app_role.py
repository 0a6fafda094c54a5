"""The site's database role cannot undo append-only (issue 14 §2): connected as the role that
`manage.py create_app_role` makes, TRUNCATE, disabling or dropping a trigger and
`session_replication_role` are refused, while the site itself still works."""

import os
import subprocess
import sys

import psycopg2
import pytest
from django.core.management import call_command
from django.db import connection
from psycopg2 import errors

from tests.sources.factories import OrganisationFactory, event_payload
from tests.test_production_build import BASE_DIR

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def app_role():
    # Roles are cluster-wide, unlike databases: two suites running side by side on one server
    # (each in its own test database) must not share one, or the first to finish cannot drop it.
    role = f"{connection.settings_dict['NAME']}_app"
    call_command("create_app_role", role)
    yield role
    with connection.cursor() as cursor:
        cursor.execute(f"DROP OWNED BY {role}")
        cursor.execute(f"DROP ROLE {role}")


@pytest.fixture
def as_app_role(app_role):
    database = connection.settings_dict
    role_connection = psycopg2.connect(
        host=database["HOST"], port=database["PORT"], dbname=database["NAME"], user=app_role
    )
    role_connection.autocommit = True
    yield role_connection
    role_connection.close()


@pytest.mark.parametrize(
    ("statement", "refusal"),
    [
        ("TRUNCATE ledger_entry CASCADE", errors.InsufficientPrivilege),
        ("ALTER TABLE ledger_entry DISABLE TRIGGER ALL", errors.InsufficientPrivilege),
        ("DROP TRIGGER ledger_entry_append_only ON ledger_entry", errors.InsufficientPrivilege),
        ("SET session_replication_role = replica", errors.InsufficientPrivilege),
        ("UPDATE ledger_checkpoint SET note = ''", errors.InsufficientPrivilege),
        ("DELETE FROM ledger_subtree", errors.InsufficientPrivilege),
    ],
)
def test_the_app_role_cannot_undo_append_only(as_app_role, statement, refusal):
    with as_app_role.cursor() as cursor, pytest.raises(refusal):
        cursor.execute(statement)


def test_the_app_role_is_neither_owner_nor_superuser(as_app_role):
    with as_app_role.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls "
            "FROM pg_roles WHERE rolname = current_user"
        )
        assert cursor.fetchone() == (False, False, False, False, False)
        cursor.execute("SELECT count(*) FROM pg_tables WHERE tableowner = current_user")
        assert cursor.fetchone() == (0,)


def test_the_site_submits_and_integrates_as_the_app_role(app_role, settings):
    organisation = OrganisationFactory()
    database = connection.settings_dict
    script = (
        "from carhistory.sources.models import Organisation; "
        "from carhistory.sources.services import submit_event; "
        "from ledger.models import Entry; "
        "from ledger.services import integrate_pending; "
        f"organisation = Organisation.objects.get(pk={organisation.pk}); "
        f"result = submit_event(organisation=organisation, payload={event_payload()!r}); "
        "assert result.is_accepted, result.errors; "
        "integrate_pending(wait=True); "
        # Each checkpoint now ends with the map's own vin_index entry (SPEC §7); count the event.
        "print('entries', Entry.objects.exclude(type='vin_index').count(), "
        "Entry.objects.filter(type='vin_index').count())"
    )
    environment = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{app_role}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
        ),
        "LEDGER_SIGNING_KEY": settings.LEDGER_SIGNING_KEY,
        # A fresh clone has no var/ledger-vrf.key: hand the subprocess this test's VRF key.
        "LEDGER_VRF_KEY": settings.LEDGER_VRF_KEY,
        "CELERY_TASK_ALWAYS_EAGER": "1",
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert "entries 1 1" in result.stdout

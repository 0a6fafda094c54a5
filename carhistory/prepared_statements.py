"""PostgreSQL prepared statements (`PREPARE` / `EXECUTE`) for the few fixed statements every
API request runs.

PostgreSQL plans each statement it is sent. For the short statements of a single submission
the planning cost the backend more CPU than running them (docs/PERFORMANCE.md, "Fourth
session"), and psycopg2 never prepares a statement itself. So such a statement is prepared once
per connection under a name and run by that name afterwards; PostgreSQL plans it again by
itself whenever a table it reads changes. A prepared statement belongs to the session, not to
a transaction (a rollback keeps it), so it is noted once PREPARE succeeds; a new connection
(`connection_created`) starts with none noted.
"""

from django.db.backends.signals import connection_created
from django.dispatch import receiver

# On the connection wrapper (one per thread): the names prepared in its current session.
_NOTED = "prepared_statement_names"


def prepared(cursor, *, name: str, statement: str) -> str:
    """`name`, once `statement` (with `$1`, `$2`… placeholders) is prepared under it on the
    connection of `cursor`, a Django cursor on PostgreSQL: the caller runs `EXECUTE name(…)`.
    """
    wrapper = cursor.db
    noted = wrapper.__dict__.setdefault(_NOTED, set())
    if name not in noted:
        cursor.execute(f"PREPARE {name} AS {statement}")
        noted.add(name)
    return name


@receiver(connection_created, dispatch_uid="carhistory.prepared_statements.none_yet")
def _none_prepared_yet(sender, connection, **kwargs) -> None:
    connection.__dict__[_NOTED] = set()

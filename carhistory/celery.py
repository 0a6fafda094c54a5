"""The Celery app. Tasks are thin wrappers around plain functions (see STYLE.md)."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carhistory.settings")

app = Celery("carhistory")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Celery's Django fix-up closes the database connections before and after every task unless
# this is set: at 200 single submissions a second the worker runs about forty short tasks a
# second (sequencer runs, witness pushes, watch lookups), and a new PostgreSQL connection for
# each cost more CPU, in the worker and in PostgreSQL (a backend started per task), than most
# of those tasks' own work. Connections are kept as Django keeps a web request's instead
# (`_keep_connections_as_requests_do`); this only bounds how many tasks one serves.
app.conf.CELERY_DB_REUSE_MAX = 1000


@signals.worker_init.connect
def _refuse_to_work_without_a_log_key(**kwargs) -> None:
    # The worker runs the sequencer, which signs checkpoints: without a key it cannot work.
    from ledger.checks import require_log_key

    require_log_key()


@signals.worker_init.connect
def _check_kept_connections(**kwargs) -> None:
    # A kept connection can die while it waits (PostgreSQL restarted, the backend ended): with
    # health checks, the first query of each task finds that out with a `SELECT 1` and
    # reconnects, so no task fails on it. Read when a connection opens, so set in the worker's
    # main process before it forks its pool; the web process leaves them off, for the round
    # trip each request would pay.
    from django.db import connections

    for connection in connections.all():
        connection.settings_dict["CONN_HEALTH_CHECKS"] = True


@signals.task_prerun.connect
@signals.task_postrun.connect
def _keep_connections_as_requests_do(sender=None, **kwargs) -> None:
    # What Django does around each request: close a connection older than CONN_MAX_AGE or
    # left unusable by an error, and run the health check again on the next task's first query.
    # Not for a task run eagerly inside another's work (the embedded default, tests).
    from django.db import close_old_connections

    if getattr(getattr(sender, "request", None), "is_eager", False):
        return

    close_old_connections()

"""The Celery app. Tasks are thin wrappers around plain functions (see STYLE.md)."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carhistory.settings")

app = Celery("carhistory")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
def _refuse_to_work_without_a_log_key(**kwargs) -> None:
    # The worker runs the sequencer, which signs checkpoints: without a key it cannot work.
    from ledger.checks import require_log_key

    require_log_key()

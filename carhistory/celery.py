"""The Celery app. Tasks are thin wrappers around plain functions (see STYLE.md)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carhistory.settings")

app = Celery("carhistory")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

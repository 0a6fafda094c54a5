"""carhistory: a used-car history service whose every line carries its own proof."""

from .celery import app as celery_app

__all__ = ("celery_app",)

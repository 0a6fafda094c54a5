"""Celery wrappers. E-mail and webhooks retry with exponential backoff; a beat task sweeps
up whatever is still due, so a notice outlives any number of failed attempts."""

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from carhistory.watch import services

RETRY = {
    "autoretry_for": (Exception,),
    "retry_backoff": 30,
    "retry_backoff_max": 3600,
    "max_retries": 8,
}


@shared_task(**RETRY)
def send_confirmation_task(watch_id: int) -> None:
    services.send_confirmation(watch_id=watch_id, site_url=settings.SITE_URL)


@shared_task(**RETRY)
def send_digest_task(watch_id: int) -> None:
    services.send_digest(watch_id=watch_id, site_url=settings.SITE_URL, now=timezone.now())


@shared_task(**RETRY)
def deliver_webhook_task(notice_id: int) -> None:
    services.deliver_webhook(notice_id=notice_id, site_url=settings.SITE_URL)


@shared_task
def notice_new_entries_task() -> None:
    services.notice_new_entries()


@shared_task
def sweep_watches_task() -> None:
    """Every few minutes: new entries, then every due e-mail and unsent webhook again."""
    services.notice_new_entries()

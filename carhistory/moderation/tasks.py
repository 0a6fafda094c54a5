from celery import shared_task


# A failing SMTP server delays the notice; the retries (with backoff) keep it from being lost.
@shared_task(acks_late=True, autoretry_for=(OSError,), max_retries=8, retry_backoff=True)
def notify_disputed_source_task(dispute_id: int, site_url: str, language: str = "en") -> None:
    from carhistory.moderation.notices import notify_disputed_source

    notify_disputed_source(dispute_id=dispute_id, site_url=site_url, language=language)

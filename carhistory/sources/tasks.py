from celery import shared_task

from carhistory.sources.accounts import send_set_password_email


# A failing SMTP server delays the e-mail; the retries (with backoff) keep it from being lost.
@shared_task(acks_late=True, autoretry_for=(OSError,), max_retries=8, retry_backoff=True)
def send_set_password_email_task(user_id: int, site_url: str, language: str = "en") -> None:
    send_set_password_email(user_id=user_id, site_url=site_url, language=language)

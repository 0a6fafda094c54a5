from celery import shared_task

from carhistory.portal.csv_import import process_csv_upload


@shared_task(acks_late=True, autoretry_for=(Exception,), max_retries=3, retry_backoff=True)
def process_csv_upload_task(upload_id: int) -> None:
    process_csv_upload(upload_id=upload_id)

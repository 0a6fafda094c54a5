from django.db.models import QuerySet

from carhistory.portal.models import CsvUpload
from carhistory.sources.models import Organisation


def uploads_of(*, organisation: Organisation) -> QuerySet[CsvUpload]:
    """The organisation's CSV uploads, newest first, without their (large) file content."""
    return CsvUpload.objects.filter(organisation=organisation).defer("content", "error_report")


def upload_of(*, organisation: Organisation, upload_id: int) -> CsvUpload | None:
    """The organisation's upload with this id; None for another's, as if it did not exist."""
    return CsvUpload.objects.filter(organisation=organisation, pk=upload_id).first()

from django.contrib import admin
from django.http import HttpRequest

from carhistory.portal.models import CsvUpload


@admin.register(CsvUpload)
class CsvUploadAdmin(admin.ModelAdmin):
    """For support: what a source uploaded and how it went. Uploads are made in the portal."""

    list_display = [
        "filename",
        "organisation",
        "status",
        "total_rows",
        "accepted",
        "rejected",
        "duplicates",
        "created_at",
    ]
    list_filter = ["status", "created_at"]
    search_fields = ["filename", "organisation__name", "sha256"]
    exclude = ["content"]
    readonly_fields = [field.name for field in CsvUpload._meta.fields if field.name != "content"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

"""CSV uploads: a source's file of events, processed in the background in chunks."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class CsvUpload(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    organisation = models.ForeignKey(
        "sources.Organisation",
        verbose_name=_("organisation"),
        on_delete=models.PROTECT,
        related_name="csv_uploads",
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.PROTECT,
        related_name="csv_uploads",
    )
    filename = models.CharField(_("file name"), max_length=255)
    # The decoded text of the file: only UTF-8 files with a valid header are ever stored.
    content = models.TextField(_("content"))
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.QUEUED
    )
    total_rows = models.PositiveIntegerField(_("rows"))
    processed_rows = models.PositiveIntegerField(_("processed rows"), default=0)
    accepted = models.PositiveIntegerField(_("accepted"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    duplicates = models.PositiveIntegerField(_("already submitted"), default=0)
    error_report = models.TextField(_("error report (CSV)"), blank=True)
    failure = models.TextField(_("why it failed"), blank=True)
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("CSV upload")
        verbose_name_plural = _("CSV uploads")
        constraints = [
            models.CheckConstraint(
                name="csv_upload_progress_within_total",
                condition=Q(processed_rows__lte=F("total_rows")),
            ),
            models.CheckConstraint(
                name="csv_upload_outcomes_add_up",
                condition=Q(
                    processed_rows=F("accepted") + F("rejected") + F("duplicates"),
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"

    @property
    def percent_done(self) -> int:
        if self.total_rows == 0:
            return 100 if self.status == self.Status.DONE else 0
        return self.processed_rows * 100 // self.total_rows

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.FAILED}

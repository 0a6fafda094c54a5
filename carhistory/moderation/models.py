"""Disputes raised by readers of a report, and the audit trail of every moderator action."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from carhistory.sources.models import Organisation, Submission


class Dispute(models.Model):
    """Someone reading a report says one of its entries is wrong.

    The entry itself never changes: a dispute ends either with a `correction` entry appended to
    the log (kept here by its pending id, since the moderator's request only enqueues it) or
    with a reasoned rejection.
    """

    class Status(models.TextChoices):
        # Anyone can raise a dispute in one click, so a new one is seen by the moderators only;
        # it marks the public report once a moderator accepts it for review.
        OPEN = "open", _("New")
        UNDER_REVIEW = "under_review", _("Under review")
        CORRECTED = "corrected", _("Corrected")
        REJECTED = "rejected", _("Rejected")

    UNRESOLVED = (Status.OPEN, Status.UNDER_REVIEW)

    entry_index = models.BigIntegerField(_("entry index"), db_index=True)
    vin = models.CharField(_("VIN"), max_length=17, db_index=True)
    reason = models.TextField(_("what is wrong"), max_length=2000)
    reporter_contact = models.CharField(_("contact"), max_length=200, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    resolution_reason = models.TextField(_("resolution"), blank=True)
    correction_pending_id = models.BigIntegerField(
        _("pending id of the correction entry"), null=True, blank=True
    )
    created_at = models.DateTimeField(_("raised at"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    # The slug of the source whose entry is disputed: its portal lists the dispute.
    source = models.CharField(_("source"), max_length=64, blank=True, db_index=True)
    accepted_at = models.DateTimeField(_("accepted for review at"), null=True, blank=True)
    source_answer = models.TextField(_("the source's answer"), max_length=2000, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("dispute")
        verbose_name_plural = _("disputes")
        constraints = [
            models.CheckConstraint(
                name="dispute_entry_index_non_negative", condition=Q(entry_index__gte=0)
            ),
            # A corrected dispute always names its correction; only a corrected one does.
            models.CheckConstraint(
                name="dispute_correction_iff_corrected",
                condition=(Q(status="corrected") & Q(correction_pending_id__isnull=False))
                | (~Q(status="corrected") & Q(correction_pending_id__isnull=True)),
            ),
            # Every closed dispute says why; an open one has no resolution yet.
            models.CheckConstraint(
                name="dispute_resolution_iff_closed",
                condition=(
                    Q(status__in=["open", "under_review"])
                    & Q(resolution_reason="")
                    & Q(resolved_at__isnull=True)
                )
                | (
                    ~Q(status__in=["open", "under_review"])
                    & ~Q(resolution_reason="")
                    & Q(resolved_at__isnull=False)
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.entry_index} {self.vin} ({self.status})"


class AuditEntry(models.Model):
    """One moderator action: who did what to which target, why, and what the log gained.

    Written by the same service function that performs the action, in the same transaction
    as the pending entry it enqueues, so there is no action without its audit row and no
    audit row without its entry.
    """

    class Action(models.TextChoices):
        APPROVE_APPLICATION = "approve_application", _("Approved an application")
        REJECT_APPLICATION = "reject_application", _("Rejected an application")
        SUSPEND_SOURCE = "suspend_source", _("Suspended a source")
        REINSTATE_SOURCE = "reinstate_source", _("Reinstated a source")
        REVOKE_SOURCE = "revoke_source", _("Revoked a source")
        CHANGE_SOURCE_PROFILE = "change_source_profile", _("Changed a source's kind or name")
        CORRECT_ENTRY = "correct_entry", _("Appended a correction")
        ACCEPT_DISPUTE = "accept_dispute", _("Accepted a dispute for review")
        REJECT_DISPUTE = "reject_dispute", _("Rejected a dispute")
        ERASE_PRIVATE_RECORD = "erase_private_record", _("Erased private details")

    moderator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("moderator"),
        on_delete=models.PROTECT,
        related_name="moderation_audit_entries",
    )
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    action = models.CharField(_("action"), max_length=32, choices=Action.choices, db_index=True)
    organisation = models.ForeignKey(
        "sources.Organisation",
        verbose_name=_("organisation"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    dispute = models.ForeignKey(
        Dispute,
        verbose_name=_("dispute"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_entries",
    )
    entry_index = models.BigIntegerField(_("target entry index"), null=True, blank=True)
    # The submission is kept by id: the erasure this row records may remove private rows.
    submission_id = models.BigIntegerField(_("submission"), null=True, blank=True)
    reason = models.TextField(_("reason"))
    details = models.JSONField(_("details"), default=dict, blank=True)
    # The entry the action appended, by pending id: the action only enqueues it, so its index
    # is not known yet (`ledger.selectors.with_log_indexes` finds it once integrated).
    pending_id = models.BigIntegerField(
        _("pending id of the appended entry"), null=True, blank=True
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        permissions = [("moderate", _("Can moderate sources, disputes and corrections"))]
        constraints = [
            models.CheckConstraint(name="audit_entry_has_reason", condition=~Q(reason="")),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.moderator} {self.action}"


class SourceApplication(Organisation):
    """Organisations that asked to become sources, as the moderation admin lists them."""

    class Meta:
        proxy = True
        verbose_name = _("source application")
        verbose_name_plural = _("source applications")


class ModeratedSource(Organisation):
    """Approved, suspended and revoked sources, as the moderation admin lists them."""

    class Meta:
        proxy = True
        verbose_name = _("moderated source")
        verbose_name_plural = _("moderated sources")


class SubmissionWithPrivateDetails(Submission):
    """Submissions that keep private details, as the admin lists them for erasure requests."""

    class Meta:
        proxy = True
        verbose_name = _("submission with private details")
        verbose_name_plural = _("submissions with private details")

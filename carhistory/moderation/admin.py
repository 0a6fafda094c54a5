"""The moderation admin: shows, searches and links. It never acts on its own.

Every moderator action (approve, reject, suspend, reinstate, revoke, correct, reject a dispute,
erase) is done once, in the moderation queue (`moderation/views.py`), which asks for the reason
and writes the audit trail; each list here links to the queue page that does it.
"""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from carhistory.moderation import selectors
from carhistory.moderation.access import is_moderator
from carhistory.moderation.models import (
    AuditEntry,
    Dispute,
    ModeratedSource,
    SourceApplication,
    SubmissionWithPrivateDetails,
)
from carhistory.sources.templatetags.log_entries import log_entry_label
from ledger.selectors import log_index_of_pending


class ModeratorOnlyMixin:
    """Moderators see these pages by holding `moderation.moderate` (and is_staff, which the
    admin itself requires), without a separate view permission per model. Nothing is added or
    deleted here: rows come from the public forms, the sources and the queue's actions."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_moderator(request.user)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return is_moderator(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def _link(url: str, text: str) -> str:
    return format_html('<a href="{}">{}</a>', url, text)


@admin.register(SourceApplication)
class SourceApplicationAdmin(ModeratorOnlyMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "kind",
        "licence_number",
        "region",
        "contact_email",
        "created_at",
        "decide_link",
    ]
    list_filter = ["kind", "region"]
    search_fields = ["name", "licence_number", "contact_email"]
    fields = [
        "slug",
        "name",
        "kind",
        "licence_number",
        "region",
        "contact_name",
        "contact_email",
        "contact_phone",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.pending_applications()

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # A moderator may fix an applicant's details (its public slug above all) before approving;
        # nothing enters the log until the queue approves.
        return is_moderator(request.user)

    @admin.display(description=gettext_lazy("Decide"))
    def decide_link(self, organisation) -> str:
        return _link(reverse("moderation:queue"), _("In the moderation queue"))


@admin.register(ModeratedSource)
class ModeratedSourceAdmin(ModeratorOnlyMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "kind", "status", "decided_at", "status_link"]
    list_filter = ["status", "kind"]
    search_fields = ["name", "slug"]
    readonly_fields = ["slug", "kind", "status", "decided_at"]
    fields = ["slug", "name", "kind", "status", "decided_at", "licence_number", "region"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.moderated_sources()

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # A source's status changes only through the queue, which logs and audits it.
        return False

    @admin.display(description=gettext_lazy("Change status"))
    def status_link(self, organisation) -> str:
        return _link(reverse("moderation:source-status", args=[organisation.pk]), _("In the queue"))


@admin.register(Dispute)
class DisputeAdmin(ModeratorOnlyMixin, admin.ModelAdmin):
    list_display = ["entry_index", "vin", "status", "created_at", "resolved_at", "resolve_link"]
    list_filter = ["status", "created_at"]
    search_fields = ["vin", "reason"]
    readonly_fields = [field.name for field in Dispute._meta.fields] + ["correction_entry"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Dispute]:
        return (
            super()
            .get_queryset(request)
            .annotate(log_index=log_index_of_pending("correction_pending_id"))
        )

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=gettext_lazy("correction entry"))
    def correction_entry(self, dispute: Dispute) -> str:
        if dispute.correction_pending_id is None:
            return ""
        return log_entry_label(dispute.log_index)

    @admin.display(description=gettext_lazy("Correct"))
    def resolve_link(self, dispute: Dispute) -> str:
        if dispute.status != Dispute.Status.OPEN:
            return ""
        return _link(reverse("moderation:dispute", args=[dispute.pk]), _("Resolve"))


@admin.register(SubmissionWithPrivateDetails)
class SubmissionWithPrivateDetailsAdmin(ModeratorOnlyMixin, admin.ModelAdmin):
    list_display = [
        "pk",
        "organisation",
        "vin",
        "event_type",
        "created_at",
        "erased_at",
        "erase_link",
    ]
    list_filter = ["organisation__kind", "private_record__erased_at"]
    search_fields = ["vin", "organisation__name", "external_id"]
    fields = ["organisation", "vin", "event_type", "external_id", "created_at", "erased_at"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.submissions_with_private_details()

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=gettext_lazy("erased at"))
    def erased_at(self, submission) -> str:
        return submission.private_record.erased_at or ""

    @admin.display(description=gettext_lazy("Erase"))
    def erase_link(self, submission) -> str:
        if submission.private_record.erased_at:
            return ""
        url = f"{reverse('moderation:erase')}?submission={submission.pk}&vin={submission.vin}"
        return _link(url, _("In the queue"))


@admin.register(AuditEntry)
class AuditEntryAdmin(ModeratorOnlyMixin, admin.ModelAdmin):
    """The audit trail: readable and filterable, never written by hand."""

    list_display = [
        "created_at",
        "moderator",
        "action",
        "organisation",
        "entry_index",
        "submission_id",
        "appended_entry",
        "reason",
    ]
    list_filter = ["action", "created_at", "moderator", "organisation"]
    search_fields = ["reason", "organisation__name", "moderator__username"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in AuditEntry._meta.fields] + ["appended_entry"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEntry]:
        return super().get_queryset(request).annotate(log_index=log_index_of_pending("pending_id"))

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=gettext_lazy("appended entry"))
    def appended_entry(self, audit: AuditEntry) -> str:
        return "" if audit.pending_id is None else log_entry_label(audit.log_index)

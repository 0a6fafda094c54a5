"""The moderation admin: the same actions as the moderation pages, through the same services.

Actions that need a reason ask for it on an intermediate page; the audit trail is read-only.
"""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from carhistory.moderation import selectors, services
from carhistory.moderation.access import is_moderator
from carhistory.moderation.forms import ReasonForm
from carhistory.moderation.models import (
    AuditEntry,
    Dispute,
    ModeratedSource,
    SourceApplication,
    SubmissionWithPrivateDetails,
)


class ModeratorOnlyMixin:
    """Moderators see these pages by holding `moderation.moderate` (and is_staff, which the
    admin itself requires), without a separate view permission per model."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_moderator(request.user)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return is_moderator(request.user)

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        return is_moderator(request.user)


class ModeratorActionsMixin(ModeratorOnlyMixin):
    def _with_reason(self, request: HttpRequest, queryset: QuerySet, action, perform):
        """Ask for a reason on an intermediate page, then `perform(obj, reason)` for each row."""
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            done = 0
            for obj in queryset:
                try:
                    perform(obj, form.cleaned_data["reason"])
                except services.REFUSALS as error:
                    self.message_user(
                        request,
                        f"{obj}: {' '.join(services.refusal_messages(error))}",
                        messages.ERROR,
                    )
                else:
                    done += 1
            self.message_user(request, _("%(count)d done.") % {"count": done}, messages.SUCCESS)
            return None
        return TemplateResponse(
            request,
            "moderation/admin_reason.html",
            {
                **self.admin_site.each_context(request),
                "title": action.short_description,
                "objects": queryset,
                "form": form,
                "action": action.__name__,
                "opts": self.model._meta,
            },
        )


@admin.register(SourceApplication)
class SourceApplicationAdmin(ModeratorActionsMixin, admin.ModelAdmin):
    list_display = ["name", "kind", "licence_number", "region", "contact_email", "created_at"]
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
    actions = ["approve", "reject"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.pending_applications()

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # A moderator may fix an applicant's details (its public slug above all) before approving.
        return is_moderator(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(
        description=gettext_lazy("Approve, and create a first API key"), permissions=["moderate"]
    )
    def approve(self, request: HttpRequest, queryset: QuerySet):
        approved = []
        for organisation in queryset:
            try:
                _api_key, raw_key = services.approve_application(
                    moderator=request.user,
                    organisation=organisation,
                    site_url=request.build_absolute_uri("/"),
                )
            except services.REFUSALS as error:
                self.message_user(
                    request,
                    f"{organisation}: {' '.join(services.refusal_messages(error))}",
                    messages.ERROR,
                )
            else:
                approved.append((organisation, raw_key))
        # The raw keys exist only in this response: they are stored hashed.
        return TemplateResponse(
            request,
            "moderation/admin_approved.html",
            {**self.admin_site.each_context(request), "title": _("Approved"), "approved": approved},
        )

    @admin.action(description=gettext_lazy("Reject (asks for a reason)"), permissions=["moderate"])
    def reject(self, request: HttpRequest, queryset: QuerySet):
        return self._with_reason(
            request,
            queryset,
            self.reject,
            lambda organisation, reason: services.reject_application(
                moderator=request.user, organisation=organisation, reason=reason
            ),
        )


@admin.register(ModeratedSource)
class ModeratedSourceAdmin(ModeratorActionsMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "kind", "status", "decided_at"]
    list_filter = ["status", "kind"]
    search_fields = ["name", "slug"]
    readonly_fields = ["slug", "kind", "status", "decided_at"]
    fields = ["slug", "name", "kind", "status", "decided_at", "licence_number", "region"]
    actions = ["suspend", "reinstate", "revoke"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.moderated_sources()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # A source's status changes only through the actions, which log and audit it.
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def _change_status(self, request: HttpRequest, queryset: QuerySet, action, status: str):
        return self._with_reason(
            request,
            queryset,
            action,
            lambda organisation, reason: services.change_source_status(
                moderator=request.user, organisation=organisation, status=status, reason=reason
            ),
        )

    @admin.action(description=gettext_lazy("Suspend (asks for a reason)"), permissions=["moderate"])
    def suspend(self, request: HttpRequest, queryset: QuerySet):
        return self._change_status(request, queryset, self.suspend, "suspended")

    @admin.action(
        description=gettext_lazy("Reinstate (asks for a reason)"), permissions=["moderate"]
    )
    def reinstate(self, request: HttpRequest, queryset: QuerySet):
        return self._change_status(request, queryset, self.reinstate, "reinstated")

    @admin.action(
        description=gettext_lazy("Revoke for good (asks for a reason)"), permissions=["moderate"]
    )
    def revoke(self, request: HttpRequest, queryset: QuerySet):
        return self._change_status(request, queryset, self.revoke, "revoked")


@admin.register(Dispute)
class DisputeAdmin(ModeratorActionsMixin, admin.ModelAdmin):
    list_display = ["entry_index", "vin", "status", "created_at", "resolved_at", "resolve_link"]
    list_filter = ["status", "created_at"]
    search_fields = ["vin", "reason"]
    readonly_fields = [field.name for field in Dispute._meta.fields]
    actions = ["reject"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=gettext_lazy("Correct"))
    def resolve_link(self, dispute: Dispute) -> str:
        # A correction needs the corrected fields, so it is made on the moderation page.
        if dispute.status != Dispute.Status.OPEN:
            return ""
        return format_html(
            '<a href="{}">{}</a>', reverse("moderation:dispute", args=[dispute.pk]), _("Resolve")
        )

    @admin.action(description=gettext_lazy("Reject (asks for a reason)"), permissions=["moderate"])
    def reject(self, request: HttpRequest, queryset: QuerySet):
        return self._with_reason(
            request,
            queryset,
            self.reject,
            lambda dispute, reason: services.reject_dispute(
                moderator=request.user, dispute=dispute, reason=reason
            ),
        )


@admin.register(SubmissionWithPrivateDetails)
class SubmissionWithPrivateDetailsAdmin(ModeratorActionsMixin, admin.ModelAdmin):
    list_display = ["pk", "organisation", "vin", "event_type", "created_at", "erased_at"]
    list_filter = ["organisation__kind", "private_record__erased_at"]
    search_fields = ["vin", "organisation__name", "external_id"]
    fields = ["organisation", "vin", "event_type", "external_id", "created_at", "erased_at"]
    readonly_fields = fields
    actions = ["erase"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.submissions_with_private_details()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=gettext_lazy("erased at"))
    def erased_at(self, submission) -> str:
        return submission.private_record.erased_at or ""

    @admin.action(
        description=gettext_lazy("Erase the private details (asks for a reason)"),
        permissions=["moderate"],
    )
    def erase(self, request: HttpRequest, queryset: QuerySet):
        return self._with_reason(
            request,
            queryset,
            self.erase,
            lambda submission, reason: services.erase_private_details(
                moderator=request.user, submission=submission, reason=reason
            ),
        )


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
        "ledger_index",
        "reason",
    ]
    list_filter = ["action", "created_at", "moderator", "organisation"]
    search_fields = ["reason", "organisation__name", "moderator__username"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in AuditEntry._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

"""Admin pages for looking things up. Decisions go through moderation and `services`, so the
log records them; here the fields that the log or the services own are read-only."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from carhistory.sources.models import (
    ApiKey,
    Membership,
    Organisation,
    PrivateRecord,
    SigningKey,
    Submission,
)
from carhistory.sources.templatetags.log_entries import log_entry_label
from ledger.selectors import log_index_of_pending


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "name_zh_hans", "kind", "region", "status", "decided_at"]
    list_filter = ["kind", "status"]
    search_fields = ["slug", "name", "name_zh_hans", "licence_number"]
    readonly_fields = ["status", "created_at", "decided_at"]
    inlines = [MembershipInline]

    def get_readonly_fields(self, request, obj=None):
        # Kind is a source's role and slug its name in the log: they change only through the
        # moderation action that logs and audits it (moderation/sources/<id>/profile).
        if obj is None:
            return self.readonly_fields
        return [*self.readonly_fields, "slug", "kind", "name", "name_zh_hans"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "label", "organisation", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["is_demo"]
    search_fields = ["prefix", "label", "organisation__slug"]
    readonly_fields = ["prefix", "secret_hash", "created_at", "last_used_at", "revoked_at"]


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    list_display = ["organisation", "key_id", "log_entry", "created_at", "retired_at"]
    search_fields = ["organisation__slug", "key_id"]
    readonly_fields = ["verifier_key", "key_id", "log_entry", "created_at", "retired_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(log_index=log_index_of_pending("pending_id"))

    @admin.display(description=_("log entry of its source_key"))
    def log_entry(self, signing_key: SigningKey) -> str:
        return log_entry_label(signing_key.log_index)


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ["public_id", "organisation", "event_type", "vin", "status", "channel"]
    list_filter = ["status", "channel", "event_type"]
    search_fields = ["public_id", "external_id", "vin", "organisation__slug"]
    readonly_fields = [field.name for field in Submission._meta.fields]


@admin.register(PrivateRecord)
class PrivateRecordAdmin(admin.ModelAdmin):
    list_display = ["submission", "erased_at"]
    readonly_fields = ["submission", "details", "erased_at", "erased_by"]
    exclude = ["salt"]

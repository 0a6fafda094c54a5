"""Admin: the log is for looking at; only cosigners (witnesses, mirrors) are edited here.

Subtree is not registered: the admin does not support composite primary keys, and its rows
are meaningless one by one (verify_ledger checks them).
"""

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import Checkpoint, Cosignature, Cosigner, Entry, Mirror, PendingEntry


class ReadOnlyAdmin(admin.ModelAdmin):
    # The database refuses changes anyway (append-only triggers); this keeps the UI honest.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    list_display = ["index", "type", "source", "vin", "occurred_at", "integrated_at"]
    list_filter = ["type"]
    search_fields = ["=vin", "=source", "=index"]
    show_full_result_count = False


@admin.register(PendingEntry)
class PendingEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at"]


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin):
    list_display = ["tree_size", "created_at"]
    show_full_result_count = False


@admin.register(Cosigner)
class CosignerAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "title",
        "kind",
        "active",
        "url",
        "cosigned_size",
        "cosigned_age",
        "failures",
        "last_error",
    ]
    list_filter = ["kind", "active"]
    search_fields = ["name"]
    fields = ["name", "title", "title_zh_hans", "kind", "verifier_key", "url", "active"]
    readonly_fields = ["cosigned_size", "cosigned_at", "failures", "retry_at", "last_error"]

    def get_fields(self, request, obj=None):
        # The push state is the log's own record: shown, never edited.
        return self.fields + (self.readonly_fields if obj else [])

    @admin.display(description=_("last cosigned"))
    def cosigned_age(self, cosigner: Cosigner) -> str:
        if cosigner.cosigned_at is None:
            return _("never")
        seconds = int((timezone.now() - cosigner.cosigned_at).total_seconds())
        return _("%(seconds)d s ago") % {"seconds": seconds}


@admin.register(Cosignature)
class CosignatureAdmin(ReadOnlyAdmin):
    list_display = ["checkpoint", "cosigner", "timestamp", "created_at"]
    list_select_related = ["checkpoint", "cosigner"]


@admin.register(Mirror)
class MirrorAdmin(ReadOnlyAdmin):
    # Registered with `manage.py add_mirror`, which prints the token once; deactivate a
    # mirror through its Cosigner row.
    list_display = ["cosigner", "created_at"]
    list_select_related = ["cosigner"]
    exclude = ["token_hash"]

"""Admin: the log is for looking at; only witnesses are edited here.

Subtree is not registered: the admin does not support composite primary keys, and its rows
are meaningless one by one (verify_ledger checks them).
"""

from django.contrib import admin

from .models import Checkpoint, Cosignature, Entry, Mirror, PendingEntry, Witness


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


@admin.register(Witness)
class WitnessAdmin(admin.ModelAdmin):
    list_display = ["name", "active"]
    list_filter = ["active"]
    search_fields = ["name"]


@admin.register(Cosignature)
class CosignatureAdmin(ReadOnlyAdmin):
    list_display = ["checkpoint", "witness", "timestamp", "created_at"]
    list_select_related = ["checkpoint", "witness"]


@admin.register(Mirror)
class MirrorAdmin(ReadOnlyAdmin):
    # Registered with `manage.py add_mirror`, which prints the token once; deactivate a
    # mirror through its cosigner (Witness) row.
    list_display = ["cosigner", "created_at"]
    list_select_related = ["cosigner"]
    exclude = ["token_hash"]

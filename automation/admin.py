from django.contrib import admin

from automation.models import AutomationEvent


@admin.register(AutomationEvent)
class AutomationEventAdmin(admin.ModelAdmin):
    """The audit log: read-only, for site administrators."""

    list_display = ["created_at", "kind", "reason", "count", "macro", "page", "key_kind", "key_lookup", "client_address", "actor", "via"]
    list_filter = ["kind", "reason", "via", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["macro__public_id", "macro__title", "page__title", "key_lookup", "client_address", "=job_id"]
    date_hierarchy = "created_at"
    list_select_related = ["macro", "page", "actor"]
    readonly_fields = [f.name for f in AutomationEvent._meta.fields if f.name != "bucket"]
    exclude = ["bucket"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

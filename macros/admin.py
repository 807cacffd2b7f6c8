from django.contrib import admin

from macros.models import (
    Macro,
    Page,
    PageEvent,
    PageVersion,
    SiteSettings,
    Snapshot,
    SnapshotJob,
    Space,
    SpacePermission,
    Sticker,
)


class SpacePermissionInline(admin.TabularInline):
    model = SpacePermission
    extra = 1
    # Raw ids rather than autocomplete: the autocomplete widget redisplays a posted value
    # with a query that raises (a 500) when the value is not an id.
    raw_id_fields = ["user", "group"]
    # A posted form count is believed up to absolute_max: Django's default of 2,000 forms
    # kept a request busy for over a minute. Bigger spaces use the site's own screen.
    max_num = 50

    def get_formset(self, request, obj=None, **kwargs):
        return super().get_formset(request, obj, absolute_max=self.max_num, **kwargs)


@admin.register(Space)
class SpaceAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "created_at"]
    search_fields = ["key", "name"]
    inlines = [SpacePermissionInline]


@admin.register(Page)
class PageAdmin(admin.ModelAdmin):
    list_display = ["title", "space", "published_at"]
    list_filter = ["space"]
    search_fields = ["title"]
    raw_id_fields = ["current_version"]


@admin.register(Macro)
class MacroAdmin(admin.ModelAdmin):
    list_display = ["title", "page", "public_id", "published_at", "deleted_at"]
    list_filter = ["page__space"]
    search_fields = ["title", "public_id"]
    readonly_fields = ["public_id"]


@admin.register(SnapshotJob)
class SnapshotJobAdmin(admin.ModelAdmin):
    list_display = ["id", "macro", "status", "trigger", "created_at", "finished_at", "fetched"]
    list_filter = ["status", "trigger"]
    readonly_fields = [f.name for f in SnapshotJob._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # jobs come from triggers; an empty one has no macro


@admin.register(Snapshot)
class SnapshotAdmin(admin.ModelAdmin):
    list_display = ["id", "macro", "complete", "issue_count", "actor", "taken_at", "duration_ms"]
    list_filter = ["complete", "source"]
    exclude = []
    readonly_fields = [f.name for f in Snapshot._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # snapshots come from jobs


admin.site.register(PageVersion)


class OneRowAdmin(admin.ModelAdmin):
    """Settings kept in one row (``load()`` makes it, pk 1): edited, never added or deleted.

    An added row would never be read, and on PostgreSQL it collides with pk 1 (a 500).
    """

    def changelist_view(self, request, extra_context=None):
        self.model.load()  # the row to edit is there even before anything read it
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


admin.site.register(SiteSettings, OneRowAdmin)


@admin.register(Sticker)
class StickerAdmin(admin.ModelAdmin):
    list_display = ["label", "page", "version", "created_by", "created_at"]
    list_filter = ["page__space"]
    search_fields = ["label", "page__title"]
    raw_id_fields = ["page", "version", "created_by"]


@admin.register(PageEvent)
class PageEventAdmin(admin.ModelAdmin):
    """The page audit is a record: it can be read here, never edited."""

    list_display = ["created_at", "page", "action", "detail", "version_number", "actor"]
    list_filter = ["action"]
    search_fields = ["page__title", "detail", "actor"]
    readonly_fields = [f.name for f in PageEvent._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


# --- report tables (issue 11) ---------------------------------------------------------

from macros.models import MacroTemplate, TableDefaults, UserSettings  # noqa: E402


@admin.register(MacroTemplate)
class MacroTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "created_by", "created_at"]
    list_filter = [("owner", admin.EmptyFieldListFilter)]
    search_fields = ["name", "description"]


admin.site.register(TableDefaults, OneRowAdmin)
admin.site.register(UserSettings)

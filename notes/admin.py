from django.contrib import admin

from notes.models import Note


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "updated_at", "created_at", "preview")
    list_filter = ("updated_at", "created_at")
    search_fields = ("title", "content_text", "owner__username", "owner__email")
    autocomplete_fields = ("owner",)
    readonly_fields = ("id", "content_text", "created_at", "updated_at", "snapshot_through")
    fields = (
        "id",
        "title",
        "owner",
        "content_text",
        "created_at",
        "updated_at",
        "snapshot_through",
    )
    date_hierarchy = "updated_at"

from django.contrib import admin

from notes.models import Membership, Note, ShareLink


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)
    readonly_fields = ("via_link", "created_at")
    fields = ("user", "role", "via_link", "created_at")


class ShareLinkInline(admin.TabularInline):
    model = ShareLink
    extra = 0
    readonly_fields = ("token", "created_by", "created_at")
    fields = ("role", "token", "created_by", "created_at", "revoked_at")


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "updated_at", "created_at", "preview")
    list_filter = ("updated_at", "created_at")
    search_fields = (
        "title",
        "content_text",
        "owner__username",
        "owner__email",
        "memberships__user__username",
        "memberships__user__email",
    )
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
    inlines = (MembershipInline, ShareLinkInline)

from django import forms
from django.conf import settings
from django.contrib import admin, messages

from notes.models import ApiToken, ChatMessage, Membership, Note, Notification, ShareLink
from notes.services import chat, editing, sharing, storage


class NoteAdminForm(forms.ModelForm):
    """The note's markdown is editable here; saving applies it to the live document."""

    content = forms.CharField(
        label="Markdown",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 18, "style": "width: 95%; font-family: monospace"}),
        help_text="Saved as a minimal edit to the live note: open editors see it at once.",
    )

    class Meta:
        model = Note
        fields = ("title", "owner")

    def clean_content(self):
        # Browsers submit textareas with CRLF line endings; notes use LF.
        content = self.cleaned_data["content"].replace("\r\n", "\n")
        size = len(content.encode("utf-8"))
        if size > settings.NOTES_MAX_NOTE_BYTES:
            raise forms.ValidationError(
                f"{size:,} bytes is more than the limit of {settings.NOTES_MAX_NOTE_BYTES:,}."
            )
        return content

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["content"].initial = storage.note_current_text(note_id=self.instance.pk)


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
    form = NoteAdminForm
    fields = (
        "id",
        "title",
        "owner",
        "content",
        "created_at",
        "updated_at",
        "snapshot_through",
    )
    date_hierarchy = "updated_at"
    inlines = (MembershipInline, ShareLinkInline)

    def save_model(self, request, obj, form, change):
        """Title, owner and text go through the services, so open editors follow live."""
        data, changed = form.cleaned_data, set(form.changed_data)
        try:
            if not change:
                super().save_model(request, obj, form, change)
                if data["content"]:
                    editing.note_text_replace(note=obj, text=data["content"], author=request.user)
                return
            note = Note.objects.get(pk=obj.pk)
            if "owner" in changed:
                sharing.note_transfer_ownership(note=note, new_owner=data["owner"])
            if "title" in changed:
                editing.note_rename(note=note, title=data["title"], author=request.user)
            if "content" in changed:
                editing.note_text_replace(note=note, text=data["content"], author=request.user)
        except editing.NoteTooLarge as exc:
            messages.error(request, f"The text was not saved: {exc}")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "last_used_at")
    search_fields = ("name", "user__username", "prefix")
    readonly_fields = ("user", "prefix", "created_at", "last_used_at")
    fields = ("name", "user", "prefix", "created_at", "last_used_at")

    def has_add_permission(self, request):
        return False  # tokens are made by their owner, who is shown the secret once


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    """Chat messages, for moderation: read, search and delete (a deletion here reaches open
    editors at once, as the chat's own does)."""

    list_display = ("created_at", "note", "author", "text")
    list_filter = ("created_at",)
    search_fields = ("text", "author__username", "note__title")
    raw_id_fields = ("note", "author")
    readonly_fields = ("created_at", "edited_at")

    def delete_model(self, request, obj):
        chat.chat_delete_moderated(message=obj)

    def delete_queryset(self, request, queryset):
        for message in queryset:
            chat.chat_delete_moderated(message=message)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "kind", "note", "actor", "read_at")
    list_filter = ("kind", "read_at")
    raw_id_fields = ("user", "note", "actor", "chat_message")

from django.urls import path

from notes import api
from notes.views import accounts, chat, comments, history, notifications, pages, sharing

app_name = "notes"

urlpatterns = [
    path("", pages.note_list, name="list"),
    path("notes/new/", pages.note_new, name="new"),
    path("notes/<uuid:note_id>/", pages.note_detail, name="detail"),
    path("notes/<uuid:note_id>/rename/", pages.note_rename, name="rename"),
    path("notes/<uuid:note_id>/delete/", pages.note_delete, name="delete"),
    path("notes/<uuid:note_id>/share/", sharing.note_share, name="share"),
    path("notes/import/", pages.note_import, name="import"),
    path("notes/<uuid:note_id>/chat/", chat.note_chat, name="chat"),
    path(
        "notes/<uuid:note_id>/chat/<int:message_id>/",
        chat.note_chat_message,
        name="chat-message",
    ),
    path("notes/<uuid:note_id>/history/", history.note_history, name="history"),
    path("notes/<uuid:note_id>/history/save/", history.note_version_save, name="version-save"),
    path(
        "notes/<uuid:note_id>/history/<int:revision_id>/restore/",
        history.note_revision_restore,
        name="revision-restore",
    ),
    path("notes/<uuid:note_id>/export.md", pages.note_export, {"fmt": "md"}, name="export-md"),
    path(
        "notes/<uuid:note_id>/export.html", pages.note_export, {"fmt": "html"}, name="export-html"
    ),
    path("s/<str:token>/", sharing.share_link_open, name="share-link"),
    path("notifications/", notifications.notification_list, name="notifications"),
    path("notifications/count/", notifications.notification_count, name="notification-count"),
    path("settings/tokens/", accounts.api_tokens, name="api-tokens"),
    path("api/notes/<uuid:note_id>/", api.note_api, name="api-note"),
    path("api/notes/<uuid:note_id>/comments/", comments.note_comments, name="api-comments"),
    path(
        "api/notes/<uuid:note_id>/comments/<int:thread_id>/",
        comments.note_comment_thread,
        name="api-comment-thread",
    ),
    path(
        "api/notes/<uuid:note_id>/comments/<int:thread_id>/<int:comment_id>/",
        comments.note_comment_thread,
        name="api-comment",
    ),
]

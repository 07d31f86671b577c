from django.urls import path

from notes import api, views

app_name = "notes"

urlpatterns = [
    path("", views.note_list, name="list"),
    path("notes/new/", views.note_new, name="new"),
    path("notes/<uuid:note_id>/", views.note_detail, name="detail"),
    path("notes/<uuid:note_id>/rename/", views.note_rename, name="rename"),
    path("notes/<uuid:note_id>/delete/", views.note_delete, name="delete"),
    path("notes/<uuid:note_id>/share/", views.note_share, name="share"),
    path("notes/import/", views.note_import, name="import"),
    path("notes/<uuid:note_id>/history/", views.note_history, name="history"),
    path("notes/<uuid:note_id>/history/save/", views.note_version_save, name="version-save"),
    path(
        "notes/<uuid:note_id>/history/<int:revision_id>/restore/",
        views.note_revision_restore,
        name="revision-restore",
    ),
    path("notes/<uuid:note_id>/export.md", views.note_export, {"fmt": "md"}, name="export-md"),
    path(
        "notes/<uuid:note_id>/export.html", views.note_export, {"fmt": "html"}, name="export-html"
    ),
    path("s/<str:token>/", views.share_link_open, name="share-link"),
    path("settings/tokens/", views.api_tokens, name="api-tokens"),
    path("api/notes/<uuid:note_id>/", api.note_api, name="api-note"),
]

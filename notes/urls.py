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
    path("s/<str:token>/", views.share_link_open, name="share-link"),
    path("settings/tokens/", views.api_tokens, name="api-tokens"),
    path("api/notes/<uuid:note_id>/", api.note_api, name="api-note"),
]

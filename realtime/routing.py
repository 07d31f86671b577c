"""WebSocket routes. The stock y-websocket client connects to serverUrl + '/' + room, so a
provider built as WebsocketProvider('ws://host/ws/notes', '<id>/', doc) reaches this route."""

from django.urls import path

from realtime.transports.websocket import NoteConsumer, NotesListConsumer

websocket_urlpatterns = [
    path("ws/notes/", NotesListConsumer.as_asgi()),
    path("ws/notes/<uuid:note_id>/", NoteConsumer.as_asgi()),
]

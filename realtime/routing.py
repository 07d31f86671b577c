"""
The realtime routes of both transports.

WebSocket: the stock y-websocket client connects to serverUrl + '/' + room, so a provider built
as WebsocketProvider('ws://host/ws/notes', '<id>/', doc) reaches the note route.

HTTP (docs/protocol.md, "The HTTP transport"): the same conversation as server-sent events and
POSTs, for networks that block WebSockets. collab/asgi.py mounts these under http/notes/,
before Django's routes.
"""

from django.urls import path

from realtime.transports.http.send import NoteSend
from realtime.transports.http.streams import ListStream, NoteStream
from realtime.transports.websocket import NoteConsumer, NotesListConsumer

websocket_urlpatterns = [
    path("ws/notes/", NotesListConsumer.as_asgi()),
    path("ws/notes/<uuid:note_id>/", NoteConsumer.as_asgi()),
]

http_urlpatterns = [
    path("list", ListStream()),
    path("<uuid:note_id>/stream", NoteStream()),
    path("<uuid:note_id>/send", NoteSend()),
]

"""WebSocket routes."""

websocket_urlpatterns = []

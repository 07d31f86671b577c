"""
Read-only sessions for WebSockets.

A note socket reads the Django session once, at the handshake, to find the user; it never
changes the session. Channels' SessionMiddleware also wraps `send` so that it can save a
modified session, and that wrapper evaluates the lazy session on every frame sent: about a
tenth of the server's time when one edit goes out to thousands of sockets. This middleware
only loads the session.
"""

from importlib import import_module

from channels.middleware import BaseMiddleware
from django.conf import settings


class ReadOnlySessionMiddleware(BaseMiddleware):
    """Put the handshake's session in `scope["session"]`; runs inside CookieMiddleware."""

    def __init__(self, inner):
        super().__init__(inner)
        self.session_store = import_module(settings.SESSION_ENGINE).SessionStore

    async def __call__(self, scope, receive, send):
        """Called once per connection, before the consumer."""
        session_key = scope["cookies"].get(settings.SESSION_COOKIE_NAME)
        # Constructing a store reads nothing; AuthMiddleware loads it off the event loop.
        scope = dict(scope, session=self.session_store(session_key))
        return await super().__call__(scope, receive, send)

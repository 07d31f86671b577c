"""
Read-only sessions for WebSockets, and the user a session belongs to.

A socket reads the Django session once, at the handshake, to find the user; it never changes
the session. Channels' SessionMiddleware also wraps `send` so that it can save a modified
session, and that wrapper evaluates the lazy session on every frame sent: about a tenth of the
server's time when one edit goes out to thousands of sockets. This middleware only loads the
session.

Consumers look up the user themselves (`session_user`), in the same trip to the database
thread as their own access check: Channels' AuthMiddleware would spend a trip of its own on
every handshake, and in a join storm each trip waits behind all the others.
"""

from importlib import import_module

from channels.middleware import BaseMiddleware
from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
    load_backend,
)
from django.contrib.auth.models import AnonymousUser
from django.utils.crypto import constant_time_compare


class ReadOnlySessionMiddleware(BaseMiddleware):
    """Put the handshake's session in `scope["session"]`; runs inside CookieMiddleware."""

    def __init__(self, inner):
        super().__init__(inner)
        self.session_store = import_module(settings.SESSION_ENGINE).SessionStore

    async def __call__(self, scope, receive, send):
        """Called once per connection, before the consumer."""
        session_key = scope["cookies"].get(settings.SESSION_COOKIE_NAME)
        # Constructing a store reads nothing: the consumer's session_user loads it.
        scope = dict(scope, session=self.session_store(session_key))
        return await super().__call__(scope, receive, send)


def session_user(session):
    """The user the session is logged in as, or AnonymousUser. Synchronous: it reads the
    database.

    The checks are Django's: a known backend, a user it still lets in (active), and a session
    hash that matches the user's password now (or under one of SECRET_KEY_FALLBACKS). A
    session that fails them is refused but left alone, unlike in Django's and Channels'
    get_user, which delete it: a socket cannot send the browser a new cookie, so the next page
    the browser loads is where Django logs it out or renews the session.
    """
    try:
        user_id = get_user_model()._meta.pk.to_python(session[SESSION_KEY])
        backend_path = session[BACKEND_SESSION_KEY]
    except KeyError:
        return AnonymousUser()
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return AnonymousUser()
    user = load_backend(backend_path).get_user(user_id)
    if user is None:
        return AnonymousUser()
    if hasattr(user, "get_session_auth_hash"):
        session_hash = session.get(HASH_SESSION_KEY)
        hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
        if not session_hash or not any(constant_time_compare(session_hash, h) for h in hashes):
            return AnonymousUser()
    return user

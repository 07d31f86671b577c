"""
ASGI entry point: `daphne collab.asgi:application` serves the whole site.

HTTP goes to Django (static files through WhiteNoise), but for the realtime HTTP transport's
routes (http/notes/...), which get the request's session as WebSockets do. WebSockets pass the
Origin check (realtime/transports/origins.py), get the handshake's session, then reach the URL
router; each consumer finds its user with its own access check
(realtime/transports/sessions.py).
"""

import gc
import logging
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "collab.settings")
django_asgi_app = get_asgi_application()

# Imported after Django is set up: these modules touch models and settings.
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.sessions import CookieMiddleware  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import re_path  # noqa: E402

from realtime import tuning  # noqa: E402
from realtime.routing import http_urlpatterns, websocket_urlpatterns  # noqa: E402
from realtime.transports.origins import SameOriginValidator  # noqa: E402
from realtime.transports.sessions import ReadOnlySessionMiddleware  # noqa: E402

if not settings.REDIS_URL:
    logging.getLogger("collab").warning(
        "REDIS_URL is unset: in-memory channel layer, single-process only"
    )

tuning.install()

application = ProtocolTypeRouter(
    {
        "http": URLRouter(
            [
                # The realtime HTTP transport checks Origin and CSRF itself, per endpoint.
                re_path(
                    r"^http/notes/",
                    CookieMiddleware(ReadOnlySessionMiddleware(URLRouter(http_urlpatterns))),
                ),
                re_path(r"", django_asgi_app),
            ]
        ),
        # Stricter than Channels' AllowedHostsOriginValidator, which ignores the port: see
        # realtime/transports/origins.py for the policy. Sockets read the session, never write
        # it, and find the user themselves (see realtime/transports/sessions.py for why not
        # Channels' SessionMiddleware and AuthMiddleware).
        "websocket": SameOriginValidator(
            CookieMiddleware(ReadOnlySessionMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)

# Everything loaded by now (Django, Channels, Twisted, the app) lives as long as the process.
# Frozen, the cyclic collector stops scanning it: a full collection during typing-20 took 56 ms
# (every socket of the process waits) and takes 4.5 ms frozen. A speed-up only: NOTES_SPEEDUPS.
if tuning.speedups_enabled():
    gc.collect()
    gc.freeze()

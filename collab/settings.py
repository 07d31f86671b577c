"""
One settings module for every environment, driven by environment variables.

Nothing is special to production except what the variables say. Every variable,
its default and its meaning is listed in README.md.
"""

import os
import warnings
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from collab.config import (
    cache_config,
    channel_layers_config,
    database_config,
    env_bool,
    env_float,
    env_int,
    env_list,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DJANGO_DEBUG", default=False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off. "
            "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    # Debug only: a fixed, obviously unsafe key so sessions survive restarts in development.
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "axes",
    "notes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Turns a login refused by django-axes into the login page saying why (last, as axes asks).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "collab.urls"
WSGI_APPLICATION = "collab.wsgi.application"
ASGI_APPLICATION = "collab.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "notes.context.unread_notifications",
            ],
        },
    },
]

DATABASES = {"default": database_config(os.environ.get("DATABASE_URL"), base_dir=BASE_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
CHANNEL_LAYERS = channel_layers_config(REDIS_URL)
# The login, sign-up and reset-email counts (notes/throttle.py) live here: shared through Redis.
CACHES = cache_config(REDIS_URL)

# Realtime tuning (docs/architecture.md explains each).
# Incoming WebSocket messages above this are refused with close code 1009 (daphne's own
# hard limit is 1 MiB, above which it drops the connection without a close frame).
NOTES_MAX_MESSAGE_BYTES = env_int("NOTES_MAX_MESSAGE_BYTES", default=512 * 1024)
# Largest note body, in UTF-8 bytes; edits from the editor (closed with 4413), the API, the
# admin or an import that would exceed it are refused with a clear error.
NOTES_MAX_NOTE_BYTES = env_int("NOTES_MAX_NOTE_BYTES", default=1_000_000)
# Each socket may send this many messages a second on average, in bursts of up to ..._BURST;
# a socket that sends faster is closed with 4429 (0 turns the limit off).
NOTES_RATE_LIMIT = env_float("NOTES_RATE_LIMIT", default=100.0)
NOTES_RATE_BURST = env_float("NOTES_RATE_BURST", default=200.0)
# Open note sockets one user may hold in one process; more are refused with 4429.
NOTES_MAX_SOCKETS_PER_USER = env_int("NOTES_MAX_SOCKETS_PER_USER", default=30)
# If set, /metrics answers only requests with "Authorization: Bearer <this>".
NOTES_METRICS_TOKEN = os.environ.get("NOTES_METRICS_TOKEN", "")
# Every loaded note catches up from the database log this often (seconds).
NOTES_HEAL_INTERVAL = env_float("NOTES_HEAL_INTERVAL", default=5.0)
# Every client is sent sync step 1 this often, so it returns anything the server lacks.
# Below y-websocket's 30 s silence watchdog, so an idle editor alone on a note stays connected.
NOTES_RESYNC_INTERVAL = env_float("NOTES_RESYNC_INTERVAL", default=20.0)
# A note stays loaded this long after its last socket leaves (reconnects are cheap).
NOTES_UNLOAD_GRACE = env_float("NOTES_UNLOAD_GRACE", default=10.0)
# The plain-text mirror used by search and lists lags the document by at most this.
NOTES_TEXT_REFRESH_DELAY = env_float("NOTES_TEXT_REFRESH_DELAY", default=1.0)
# Fold a note's update log into its snapshot after this many entries.
NOTES_COMPACT_EVERY = env_int("NOTES_COMPACT_EVERY", default=500)
# Presence from one socket is passed on at most once per this many seconds.
NOTES_AWARENESS_INTERVAL = env_float("NOTES_AWARENESS_INTERVAL", default=0.05)
# History: take an automatic checkpoint once a note's editing has paused this long (seconds),
# and at least this often while editing goes on; every process checks every ..._SWEEP seconds.
NOTES_CHECKPOINT_IDLE = env_float("NOTES_CHECKPOINT_IDLE", default=60.0)
NOTES_CHECKPOINT_MAX_INTERVAL = env_float("NOTES_CHECKPOINT_MAX_INTERVAL", default=300.0)
NOTES_CHECKPOINT_SWEEP = env_float("NOTES_CHECKPOINT_SWEEP", default=15.0)
# The HTTP transport (docs/protocol.md): a quiet stream gets a keepalive comment this often
# (seconds), so proxies keep it open; a session with no stream and no POST for ..._TTL seconds
# ends and leaves the note; messages a client has not acknowledged are kept for resume up to
# ..._QUEUE_BYTES, past which the client is not reading and is dropped.
NOTES_HTTP_KEEPALIVE = env_float("NOTES_HTTP_KEEPALIVE", default=15.0)
NOTES_HTTP_SESSION_TTL = env_float("NOTES_HTTP_SESSION_TTL", default=30.0)
NOTES_HTTP_QUEUE_BYTES = env_int("NOTES_HTTP_QUEUE_BYTES", default=8 * 1024 * 1024)
# Speed-only tuning (realtime/tuning, docs/server-tuning.md): off leaves out the speed patches
# to daphne and Twisted and the startup heap freeze, and keeps the bug fixes.
NOTES_SPEEDUPS = env_bool("NOTES_SPEEDUPS", default=True)
# Test-only fault injection: drop this share (0 to 1) of incoming fan-out messages.
NOTES_FAULT_DROP_FANOUT = env_float("NOTES_FAULT_DROP_FANOUT", default=0.0)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "notes:list"
LOGOUT_REDIRECT_URL = "login"

# Login, sign-up and reset-email throttling (README "Accounts"; notes/throttle.py). 0: off.
# Slowed: after this many failed logins in a minute for one account, or from one address,
# the next waits for the minute to end.
LOGIN_FAILURES_PER_MINUTE = env_int("LOGIN_FAILURES_PER_MINUTE", default=5)
# Refused: after this many failed logins for one account, or from one address, each less than
# LOGIN_LOCKOUT_MINUTES after the one before, logins are refused until that long after the last.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", default=10)
LOGIN_LOCKOUT_MINUTES = env_float("LOGIN_LOCKOUT_MINUTES", default=15.0)
# Sign-ups from one address: this many a minute, and this many an hour.
SIGNUPS_PER_MINUTE = env_int("SIGNUPS_PER_MINUTE", default=3)
SIGNUPS_PER_HOUR = env_int("SIGNUPS_PER_HOUR", default=10)
# Password-reset emails: this many an hour from one address, and to one email address.
PASSWORD_RESETS_PER_HOUR = env_int("PASSWORD_RESETS_PER_HOUR", default=5)
# Chat messages one user may send in a minute, over all notes (0: off).
CHAT_MESSAGES_PER_MINUTE = env_int("CHAT_MESSAGES_PER_MINUTE", default=30)

# django-axes keeps the failed logins in the database, so every process sees them. Its
# backend only refuses locked-out logins; ModelBackend checks the password.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = LOGIN_FAILURE_LIMIT > 0
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one, counted apart
# Attempts while refused do not restart the wait: nobody can keep an account locked for longer
# than LOGIN_LOCKOUT_MINUTES past their last counted failure.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "notes.views.accounts.login_refused"
AXES_DISABLE_ACCESS_LOG = True  # no table of every successful login
AXES_VERBOSE = False

# Email: password reset links. Printed to the console in debug; SMTP otherwise.
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
EMAIL_PORT = env_int("EMAIL_PORT", default=587 if EMAIL_USE_TLS else 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
# A mail server that does not answer fails the reset page instead of holding a worker forever.
EMAIL_TIMEOUT = env_float("EMAIL_TIMEOUT", default=10.0)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "webmaster@localhost")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed, compressed files once collected, plain names before (collab/storage.py);
        # in debug, always plain names so edits show without collecting.
        "BACKEND": "collab.storage.StaticStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}
# Serve straight from the app folders when nothing was collected, so `daphne` alone serves the
# whole site with debug off (WhiteNoise then finds files the way the static finders do).
WHITENOISE_USE_FINDERS = True
# Without `collectstatic`, STATIC_ROOT does not exist and the finders serve everything.
warnings.filterwarnings("ignore", message="No directory at: ")
WHITENOISE_AUTOREFRESH = DEBUG

# Security. Behind a TLS-terminating proxy set DJANGO_SECURE=1 (see docs/deploy.md).
SECURE = env_bool("DJANGO_SECURE", default=not DEBUG)
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_SSL_REDIRECT = SECURE and env_bool("DJANGO_SSL_REDIRECT", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE else None
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", default=31536000 if SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
# json (the default without debug): one object per line, for log shippers; plain for people.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain" if DEBUG else "json").lower()
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "collab.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "collab": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "notes": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "realtime": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "daphne": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

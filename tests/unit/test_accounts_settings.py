"""The account settings: the shared cache, login and sign-up limits, and email, from the
environment."""

import json

from collab import config
from tests.unit.test_config import _settings_in_subprocess

PRODUCTION = {"DJANGO_SECRET_KEY": "k" * 50}


def test_no_redis_means_a_cache_of_this_process():
    caches = config.cache_config("")
    assert caches["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"


def test_redis_url_means_djangos_redis_cache_shared_by_every_process():
    cache = config.cache_config("redis://127.0.0.1:6379/2")["default"]
    assert cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert cache["LOCATION"] == "redis://127.0.0.1:6379/2"


def _settings(env: dict, expr: str):
    result = _settings_in_subprocess(env, expr)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_limit_defaults_and_what_axes_is_told():
    assert _settings(
        PRODUCTION,
        "[s.LOGIN_FAILURES_PER_MINUTE, s.LOGIN_FAILURE_LIMIT, s.LOGIN_LOCKOUT_MINUTES,"
        " s.SIGNUPS_PER_MINUTE, s.SIGNUPS_PER_HOUR, s.AXES_ENABLED, s.AXES_FAILURE_LIMIT,"
        " s.AXES_COOLOFF_TIME.total_seconds(), s.AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT,"
        " s.CACHES['default']['BACKEND']]",
    ) == [
        5,
        10,
        15.0,
        3,
        10,
        True,
        10,
        900.0,
        False,
        "django.core.cache.backends.locmem.LocMemCache",
    ]


def test_limits_come_from_the_environment_and_0_turns_the_lockout_off():
    env = {
        **PRODUCTION,
        "LOGIN_FAILURE_LIMIT": "0",
        "LOGIN_LOCKOUT_MINUTES": "2.5",
        "SIGNUPS_PER_HOUR": "4",
        "REDIS_URL": "redis://10.0.0.5:6379/1",
    }
    assert _settings(
        env,
        "[s.AXES_ENABLED, s.AXES_COOLOFF_TIME.total_seconds(), s.SIGNUPS_PER_HOUR,"
        " s.CACHES['default']['BACKEND']]",
    ) == [False, 150.0, 4, "django.core.cache.backends.redis.RedisCache"]


EMAIL = "[s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_USE_TLS, s.DEFAULT_FROM_EMAIL]"


def test_email_is_printed_in_debug():
    backend = _settings({"DJANGO_DEBUG": "1"}, "s.EMAIL_BACKEND")
    assert backend == "django.core.mail.backends.console.EmailBackend"


def test_email_goes_to_a_local_mail_server_by_default_in_production():
    assert _settings(PRODUCTION, EMAIL) == [
        "django.core.mail.backends.smtp.EmailBackend",
        "localhost",
        25,
        False,
        "webmaster@localhost",
    ]


def test_email_settings_come_from_the_environment():
    env = {
        **PRODUCTION,
        "EMAIL_HOST": "smtp.example.com",
        "EMAIL_USE_TLS": "1",
        "EMAIL_HOST_USER": "notes",
        "EMAIL_HOST_PASSWORD": "secret",
        "DEFAULT_FROM_EMAIL": "Collab Notes <notes@example.com>",
    }
    assert _settings(env, EMAIL + "+[s.EMAIL_HOST_USER, s.EMAIL_HOST_PASSWORD]") == [
        "django.core.mail.backends.smtp.EmailBackend",
        "smtp.example.com",
        587,
        True,
        "Collab Notes <notes@example.com>",
        "notes",
        "secret",
    ]
    port = _settings({**PRODUCTION, "EMAIL_USE_TLS": "1", "EMAIL_PORT": "2525"}, "s.EMAIL_PORT")
    assert port == 2525

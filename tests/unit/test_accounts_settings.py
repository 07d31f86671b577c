"""The email settings, from the environment."""

import json

from tests.unit.test_config import _settings_in_subprocess

PRODUCTION = {"DJANGO_SECRET_KEY": "k" * 50}


def _settings(env: dict, expr: str):
    result = _settings_in_subprocess(env, expr)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


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

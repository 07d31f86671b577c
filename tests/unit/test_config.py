"""Settings parsing: pure helpers, and the real settings module in a fresh interpreter."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from collab import config

ROOT = Path(__file__).resolve().parents[2]


def _settings_in_subprocess(env: dict, expr: str) -> subprocess.CompletedProcess:
    """Import collab.settings with exactly `env` and print json of `expr`."""
    base = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "collab.settings"}
    code = f"import json; from collab import settings as s; print(json.dumps({expr}, default=str))"
    return subprocess.run(
        [sys.executable, "-c", code], env={**base, **env}, cwd=ROOT, capture_output=True, text=True
    )


def test_default_database_is_sqlite_in_the_project_with_concurrency_settings():
    db = config.database_config(None, base_dir=Path("/srv/app"))
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == "/srv/app/db.sqlite3"
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]
    assert "busy_timeout" in db["OPTIONS"]["init_command"]


def test_postgres_url_uses_the_postgresql_backend():
    db = config.database_config("postgres://bob:pw@db.example:5433/notes", base_dir=Path("/x"))
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["HOST"], db["PORT"]) == ("notes", "bob", "db.example", 5433)


def test_unsupported_database_url_is_a_clear_error():
    with pytest.raises(ValueError, match="sqlite:// or postgres://"):
        config.database_config("mysql://u@h/db", base_dir=Path("/x"))


def test_no_redis_means_in_memory_layer():
    layers = config.channel_layers_config("")
    assert layers["default"]["BACKEND"] == "collab.layers.InMemoryChannelLayer"


def test_redis_url_means_channels_redis_without_socket_timeout():
    layers = config.channel_layers_config("redis://127.0.0.1:6379/2")
    assert layers["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    host = layers["default"]["CONFIG"]["hosts"][0]
    assert host == {"address": "redis://127.0.0.1:6379/2", "socket_timeout": None}


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("yes", True), ("0", False), ("off", False)]
)
def test_env_bool_words(monkeypatch, raw, expected):
    monkeypatch.setenv("X_FLAG", raw)
    assert config.env_bool("X_FLAG", default=not expected) is expected


def test_env_bool_rejects_nonsense(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ValueError, match="X_FLAG"):
        config.env_bool("X_FLAG", default=False)


def test_missing_secret_key_with_debug_off_is_a_clear_error():
    result = _settings_in_subprocess({}, "s.DEBUG")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_debug_defaults_off_and_env_drives_hosts_and_origins():
    result = _settings_in_subprocess(
        {
            "DJANGO_SECRET_KEY": "k" * 50,
            "DJANGO_ALLOWED_HOSTS": "notes.example.com, .example.org",
            "CSRF_TRUSTED_ORIGINS": "https://notes.example.com",
            "REDIS_URL": "redis://10.0.0.5:6379/1",
        },
        "[s.DEBUG, s.ALLOWED_HOSTS, s.CSRF_TRUSTED_ORIGINS,"
        " s.CHANNEL_LAYERS['default']['BACKEND'], s.SESSION_COOKIE_SECURE]",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        False,
        ["notes.example.com", ".example.org"],
        ["https://notes.example.com"],
        "channels_redis.core.RedisChannelLayer",
        True,
    ]


def test_debug_without_secret_key_runs_with_a_development_key():
    result = _settings_in_subprocess(
        {"DJANGO_DEBUG": "1"}, "[s.DEBUG, s.SECRET_KEY.startswith('django-insecure')]"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [True, True]


def test_check_deploy_is_clean_with_production_variables():
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SECRET_KEY": "x9!Qv" * 12,
        "DJANGO_ALLOWED_HOSTS": "notes.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://notes.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout

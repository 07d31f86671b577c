"""Parsing of environment variables into Django settings values. Pure functions, no Django setup."""

import os
import tempfile
from pathlib import Path

import dj_database_url

from notes.broadcast import HUB_CHANNEL_PREFIX

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}

# The per-process hub's channel gets a large queue (see realtime/hub.py).
HUB_CHANNEL_CAPACITY = 10_000


def env_bool(name: str, *, default: bool) -> bool:
    """Read a boolean variable; anything but a clear yes/no word is an error."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{name} must be one of {sorted(TRUE_WORDS | FALSE_WORDS)}, got {raw!r}")


def _env_number(name: str, default, cast, kind: str):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return cast(raw)
    except ValueError:
        raise ValueError(f"{name} must be {kind}, got {raw!r}") from None


def env_int(name: str, *, default: int) -> int:
    """Read an integer variable, with a clear error for anything else."""
    return _env_number(name, default, int, "a whole number")


def env_float(name: str, *, default: float) -> float:
    """Read a number variable, with a clear error for anything else."""
    return _env_number(name, default, float, "a number")


def env_list(name: str, *, default: list[str]) -> list[str]:
    """Read a comma-separated list; blank items are dropped."""
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def database_config(url: str | None, *, base_dir: Path) -> dict:
    """Return the DATABASES['default'] entry for a DATABASE_URL (default: SQLite in the project)."""
    if not url:
        url = f"sqlite:///{base_dir / 'db.sqlite3'}"
    # Persistent connections with health checks: the realtime threads commit many times a
    # second and must not reconnect for each batch.
    config = dj_database_url.parse(url, conn_max_age=600, conn_health_checks=True)
    engine = config["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        # Concurrent writers: WAL lets readers run beside a writer, IMMEDIATE takes the write
        # lock at BEGIN (no deadlocking upgrade), and the busy timeout waits instead of failing
        # with "database is locked".
        # Tests start real daphne processes, which must see the test database: keep it in a
        # file, one per test run so that concurrent runs never share one.
        test_name = Path(tempfile.gettempdir()) / f"collab-test-{os.getpid()}.sqlite3"
        config["TEST"] = {"NAME": str(test_name)}
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL;PRAGMA synchronous=FULL;PRAGMA busy_timeout=20000;"
            ),
        }
    elif engine == "django.db.backends.postgresql":
        config.setdefault("OPTIONS", {})
        # One test database per test run, so concurrent runs never drop each other's.
        config["TEST"] = {"NAME": f"test_{config['NAME']}_{os.getpid()}"}
    else:
        raise ValueError(f"DATABASE_URL must be sqlite:// or postgres://, got engine {engine}")
    return config


def channel_layers_config(redis_url: str | None) -> dict:
    """Return CHANNEL_LAYERS: channels-redis for a REDIS_URL, else the in-memory layer."""
    capacities = {f"{HUB_CHANNEL_PREFIX}.*": HUB_CHANNEL_CAPACITY}
    if not redis_url:
        # The in-memory layer ignores per-pattern capacities (it never compiles them), and the
        # hub's channel is the only one in use, so a global capacity does the same job.
        return {
            "default": {
                "BACKEND": "collab.layers.InMemoryChannelLayer",
                "CONFIG": {"capacity": HUB_CHANNEL_CAPACITY},
            }
        }
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # socket_timeout None: redis-py 8 otherwise times out idle reads after ~5 s and
                # the consumer's socket dies with 1011 (channels_redis issue 422).
                "hosts": [{"address": redis_url, "socket_timeout": None}],
                "channel_capacity": capacities,
                "capacity": 1000,
                "expiry": 30,
            },
        }
    }


def cache_config(redis_url: str | None) -> dict:
    """Return CACHES: Django's Redis cache for a REDIS_URL, so that every process shares the
    login and sign-up counts; else a local-memory cache, which is per process."""
    if not redis_url:
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "collab",
        }
    }

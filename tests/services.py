"""
Gates for the external services tests need: Redis, PostgreSQL, Chromium, Node packages.

Locally a missing service skips the test with the reason; under CI=true it fails the test,
because CI must exercise every boundary.
"""

import os
import shutil
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
NODE_MODULES = ROOT / "frontend" / "node_modules"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require(ok: bool, reason: str) -> None:
    """Skip (locally) or fail (CI) when a needed service is missing."""
    if ok:
        return
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def redis_url() -> str:
    """The Redis URL tests use: REDIS_URL, else the local default server."""
    return os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/5"


def require_redis() -> str:
    url = redis_url()
    parsed = urlparse(url)
    require(
        _port_open(parsed.hostname or "127.0.0.1", parsed.port or 6379),
        f"no Redis server at {url}",
    )
    return url


def require_redis_server_binary() -> str:
    path = shutil.which("redis-server")
    require(path is not None, "redis-server is not installed (needed to start a killable Redis)")
    return path


def require_postgres() -> None:
    require(_port_open("127.0.0.1", 5432), "no PostgreSQL server at 127.0.0.1:5432")


def require_chromium() -> str:
    require(Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


def require_node_packages() -> Path:
    require(shutil.which("node") is not None, "Node.js is not installed")
    require(
        (NODE_MODULES / "yjs").exists() and (NODE_MODULES / "y-websocket").exists(),
        "frontend npm packages are missing (cd frontend && npm ci)",
    )
    return NODE_MODULES


JS_CLIENTS = ROOT / "tests" / "js"


def require_js_clients() -> Path:
    """The official Yjs clients in tests/js (npm ci there)."""
    require(shutil.which("node") is not None, "Node.js is not installed")
    modules = JS_CLIENTS / "node_modules"
    require(
        all((modules / name).exists() for name in ("yjs", "y-websocket", "ws")),
        "official Yjs clients are not installed (cd tests/js && npm ci)",
    )
    return JS_CLIENTS

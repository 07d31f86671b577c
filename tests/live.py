"""
Real server processes for tests: daphne on a free port (port 0), and a killable Redis.

Each helper is a context manager that owns its process and cleans up after itself.
"""

import contextlib
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
LIVE_SERVER_APP = "collab-live-server"  # marks live servers' database sessions
LISTENING = re.compile(r"Listening on TCP address [\d.]+:(\d+)")


def database_url() -> str:
    """A URL for the database this test run uses (the test database, not the real one)."""
    db = settings.DATABASES["default"]
    name = connection.settings_dict["NAME"]
    if db["ENGINE"].endswith("sqlite3"):
        if name == ":memory:" or "mode=memory" in str(name):
            raise RuntimeError("live servers need a file-based SQLite test database")
        return f"sqlite:///{name}"
    user = db.get("USER") or "postgres"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{name}?application_name={LIVE_SERVER_APP}"


@dataclass
class Daphne:
    port: int
    process: subprocess.Popen
    log_path: Path
    env: dict = field(repr=False)
    args: tuple = ()
    memory_limit: int | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=15)


def _start(
    env: dict, port: int, log_path: Path, args: tuple = (), memory_limit: int | None = None
) -> subprocess.Popen:
    log = open(log_path, "ab")  # the process owns it for its lifetime
    command = ["-m", "daphne", "-b", "127.0.0.1", "-p", str(port), *args]

    def cap_memory() -> None:  # runs in the child, before daphne starts
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    return subprocess.Popen(
        [sys.executable, *command, "collab.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=cap_memory if memory_limit else None,
    )


def _wait_listening(process: subprocess.Popen, log_path: Path, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = LISTENING.search(log_path.read_text(errors="replace"))
        if match:
            return int(match.group(1))
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited early:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(
        f"daphne did not start in {timeout}s:\n{log_path.read_text(errors='replace')}"
    )


def server_env(**overrides) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_DEBUG": "0",
        "DJANGO_SECURE": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
    }
    env.update({k: v for k, v in overrides.items() if v is not None})
    for k, v in overrides.items():
        if v is None:
            env.pop(k, None)
    return env


@contextlib.contextmanager
def daphne(args: tuple = (), memory_limit: int | None = None, **env_overrides):
    """A real daphne process serving the app on a free port, against the test database.

    `args` are extra daphne options; `memory_limit` caps its address space in bytes (a
    process that needs more fails its allocations); keyword arguments override environment
    variables (None removes one).
    """
    env = server_env(**env_overrides)
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "daphne.log"
        process = _start(env, 0, log_path, args, memory_limit)
        server = None
        try:
            port = _wait_listening(process, log_path)
            server = Daphne(port, process, log_path, env, args, memory_limit)
            yield server
        finally:
            if server is not None:
                process = server.process  # restart() may have replaced it
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            _wait_for_other_sessions_to_end()
            if os.environ.get("SHOW_SERVER_LOGS"):
                print(log_path.read_text(errors="replace"))


def restart(server: Daphne, sig=signal.SIGKILL) -> None:
    """Kill the server and start it again on the same port, so clients can reconnect."""
    server.kill(sig)
    server.log_path.write_text("")
    deadline = time.monotonic() + 10
    while True:
        try:
            server.process = _start(
                server.env, server.port, server.log_path, server.args, server.memory_limit
            )
            _wait_listening(server.process, server.log_path)
            return
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _wait_for_other_sessions_to_end(timeout: float = 10) -> None:
    """PostgreSQL ends a dead client's backend a moment after the client: wait for that, so the
    test database can be flushed and dropped."""
    if connection.vendor != "postgresql":
        return
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = %s",
                [LIVE_SERVER_APP],
            )
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

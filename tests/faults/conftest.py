"""
Fixtures for the crash-safety fault suite: a Redis the test owns (so it can SIGKILL it and
start it again on the same port), a logged-in cookie, and a figures line per scenario, which
is printed at once and repeated in the run's summary (so a passing run shows its numbers too).
"""

import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from tests import live
from tests.factories import make_user
from tests.services import require_redis_server_binary

FIGURES: list[str] = []


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section("fault scenario figures")
        for line in FIGURES:
            terminalreporter.write_line(line)


@pytest.fixture
def figures():
    """Record one scenario's figures: `figures(name, key=value, ...)`."""

    def record(name: str, **values) -> str:
        stack = connection.vendor + ("+redis" if values.pop("redis", False) else "")
        parts = " ".join(f"{key}={_fmt(value)}" for key, value in values.items())
        line = f"{name} [{stack}]: {parts}"
        print(line)
        FIGURES.append(line)
        return line

    return record


def _fmt(value) -> str:
    return f"{value:.2f}s" if isinstance(value, float) else str(value)


@pytest.fixture
def owner(transactional_db):
    return make_user("owner")


@pytest.fixture
def cookie(owner) -> str:
    client = Client()
    client.force_login(owner)
    return client.cookies["sessionid"].value


class KillableRedis:
    """A redis-server subprocess on its own port, with no persistence: SIGKILL loses everything
    it held (group memberships, queued messages), as a crashed Redis would."""

    def __init__(self, binary: str, folder: Path):
        self.binary = binary
        self.folder = folder
        self.port = live.free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> None:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        log = open(self.folder / "redis.log", "ab")  # the process owns it
        self.process = subprocess.Popen(
            command, cwd=self.folder, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while not self.ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start:\n{self.log()}")
            time.sleep(0.02)

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=10)

    def log(self) -> str:
        path = self.folder / "redis.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""


@pytest.fixture
def killable_redis():
    binary = require_redis_server_binary()
    with tempfile.TemporaryDirectory() as tmp:
        redis = KillableRedis(binary, Path(tmp))
        redis.start()
        try:
            yield redis
        finally:
            redis.kill()

"""
The two servers under test, each a context manager that starts it on a free loopback port and
stops it cleanly: ours (real daphne processes on a throwaway database) and the reference
Node server from npm `@y/websocket-server`.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PYTHON = ROOT / ".venv" / "bin" / "python"
REFERENCE_ENTRY = BENCH / "node_modules" / "@y" / "websocket-server" / "src" / "server.js"

HOST = "127.0.0.1"
READY_TIMEOUT_S = 30
STOP_TIMEOUT_S = 10
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


def free_port() -> int:
    """A port nothing listens on right now (the server binds it a moment later)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_http(url: str, deadline_s: float = READY_TIMEOUT_S) -> None:
    """Poll `url` until it answers (any HTTP status counts) or the deadline passes."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {deadline_s} s")


def stop_process(proc: subprocess.Popen) -> int | None:
    """SIGTERM, wait (bounded), then SIGKILL; returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT_S)
    return proc.returncode


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class OurServer:
    """daphne serving collab.asgi on a throwaway database; `processes` > 1 shares Redis."""

    kind = "ours"

    def __init__(self, *, notes: int, sessions: int, processes: int = 1, db: str = "sqlite"):
        self.notes_needed = notes
        self.sessions_needed = sessions
        self.process_count = processes
        self.db = db
        self.procs: list[subprocess.Popen] = []
        self.ports: list[int] = []
        self.note_ids: list[str] = []
        self.cookies: list[str] = []
        self._next_note = 0
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-"))
        self.pg_name = None

    def _env(self) -> dict:
        env = dict(os.environ)
        if self.db == "postgres":
            database_url = f"{PG_URL}/{self.pg_name}"
        else:
            database_url = f"sqlite:///{self.tmp / 'db.sqlite3'}"
        env.update(
            DJANGO_SECRET_KEY=f"bench-{uuid.uuid4().hex}",
            DJANGO_DEBUG="0",
            DJANGO_SECURE="0",
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            DATABASE_URL=database_url,
            # Every bench client is one user (the note's owner), and ping-pong sends hundreds
            # of messages a second per socket: lift the per-user socket cap and the per-socket
            # rate far out of reach. The token bucket still runs on every frame, as in
            # production (a rate of 0 would skip it).
            NOTES_MAX_SOCKETS_PER_USER="1000000",
            NOTES_RATE_LIMIT="1000000",
            NOTES_RATE_BURST="1000000",
            # The same for chat: chat-typing-20 posts 120 messages a minute, all as that one
            # user. Out of reach, but checked and counted on every message as in production (0
            # would skip the check).
            CHAT_MESSAGES_PER_MINUTE="1000000",
        )
        if self.process_count > 1:
            env["REDIS_URL"] = REDIS_URL
        else:
            env.pop("REDIS_URL", None)
        return env

    def __enter__(self):
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self):
        if self.db == "postgres":
            self.pg_name = f"bench{uuid.uuid4().hex[:12]}"
            subprocess.run(["createdb", "-h", HOST, "-U", "postgres", self.pg_name], check=True)
        env = self._env()
        manage = [str(PYTHON), str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)
        setup = subprocess.run(
            [
                *manage,
                "bench_setup",
                "--users=2",
                f"--notes={self.notes_needed}",
                f"--sessions={self.sessions_needed}",
            ],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        made = json.loads(setup.stdout)
        self.note_ids, self.cookies = made["notes"], made["cookies"]
        if self.process_count > 1:
            subprocess.run(
                ["redis-cli", "-u", REDIS_URL, "flushdb"], check=True, stdout=subprocess.DEVNULL
            )
        self.env = env
        self._launch()

    def _launch(self):
        self.procs, self.ports = [], [free_port() for _ in range(self.process_count)]
        # Clients send the first process's Origin to every process, as browsers behind one
        # load balancer send one origin; trust it everywhere, as an operator would
        # (docs/deploy.md, "Which pages may open a socket").
        env = {**self.env, "CSRF_TRUSTED_ORIGINS": f"http://{HOST}:{self.ports[0]}"}
        for i, port in enumerate(self.ports):
            log = open(self.tmp / f"daphne-{i}.log", "a")
            command = [str(PYTHON), "-m", "daphne", "-b", HOST, "-p", str(port)]
            self.procs.append(
                subprocess.Popen(
                    [*command, "collab.asgi:application"],
                    env=env,
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        for port in self.ports:
            wait_http(f"http://{HOST}:{port}/accounts/login/")

    def deaths(self) -> list[int]:
        """Exit codes of server processes that are no longer running."""
        return [p.returncode for p in self.procs if p.poll() is not None]

    def restart(self) -> None:
        """Start the processes again on the same database (after one died)."""
        for p in self.procs:
            stop_process(p)
        self._launch()

    def save_logs(self, dest: Path) -> None:
        for path in self.tmp.glob("daphne-*.log"):
            shutil.copy(path, dest / f"ours-{self.process_count}p-{path.name}")

    def __exit__(self, *exc):
        self.exit_codes = [stop_process(p) for p in self.procs]
        if self.pg_name:
            subprocess.run(
                ["dropdb", "--if-exists", "-f", "-h", HOST, "-U", "postgres", self.pg_name],
                check=False,
            )
        if os.environ.get("BENCH_KEEP_TMP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def log_tail(self, lines: int = 20) -> str:
        out = []
        for i in range(len(self.procs)):
            path = self.tmp / f"daphne-{i}.log"
            if path.exists():
                out.extend(path.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(out)

    def log_lines_matching(self, *words: str) -> list[str]:
        hits = []
        for i in range(len(self.procs)):
            path = self.tmp / f"daphne-{i}.log"
            if path.exists():
                for line in path.read_text(errors="replace").splitlines():
                    if any(w in line for w in words):
                        hits.append(line)
        return hits

    def target(self, notes: int) -> dict:
        """Fresh notes for one scenario run: URLs (spread over processes), cookies, Origin."""
        ids = self.note_ids[self._next_note : self._next_note + notes]
        if len(ids) < notes:
            raise RuntimeError(f"bench_setup made {len(self.note_ids)} notes; need more")
        self._next_note += notes
        urls = [[f"ws://{HOST}:{port}/ws/notes/{note}/" for port in self.ports] for note in ids]
        return {
            "kind": self.kind,
            "urls": urls,
            "cookies": self.cookies,
            "origin": f"http://{HOST}:{self.ports[0]}",
        }


class ReferenceServer:
    """The reference Node server: @y/websocket-server's bin reads HOST and PORT from the env."""

    kind = "reference"

    def __init__(self):
        self.proc = None
        self.port = free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-ref-"))
        self._run = 0

    def __enter__(self):
        env = dict(os.environ, HOST=HOST, PORT=str(self.port))
        env.pop("YPERSISTENCE", None)
        self.log = open(self.tmp / "reference.log", "a")
        self.proc = subprocess.Popen(
            ["node", str(REFERENCE_ENTRY)],
            env=env,
            cwd=BENCH,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_http(f"http://{HOST}:{self.port}/")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        self.exit_codes = [stop_process(self.proc)] if self.proc else []
        shutil.rmtree(self.tmp, ignore_errors=True)

    def deaths(self) -> list[int]:
        return [self.proc.returncode] if self.proc.poll() is not None else []

    def restart(self) -> None:
        stop_process(self.proc)
        self.__enter__()

    def save_logs(self, dest: Path) -> None:
        path = self.tmp / "reference.log"
        if path.exists():
            shutil.copy(path, dest / "reference.log")

    @property
    def pids(self) -> list[int]:
        return [self.proc.pid]

    def log_tail(self, lines: int = 20) -> str:
        path = self.tmp / "reference.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            if path.exists()
            else ""
        )

    def log_lines_matching(self, *words: str) -> list[str]:
        return []

    def target(self, notes: int) -> dict:
        """Fresh room names for one scenario run (the server creates a document per name)."""
        self._run += 1
        return {
            "kind": self.kind,
            "urls": [[f"ws://{HOST}:{self.port}/bench-{self._run}-{i}"] for i in range(notes)],
            "cookies": None,
            "origin": None,
        }

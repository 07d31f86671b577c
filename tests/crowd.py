"""Drive tests/js/crowd.mjs: a crowd of official Yjs clients that stays connected while a test
kills and restarts servers, and answers commands (type, pause, status, wait, destroy) on the way.
"""

import contextlib
import itertools
import json
import queue
import subprocess
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tests.jsclients import TOKEN
from tests.services import require_js_clients


class CrowdError(RuntimeError):
    pass


class Crowd:
    """One node process holding every client. Use `crowd(...)` to start one."""

    def __init__(self, process: subprocess.Popen, stderr_path: Path):
        self.process = process
        self.stderr_path = stderr_path
        self._ids = itertools.count(1)
        self._lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        ready = self._next_line(timeout=30)
        if not ready.get("ready"):
            raise CrowdError(f"crowd did not start: {ready}")

    def _read(self) -> None:
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _next_line(self, timeout: float) -> dict:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise CrowdError(f"no answer from the crowd in {timeout}s\n{self.log()}") from None
        if line is None:
            raise CrowdError(f"the crowd exited ({self.process.poll()})\n{self.log()}")
        return json.loads(line)

    def log(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-3000:]

    def call(self, cmd: str, timeout: float = 60, **args) -> dict:
        request_id = next(self._ids)
        self.process.stdin.write(json.dumps({"id": request_id, "cmd": cmd, **args}) + "\n")
        self.process.stdin.flush()
        while True:
            reply = self._next_line(timeout)
            if reply.get("id") == request_id:
                break
        if not reply.get("ok"):
            raise CrowdError(f"{cmd} failed: {reply.get('error')}\n{self.log()}")
        return reply

    # --- commands ---

    def type(self, *, interval_ms: int, clients: list[int] | None = None, count=None) -> None:
        args = {"interval_ms": interval_ms}
        if clients is not None:
            args["clients"] = clients
        if count is not None:
            args["count"] = count
        self.call("type", **args)

    def pause(self, *, finish: bool = False) -> list[int]:
        """Stop typing (with `finish`, once each client typed its `count`); returns how many
        tokens each client typed in all."""
        return self.call("pause", finish=finish)["typed"]

    def status(self) -> list[dict]:
        return self.call("status")["clients"]

    def texts(self) -> list[str]:
        return self.call("texts")["texts"]

    def wait(
        self, until: str = "converged", *, timeout: float, min_syncs=None
    ) -> tuple[bool, float]:
        """Wait until every client is connected and synced (and, for 'converged', all texts are
        equal); returns whether that happened and the seconds it took."""
        args = {"until": until, "timeout_ms": int(timeout * 1000)}
        if min_syncs is not None:
            args["min_syncs"] = min_syncs
        reply = self.call("wait", timeout=timeout + 30, **args)
        return reply["met"], reply["ms"] / 1000

    def probe(self, source: int, *, timeout: float = 10) -> tuple[bool, float]:
        """Client `source` types one token: seconds until every client has it."""
        reply = self.call(
            "probe", timeout=timeout + 30, **{"from": source, "timeout_ms": int(timeout * 1000)}
        )
        return reply["met"], reply["ms"] / 1000

    def destroy(self) -> list[str]:
        """Destroy every provider, so nothing more is sent; returns the final texts."""
        return self.call("destroy")["texts"]

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(Exception):
                self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def crowd(clients: list[dict], *, max_backoff_ms: int = 500):
    """Start a crowd of clients (see tests.jsclients.client_spec for one client's spec; add
    "acks": True to ask for the server's save acknowledgements)."""
    folder = require_js_clients()
    spec = {"clients": clients, "max_backoff_ms": max_backoff_ms}
    with tempfile.TemporaryDirectory() as tmp:
        stderr_path = Path(tmp) / "crowd.log"
        with open(stderr_path, "wb") as stderr:
            process = subprocess.Popen(
                ["node", str(folder / "crowd.mjs"), json.dumps(spec)],
                cwd=folder,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        running = None
        try:
            running = Crowd(process, stderr_path)
            yield running
        finally:
            if running is not None:
                running.close()
            elif process.poll() is None:
                process.kill()
                process.wait()


@dataclass
class Tally:
    """Tokens expected (every one typed) against tokens present in one text."""

    expected: int
    present: int
    lost: int
    duplicated: int
    unexpected: int

    @property
    def clean(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.unexpected == 0


def typed_tokens(names: list[str], typed: list[int]) -> set[tuple[str, str]]:
    """Every token the clients typed: `<name:k>` for k below each client's count."""
    return {(name, str(k)) for name, count in zip(names, typed, strict=True) for k in range(count)}


def tally(text: str, expected: set[tuple[str, str]]) -> Tally:
    counts = Counter(TOKEN.findall(text))
    present = set(counts)
    return Tally(
        expected=len(expected),
        present=len(present & expected),
        lost=len(expected - present),
        duplicated=sum(n - 1 for n in counts.values() if n > 1),
        unexpected=len(present - expected),
    )

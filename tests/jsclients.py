"""Run tests/js/clients.mjs (official Yjs clients) through a scenario and return its result."""

import json
import re
import subprocess
from collections import Counter

from tests.services import require_js_clients

TOKEN = re.compile(r"<([a-z0-9-]+):(\d+)>")


def client_spec(server, note_id, cookie, name: str) -> dict:
    return {
        "url": f"{server.ws_url}/ws/notes",
        "room": f"{note_id}/",
        "cookie": cookie,
        "origin": server.http_url,
        "name": name,
    }


def run_clients(scenario: dict, timeout: float = 120) -> dict:
    folder = require_js_clients()
    result = subprocess.run(
        ["node", str(folder / "clients.mjs"), json.dumps(scenario)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=folder,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def token_counts(text: str) -> Counter:
    return Counter(TOKEN.findall(text))


def assert_every_token_once(text: str, names: list[str], edits: int) -> None:
    """Each client's edits are all present, each exactly once: nothing lost or duplicated."""
    counts = token_counts(text)
    expected = {(name, str(k)) for name in names for k in range(edits)}
    missing = expected - set(counts)
    doubled = {token: n for token, n in counts.items() if n > 1}
    assert not missing, f"{len(missing)} of {len(expected)} edits lost, e.g. {sorted(missing)[:5]}"
    assert not doubled, f"duplicated edits: {doubled}"
    assert len(counts) == len(expected)

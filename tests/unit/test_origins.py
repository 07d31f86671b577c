"""The WebSocket Origin policy, as a matrix (realtime/transports/origins.py, docs/deploy.md)."""

import pytest

from realtime.transports.origins import origin_allowed


@pytest.fixture(autouse=True)
def hosts(settings):
    settings.ALLOWED_HOSTS = ["notes.example.com", "127.0.0.1", "localhost"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.org"]


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        # The page's own origin, as the socket's Host header names it.
        ("https://notes.example.com", "notes.example.com", True),
        ("http://127.0.0.1:8000", "127.0.0.1:8000", True),
        ("http://localhost:8000", "localhost:8000", True),
        ("https://notes.example.com:443", "notes.example.com", True),
        # Explicitly trusted elsewhere.
        ("https://app.example.org", "notes.example.com", True),
        # Refused: foreign, missing, null, other port, other scheme's port, spoofed Host.
        ("https://evil.example", "notes.example.com", False),
        ("https://notes.example.com.evil.example", "notes.example.com", False),
        (None, "notes.example.com", False),
        ("", "notes.example.com", False),
        ("null", "notes.example.com", False),
        ("http://127.0.0.1:9999", "127.0.0.1:8000", False),
        ("http://127.0.0.1", "127.0.0.1:8000", False),
        ("http://notes.example.com", "notes.example.com:443", False),
        ("https://evil.example", "evil.example", False),
        ("http://app.example.org", "notes.example.com", False),
        ("file://", "notes.example.com", False),
        ("chrome-extension://abc", "notes.example.com", False),
        ("https://notes.example.com", None, False),
    ],
)
def test_origin_matrix(origin, host, allowed):
    assert origin_allowed(origin, host) is allowed

"""
The HTTP transport's wire format (docs/protocol.md, "The HTTP transport"). Pure: no Django, no
I/O. Server-sent events carry protocol messages to the client, base64 in `data:` lines; a POST
body carries them to the server as a run of varByteArrays.
"""

import base64
import json
import re
import secrets

from realtime import protocol

KEEPALIVE = b": keepalive\n\n"
RETRY = b"retry: 1000\n\n"

# 16 hex digits name the holding process (its hub id), 32 more are the secret.
_TOKEN = re.compile(r"[0-9a-f]{48}")
HOLDER_DIGITS = 16


class BadBody(ValueError):
    """A POST body that is not a run of varByteArrays."""


def new_token(hub_id: str) -> str:
    """A new session's name: the holding hub's id, then 128 random bits."""
    return hub_id[:HOLDER_DIGITS] + secrets.token_hex(16)


def token_holder(token: str) -> str | None:
    """The hub id of the process holding this session, or None for a malformed name."""
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        return None
    return token[:HOLDER_DIGITS]


def session_event(token: str, keepalive: float) -> bytes:
    data = json.dumps({"session": token, "keepalive": keepalive})
    return f"event: session\ndata: {data}\n\n".encode()


def message_event(token: str, seq: int, frame: bytes) -> bytes:
    """One protocol message as one event, its id naming the session and its place in it."""
    return b"id: %s:%d\ndata: %s\n\n" % (token.encode(), seq, base64.b64encode(frame))


def close_event(code: int, reason: str) -> bytes:
    data = json.dumps({"code": code, "reason": reason})
    return f"event: close\ndata: {data}\n\n".encode()


def json_event(event: dict) -> bytes:
    """A notes-list event: JSON on one line (json.dumps escapes every newline)."""
    return b"data: %s\n\n" % json.dumps(event).encode()


def parse_last_event_id(value: str | None) -> tuple[str, int] | None:
    """`<session>:<seq>` from a Last-Event-ID header, or None when absent or malformed."""
    if not value:
        return None
    token, _, seq = value.strip().partition(":")
    if token_holder(token) is None or not seq.isdigit() or len(seq) > 15:
        return None
    return token, int(seq)


def split_body(body: bytes) -> list[bytes]:
    """The messages of a POST body, in order. Raises BadBody when it does not parse whole."""
    frames = []
    pos = 0
    try:
        while pos < len(body):
            frame, pos = protocol.read_var_bytes(body, pos)
            frames.append(frame)
    except protocol.ProtocolError as exc:
        raise BadBody(f"body is not a run of length-prefixed messages: {exc}") from None
    return frames


def join_body(frames: list[bytes]) -> bytes:
    """The inverse of split_body (clients and tests use it)."""
    return b"".join(protocol.write_var_bytes(frame) for frame in frames)

"""
The Yjs WebSocket protocol (y-protocols v1), plus one optional message of our own.

Pure: no Django, no I/O. Every message is one binary frame; docs/protocol.md gives the grammar.
Decoding is strict: a truncated or over-long field, trailing bytes or an unknown type raises
ProtocolError, which closes only the offending socket.
"""

import json
from dataclasses import dataclass, field

# Message types: the first varUint of every frame.
MSG_SYNC = 0
MSG_AWARENESS = 1
MSG_AUTH = 2
MSG_QUERY_AWARENESS = 3
# Ours: "n of your document messages are durably stored". Sent only to clients that ask
# for it with ?acks=1; stock clients never see it.
MSG_SAVED = 100
# Ours too, also only with ?acks=1: "your role on this note is now r" (1 viewer, 2 editor,
# 3 owner), sent on join and whenever it changes, so the editor can switch to read-only.
MSG_ACCESS = 101
# Ours, only with ?acks=1: a chat event on this note, as JSON (docs/protocol.md).
MSG_CHAT = 102
# Ours, only with ?acks=1: a comment-thread event on this note, as JSON.
MSG_COMMENTS = 103

# Sync sub-types: the second varUint of a sync frame.
SYNC_STEP1 = 0
SYNC_STEP2 = 1
SYNC_UPDATE = 2

# lib0 encodes integers as JavaScript numbers: nothing above 2**53 - 1 is valid.
MAX_SAFE_INTEGER = 2**53 - 1
MAX_VAR_UINT_BYTES = 8


class ProtocolError(ValueError):
    """A frame that does not follow the protocol."""


@dataclass(frozen=True, slots=True)
class SyncStep1:
    state_vector: bytes


@dataclass(frozen=True, slots=True)
class SyncStep2:
    update: bytes


@dataclass(frozen=True, slots=True)
class SyncUpdate:
    update: bytes


@dataclass(frozen=True, slots=True)
class Awareness:
    payload: bytes


@dataclass(frozen=True, slots=True)
class QueryAwareness:
    pass


@dataclass(frozen=True, slots=True)
class AwarenessEntry:
    """One client's presence: its state as JSON text, "null" once the client has gone."""

    client_id: int
    clock: int
    state: str
    # The state as decode_awareness_payload parsed it (to check it), for whoever reads it
    # next; None where the entry was made otherwise. Not part of what the entry is.
    parsed: object = field(default=None, compare=False, repr=False)

    @property
    def gone(self) -> bool:
        return self.state == "null"


Message = SyncStep1 | SyncStep2 | SyncUpdate | Awareness | QueryAwareness


# --- primitives ---------------------------------------------------------------------------


def write_var_uint(value: int) -> bytes:
    if value < 0 or value > MAX_SAFE_INTEGER:
        raise ProtocolError(f"varUint out of range: {value}")
    out = bytearray()
    while value > 0x7F:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


def read_var_uint(data: bytes, pos: int) -> tuple[int, int]:
    """Return (value, next position)."""
    value = 0
    shift = 0
    for i in range(MAX_VAR_UINT_BYTES):
        if pos + i >= len(data):
            raise ProtocolError("truncated varUint")
        byte = data[pos + i]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if value > MAX_SAFE_INTEGER:
                raise ProtocolError("varUint out of range")
            return value, pos + i + 1
        shift += 7
    raise ProtocolError("varUint too long")


def write_var_bytes(payload: bytes) -> bytes:
    return write_var_uint(len(payload)) + payload


def read_var_bytes(data: bytes, pos: int) -> tuple[bytes, int]:
    length, pos = read_var_uint(data, pos)
    end = pos + length
    if end > len(data):
        raise ProtocolError(f"payload of {length} bytes is truncated")
    return data[pos:end], end


def write_var_string(text: str) -> bytes:
    # lib0 prefixes strings with their UTF-8 byte length (not the character count).
    return write_var_bytes(text.encode("utf-8"))


def read_var_string(data: bytes, pos: int) -> tuple[str, int]:
    raw, pos = read_var_bytes(data, pos)
    try:
        return raw.decode("utf-8"), pos
    except UnicodeDecodeError:
        raise ProtocolError("string is not valid UTF-8") from None


def _expect_end(data: bytes, pos: int) -> None:
    if pos != len(data):
        raise ProtocolError(f"{len(data) - pos} unexpected trailing bytes")


# --- messages -----------------------------------------------------------------------------

_SYNC_TYPES = {SYNC_STEP1: SyncStep1, SYNC_STEP2: SyncStep2, SYNC_UPDATE: SyncUpdate}


def decode_message(data: bytes) -> Message:
    """Decode one frame from a client."""
    if not data:
        raise ProtocolError("empty frame")
    kind, pos = read_var_uint(data, 0)
    if kind == MSG_SYNC:
        sub, pos = read_var_uint(data, pos)
        cls = _SYNC_TYPES.get(sub)
        if cls is None:
            raise ProtocolError(f"unknown sync message type {sub}")
        payload, pos = read_var_bytes(data, pos)
        _expect_end(data, pos)
        return cls(payload)
    if kind == MSG_AWARENESS:
        payload, pos = read_var_bytes(data, pos)
        _expect_end(data, pos)
        return Awareness(payload)
    if kind == MSG_QUERY_AWARENESS:
        _expect_end(data, pos)
        return QueryAwareness()
    raise ProtocolError(f"unknown message type {kind}")


def encode_sync_step1(state_vector: bytes) -> bytes:
    return bytes((MSG_SYNC, SYNC_STEP1)) + write_var_bytes(state_vector)


def encode_sync_step2(update: bytes) -> bytes:
    return bytes((MSG_SYNC, SYNC_STEP2)) + write_var_bytes(update)


def encode_sync_update(update: bytes) -> bytes:
    return bytes((MSG_SYNC, SYNC_UPDATE)) + write_var_bytes(update)


def encode_awareness(payload: bytes) -> bytes:
    return bytes((MSG_AWARENESS,)) + write_var_bytes(payload)


def encode_query_awareness() -> bytes:
    return bytes((MSG_QUERY_AWARENESS,))


def encode_saved(count: int) -> bytes:
    return write_var_uint(MSG_SAVED) + write_var_uint(count)


def decode_saved(data: bytes) -> int:
    kind, pos = read_var_uint(data, 0)
    if kind != MSG_SAVED:
        raise ProtocolError(f"not a saved message: type {kind}")
    count, pos = read_var_uint(data, pos)
    _expect_end(data, pos)
    return count


def encode_access(role: int) -> bytes:
    return write_var_uint(MSG_ACCESS) + write_var_uint(role)


def decode_access(data: bytes) -> int:
    kind, pos = read_var_uint(data, 0)
    if kind != MSG_ACCESS:
        raise ProtocolError(f"not an access message: type {kind}")
    role, pos = read_var_uint(data, pos)
    _expect_end(data, pos)
    return role


def encode_chat(event_json: str) -> bytes:
    return write_var_uint(MSG_CHAT) + write_var_string(event_json)


def decode_chat(data: bytes) -> str:
    return _decode_json_event(data, MSG_CHAT)


def encode_comments(event_json: str) -> bytes:
    return write_var_uint(MSG_COMMENTS) + write_var_string(event_json)


def decode_comments(data: bytes) -> str:
    return _decode_json_event(data, MSG_COMMENTS)


def _decode_json_event(data: bytes, expected: int) -> str:
    kind, pos = read_var_uint(data, 0)
    if kind != expected:
        raise ProtocolError(f"not a message of type {expected}: type {kind}")
    event_json, pos = read_var_string(data, pos)
    _expect_end(data, pos)
    return event_json


# --- awareness payloads -------------------------------------------------------------------


def decode_awareness_payload(payload: bytes) -> list[AwarenessEntry]:
    """Decode the entries of an awareness message; each state must be valid JSON."""
    count, pos = read_var_uint(payload, 0)
    if count > len(payload):  # every entry takes at least three bytes
        raise ProtocolError("awareness entry count exceeds payload")
    entries = []
    for _ in range(count):
        client_id, pos = read_var_uint(payload, pos)
        clock, pos = read_var_uint(payload, pos)
        state, pos = read_var_string(payload, pos)
        try:
            parsed = json.loads(state)
        except ValueError:
            raise ProtocolError("awareness state is not JSON") from None
        except RecursionError:  # valid JSON, nested deeper than Python parses
            raise ProtocolError("awareness state is nested too deeply") from None
        entries.append(AwarenessEntry(client_id, clock, state, parsed))
    _expect_end(payload, pos)
    return entries


def encode_awareness_payload(entries: list[AwarenessEntry]) -> bytes:
    parts = [write_var_uint(len(entries))]
    for entry in entries:
        parts.append(write_var_uint(entry.client_id))
        parts.append(write_var_uint(entry.clock))
        parts.append(write_var_string(entry.state))
    return b"".join(parts)

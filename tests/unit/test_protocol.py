"""The wire codec: round trips, strict decoding, and the grammar in docs/protocol.md."""

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realtime import protocol

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()


@given(st.integers(min_value=0, max_value=protocol.MAX_SAFE_INTEGER))
def test_var_uint_round_trip(value):
    encoded = protocol.write_var_uint(value)
    assert protocol.read_var_uint(encoded, 0) == (value, len(encoded))


@pytest.mark.parametrize(
    ("value", "encoded"), [(0, b"\x00"), (127, b"\x7f"), (128, b"\x80\x01"), (300, b"\xac\x02")]
)
def test_var_uint_matches_lib0(value, encoded):
    assert protocol.write_var_uint(value) == encoded


@pytest.mark.parametrize("data", [b"", b"\x80", b"\xff\xff", b"\xff" * 9 + b"\x01"])
def test_bad_var_uint_is_a_protocol_error(data):
    with pytest.raises(protocol.ProtocolError):
        protocol.read_var_uint(data, 0)


@pytest.mark.parametrize(
    ("encode", "cls"),
    [
        (protocol.encode_sync_step1, protocol.SyncStep1),
        (protocol.encode_sync_step2, protocol.SyncStep2),
        (protocol.encode_sync_update, protocol.SyncUpdate),
        (protocol.encode_awareness, protocol.Awareness),
    ],
)
@given(payload=st.binary(max_size=300))
def test_message_round_trip(encode, cls, payload):
    message = protocol.decode_message(encode(payload))
    assert isinstance(message, cls)
    assert message == cls(payload)


def test_query_awareness_round_trip():
    assert protocol.decode_message(protocol.encode_query_awareness()) == protocol.QueryAwareness()


def test_saved_round_trip():
    assert protocol.decode_saved(protocol.encode_saved(12345)) == 12345
    assert protocol.encode_saved(3) == b"\x64\x03"


def test_chat_round_trip_and_clients_cannot_send_it():
    event = '{"kind": "deleted", "id": 7, "text": "é"}'
    frame = protocol.encode_chat(event)
    assert frame[0] == 102
    assert protocol.decode_chat(frame) == event
    with pytest.raises(protocol.ProtocolError):
        protocol.decode_chat(frame + b"\x00")
    with pytest.raises(protocol.ProtocolError):
        protocol.decode_message(frame)  # server to client only: a client sending it is refused
    thread = protocol.encode_comments('{"kind": "thread-deleted", "id": 1}')
    assert protocol.decode_comments(thread) == '{"kind": "thread-deleted", "id": 1}'
    with pytest.raises(protocol.ProtocolError):
        protocol.decode_comments(frame)


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (b"", "empty frame"),
        (b"\x02", "unknown message type 2"),
        (b"\x09", "unknown message type 9"),
        (b"\x00\x03\x00", "unknown sync message type 3"),
        (b"\x00\x02\x05ab", "truncated"),
        (b"\x00\x02\x01a\x00", "trailing"),
        (b"\x01\x10", "truncated"),
        (b"\x03\x00", "trailing"),
    ],
)
def test_malformed_frames_are_refused(frame, error):
    with pytest.raises(protocol.ProtocolError, match=error):
        protocol.decode_message(frame)


@given(st.binary(max_size=64))
def test_decoding_random_bytes_never_raises_anything_but_protocol_error(data):
    try:
        protocol.decode_message(data)
    except protocol.ProtocolError:
        pass


def test_awareness_payload_round_trip_with_non_ascii_state():
    entries = [
        protocol.AwarenessEntry(7, 3, '{"user":{"name":"Zoë 🚀"}}'),
        protocol.AwarenessEntry(2**32 - 1, 1, "null"),
    ]
    payload = protocol.encode_awareness_payload(entries)
    assert protocol.decode_awareness_payload(payload) == entries
    assert entries[1].gone and not entries[0].gone
    # The string length prefix counts UTF-8 bytes, as lib0 does.
    state = entries[0].state.encode()
    assert protocol.write_var_uint(len(state)) + state in payload


@pytest.mark.parametrize(
    "payload",
    [
        b"\x01\x07\x01\x03abc",  # state is not JSON
        b"\x01\x07\x01\x09{}",  # truncated state
        b"\x05\x07",  # count larger than the payload
        b"\x01\x07\x01\x02{}\x00",  # trailing bytes
        b"\x01\x07\x01\x02\xff\xfe",  # invalid UTF-8
        # valid JSON nested deeper than Python's parser recurses
        b"\x01\x07\x01" + protocol.write_var_bytes(b"[" * 50_000 + b"]" * 50_000),
    ],
)
def test_bad_awareness_payloads_are_refused(payload):
    with pytest.raises(protocol.ProtocolError):
        protocol.decode_awareness_payload(payload)


def test_every_message_type_in_the_code_is_documented():
    constants = {
        name: value
        for name, value in vars(protocol).items()
        if re.fullmatch(r"(MSG|SYNC)_[A-Z0-9_]+", name)
    }
    assert len(constants) >= 8
    for name, value in constants.items():
        assert f"{name} = {value}" in DOC, f"{name} = {value} is not in docs/protocol.md"


def test_every_close_code_in_the_code_is_documented():
    from realtime import peer

    codes = {
        value
        for name, value in vars(peer).items()
        if name.startswith("CLOSE_") and isinstance(value, int)
    }
    assert codes >= {1009, 1011, 4400, 4401, 4403, 4404}
    for code in codes:
        assert f"| {code} |" in DOC, f"close code {code} is not in docs/protocol.md"

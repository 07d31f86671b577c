"""The HTTP transport's wire format and its session buffer, without a server."""

import base64

import pytest

from realtime import protocol
from realtime.transports.http import wire
from realtime.transports.http.sessions import HttpSession


def test_a_body_is_a_run_of_length_prefixed_messages_and_round_trips():
    frames = [protocol.encode_sync_step1(b"\x00"), b"", protocol.encode_query_awareness() * 200]
    assert wire.split_body(wire.join_body(frames)) == frames
    assert wire.split_body(b"") == []


@pytest.mark.parametrize("body", [b"\x05\x00", b"\x80", b"\x02\x00\x00\x03"])
def test_a_truncated_body_is_refused_whole(body):
    with pytest.raises(wire.BadBody):
        wire.split_body(body)


def test_session_names_say_which_process_holds_them():
    token = wire.new_token("0123456789abcdef")
    assert wire.token_holder(token) == "0123456789abcdef"
    assert wire.new_token("0123456789abcdef") != token
    for bad in ("", "0123", token.upper(), token + "0", token[:-1] + "g", None):
        assert wire.token_holder(bad) is None


def test_last_event_ids_parse_only_when_well_formed():
    token = wire.new_token("0123456789abcdef")
    assert wire.parse_last_event_id(f"{token}:42") == (token, 42)
    for bad in (None, "", token, f"{token}:", f"{token}:-1", f"{token}:x", "abc:1"):
        assert wire.parse_last_event_id(bad) is None


def test_events_carry_one_message_each_in_base64():
    frame = protocol.encode_sync_update(b"\x00\x00\n")
    event = wire.message_event("t" * 48, 7, frame)
    assert event.startswith(b"id: " + b"t" * 48 + b":7\ndata: ")
    assert event.endswith(b"\n\n")
    assert base64.b64decode(event.split(b"data: ")[1].strip()) == frame
    assert wire.close_event(4403, 'no "access"\nhere').count(b"\n") == 3  # one data line


async def test_a_session_keeps_what_is_unacknowledged_and_rewinds_within_it(settings):
    session = HttpSession(token=wire.new_token("0" * 16), note_id=None, session_key="k")
    for i in range(5):
        await session.send_frame(bytes([i]))
    assert session.seq == 5
    first = session.unwritten()
    assert first.count(b"data: ") == 5 and session.unwritten() == b""
    # The client acknowledges two; a client cannot acknowledge past what was written.
    session.acknowledge(2)
    assert [seq for seq, _ in session.events] == [3, 4, 5]
    await session.send_frame(b"\x05")
    session.acknowledge(99)
    assert session.acked == 5 and [seq for seq, _ in session.events] == [6]
    # Resume from 5: the sixth again; from before the acknowledged point: impossible.
    assert session.can_resume(5) and not session.can_resume(4)
    session.rewind(5)
    assert session.unwritten().count(b"data: ") == 1
    assert not session.can_resume(7)  # never written
    assert session.owned_by("k") and not session.owned_by("other") and not session.owned_by(None)


async def test_a_closed_session_takes_no_more_frames():
    session = HttpSession(token=wire.new_token("0" * 16), note_id=None, session_key="k")
    await session.close_with(4403, "gone")
    await session.send_frame(b"\x00")
    assert session.seq == 0
    assert session.close == {"code": 4403, "reason": "gone"}

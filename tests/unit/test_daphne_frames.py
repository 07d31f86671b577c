"""The frames realtime/tuning/send_binary.py writes straight to a connection, read back by an
independent WebSocket implementation (the websockets package)."""

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from realtime.tuning.send_binary import _binary_frame


def _parse(frame: bytes) -> tuple[Frame, bytes]:
    """One frame as a client reads it, and whatever bytes follow it."""
    reader = StreamReader()
    reader.feed_data(frame)
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        return done.value, reader.buffer
    raise AssertionError("the frame is incomplete")


# Each side of the three length encodings (7 bits, 16 bits, 64 bits).
@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 300_000])
def test_a_binary_message_is_one_final_unmasked_frame_of_exactly_its_bytes(size):
    payload = bytes(i % 251 for i in range(size))
    frame, rest = _parse(_binary_frame(payload))
    assert frame.opcode is Opcode.BINARY
    assert frame.fin
    assert frame.data == payload
    assert rest == b""


def test_the_frame_reused_for_the_next_socket_is_never_another_messages():
    first, second = b"\x00\x02" + b"a" * 30, b"\x00\x02" + b"b" * 30  # same length
    assert _parse(_binary_frame(first))[0].data == first
    assert _binary_frame(first) is _binary_frame(first)  # built once for every socket
    assert _parse(_binary_frame(second))[0].data == second
    assert _parse(_binary_frame(bytes(first)))[0].data == first  # equal, not identical

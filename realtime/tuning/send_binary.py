"""
A speed-up: binary messages go to the connection without daphne's and autobahn's detour.

An ASGI send goes from the consumer through daphne's `handle_reply` and autobahn's
`sendMessage` (type assertions, traffic counters, a debug log call whose arguments are
formatted even when debug is off) before it reaches the transport: about 35 µs a message here,
and the hub sends each keystroke to every other socket of the note. Each WebSocket scope now
carries an extension, SEND_BINARY: a function that writes a binary message to that connection
at once and returns True, or returns False and writes nothing where daphne's own path is needed
(the socket is not open, autobahn has frames queued, compression was negotiated). Server frames
are not masked, so the frame of one message is the same bytes for every socket: the last one
built is reused when the same message goes to the next socket.

Without the patch (NOTES_SPEEDUPS off, another server, other versions) the scope has no such
extension, and a consumer sends through ASGI as usual.
"""

import functools
import struct

from realtime.tuning.patch import SPEED, Patch, verified_on

# The scope["extensions"] key of the direct binary send.
SEND_BINARY = "collab.send_binary"
# Frames up to this size are kept for the next socket that is sent the same message; larger
# ones cost a copy each, which is small beside their send.
FRAME_REUSE_MAX_BYTES = 64 * 1024


def _with_send_binary(stock):
    def create_application(self, protocol, scope):
        if scope.get("type") == "websocket":
            extensions = scope.setdefault("extensions", {})
            extensions[SEND_BINARY] = functools.partial(send_binary, protocol)
        return stock(self, protocol, scope)

    return create_application


def send_binary(protocol, payload: bytes) -> bool:
    """Write `payload` as one binary message on the connection at once; False (and nothing
    written) where daphne's own send path must take it."""
    if (
        protocol.state != protocol.STATE_OPEN
        or protocol.send_queue
        or protocol._perMessageCompress is not None
    ):
        return False
    protocol.transport.write(_binary_frame(payload))
    return True


# The last (message, frame) built, by identity of the message: the hub sends one bytes object
# to every socket of a note in turn.
_last_frame: tuple[bytes | None, bytes] = (None, b"")


def _binary_frame(payload: bytes) -> bytes:
    """RFC 6455 framing of one unfragmented, unmasked binary message (FIN, opcode 2)."""
    global _last_frame
    if payload is _last_frame[0]:
        return _last_frame[1]
    size = len(payload)
    if size <= 125:
        header = bytes((0x82, size))
    elif size <= 0xFFFF:
        header = struct.pack("!BBH", 0x82, 126, size)
    else:
        header = struct.pack("!BBQ", 0x82, 127, size)
    frame = header + payload
    if size <= FRAME_REUSE_MAX_BYTES:
        _last_frame = (payload, frame)
    return frame


PATCH = Patch(
    name="send_binary",
    kind=SPEED,
    purpose="WebSocket scopes carry SEND_BINARY, a direct write of one binary message",
    verified=verified_on("daphne", "autobahn"),
    target="daphne.server:Server.create_application",
    wrap=_with_send_binary,
)

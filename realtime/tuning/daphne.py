"""
Five corrections to how daphne (on Twisted and autobahn) handles WebSocket connections,
installed once when the ASGI application is built. Each keeps daphne's behaviour for
everything else.

Close codes 1009 and 1011. RFC 6455 (section 7.4.1) defines 1009 (message too big) and 1011
(unexpected condition) for an endpoint to send, and the app relies on both: 1009 refuses an
oversized message (the editor treats it as final), and 1011 makes a client reconnect and resync
after the server lost what it held in memory. daphne hands an ASGI close straight to autobahn's
`sendClose`, which accepts only 1000 and 3000-4999 from applications and raises otherwise, so
the socket stayed open and the client never learnt why. For those two codes the close frame is
sent the way autobahn sends its own.

Outgoing message size. daphne's `--websocket_max_message_size` (1 MiB by default) guards what
clients may send, but autobahn applies it to what the server sends as well: a joiner of a note
whose document encodes to more than 1 MiB (a note near NOTES_MAX_NOTE_BYTES, with its history)
got an exception instead of the note. What the app sends is bounded by its own limits, so the
cap is lifted for sends; incoming messages are still refused above it (and above
NOTES_MAX_MESSAGE_BYTES, notes/consumers.py).

Writes go out at once. Twisted's TCP transport never writes in `write()`: it queues the bytes,
asks the reactor to watch the socket for writability (an epoll_ctl call), sends on the reactor's
next turn, then stops watching (another epoll_ctl). That was every frame the hub fans out: a
keystroke in a note with 20 open sockets cost 40 epoll_ctl calls and a trip round the event
loop before anyone received it. Now a write goes straight to the socket when nothing is queued
before it, as asyncio's transports do. Whatever the kernel does not take (its buffer is full, or
the connection failed) is queued exactly as before, so order, flow control and error handling
stay Twisted's.

Binary messages without the detour. An ASGI send goes from the consumer through daphne's
`handle_reply` and autobahn's `sendMessage` (type assertions, traffic counters, a debug log call
whose arguments are formatted even when debug is off) before it reaches the transport: about
35 µs a message here, and the hub sends each keystroke to every other socket of the note. Each
WebSocket scope now carries an extension, SEND_BINARY: a function that writes a binary message
to that connection at once and returns True, or returns False and writes nothing where daphne's
own path is needed (the socket is not open, autobahn has frames queued, compression was
negotiated). Server frames are not masked, so the frame of one message is the same bytes for
every socket: the last one built is reused when the same message goes to the next socket.

The upgrade request is let go. A WebSocket starts as an HTTP request on Twisted's HTTPChannel;
daphne hands the connection to its WebSocket protocol but leaves the request in the channel's
queue, and the request points back at the channel. The channel stays the transport's producer
for the life of the socket, so the request, its headers and its body buffer (about 22 objects
the garbage collector tracks) lived as long as the socket, and after the close became a cycle
that only a full collection frees. When 2,000 sockets closed at once, that collection took
184 ms of the event loop. Twisted would drop the request on the channel's connectionLost,
which an upgraded channel never gets; it is dropped right after the upgrade instead, and freed
as soon as daphne's once-a-second sweep of finished connections forgets it.
"""

import functools
import struct

PROTOCOL_CLOSE_CODES = frozenset({1009, 1011})

# The scope["extensions"] key of the direct binary send (see the module docstring).
SEND_BINARY = "collab.send_binary"
# Frames up to this size are kept for the next socket that is sent the same message; larger
# ones cost a copy each, which is small beside their send.
FRAME_REUSE_MAX_BYTES = 64 * 1024


def install() -> None:
    """Apply the five patches; safe to call more than once."""
    from daphne.http_protocol import WebRequest
    from daphne.server import Server
    from daphne.ws_protocol import WebSocketProtocol
    from twisted.internet import tcp

    if getattr(WebSocketProtocol.serverClose, "patched_by_collab", False):
        return
    WebSocketProtocol.serverClose = _close_with_protocol_codes(WebSocketProtocol.serverClose)
    WebSocketProtocol.serverSend = _send_without_size_cap(WebSocketProtocol.serverSend)
    tcp.Connection.write = _write_through(tcp.Connection.write)
    Server.create_application = _with_send_binary(Server.create_application)
    WebRequest.process = _release_upgrade_request(WebRequest.process)


def _close_with_protocol_codes(original):
    def server_close(self, code=None):
        if code in PROTOCOL_CLOSE_CODES:
            self.sendCloseFrame(code=code, isReply=False)
        else:
            original(self, code)

    server_close.patched_by_collab = True
    return server_close


def _send_without_size_cap(original):
    def server_send(self, content, binary=False):
        # autobahn reads the cap on each message; incoming frames are parsed on this same
        # thread, never during a send, so lifting it here affects sends only.
        cap, self.maxMessagePayloadSize = self.maxMessagePayloadSize, 0
        try:
            original(self, content, binary)
        finally:
            self.maxMessagePayloadSize = cap

    return server_send


def _write_through(original):
    def write(self, data):
        if (
            isinstance(data, bytes)
            and data
            and not self.TLS  # TLS started on this connection: Twisted encrypts first
            and self.connected
            and not self.disconnecting
            and not self._writeDisconnected
            and not self._tempDataLen
            and self.offset == len(self.dataBuffer)
        ):
            # Nothing is waiting to go out, so this data is next in order. writeSomeData sends
            # what the kernel takes (at most SEND_LIMIT): a count, 0, or an error object.
            sent = self.writeSomeData(data)
            if isinstance(sent, int) and sent > 0:
                if sent == len(data):
                    return
                data = data[sent:]
        original(self, data)

    return write


def _release_upgrade_request(original):
    def process(self):
        channel = self.channel
        original(self)
        # Only an upgrade leaves the request without a transport: daphne gave it to the
        # WebSocket protocol, and the channel hears nothing more on this connection.
        if self.transport is None and channel is not None and self in channel.requests:
            channel.requests.remove(self)
            self.channel = None

    return process


def _with_send_binary(original):
    def create_application(self, protocol, scope):
        if scope.get("type") == "websocket":
            extensions = scope.setdefault("extensions", {})
            extensions[SEND_BINARY] = functools.partial(send_binary, protocol)
        return original(self, protocol, scope)

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

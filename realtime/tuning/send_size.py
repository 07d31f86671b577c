"""
A fix: what the server sends is not held to the limit on what clients may send.

daphne's `--websocket-max-message-size` (1 MiB by default) is documented as the largest
incoming message, but autobahn applies it to what the server sends as well: a joiner of a note
whose document encodes to more than 1 MiB (a note near NOTES_MAX_NOTE_BYTES, with its history)
got a closed socket (1011) instead of the note, and the log an "Exception inside application".
What the app sends is bounded by its own limits, so the cap is lifted for sends; incoming
messages are still refused above it (and above NOTES_MAX_MESSAGE_BYTES, in the consumer).
"""

from realtime.tuning.patch import FIX, Patch, verified_on


def _send_without_size_cap(stock):
    def server_send(self, content, binary=False):
        # autobahn reads the cap on each message; incoming frames are parsed on this same
        # thread, never during a send, so lifting it here affects sends only.
        cap, self.maxMessagePayloadSize = self.maxMessagePayloadSize, 0
        try:
            stock(self, content, binary)
        finally:
            self.maxMessagePayloadSize = cap

    return server_send


PATCH = Patch(
    name="send_size",
    kind=FIX,
    purpose="messages the server sends may exceed the incoming-message size limit",
    verified=verified_on("daphne", "autobahn"),
    target="daphne.ws_protocol:WebSocketProtocol.serverSend",
    wrap=_send_without_size_cap,
)

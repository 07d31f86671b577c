"""
Let the app close WebSockets with 1009 and 1011 under daphne.

RFC 6455 (section 7.4.1) defines 1009 (message too big) and 1011 (unexpected condition) for
an endpoint to send, and the app relies on both: 1009 refuses an oversized message (the
editor treats it as final), and 1011 makes a client reconnect and resync after the server lost
what it held in memory. daphne hands an ASGI close straight to autobahn's `sendClose`, which
accepts only 1000 and 3000-4999 from applications and raises otherwise, so the socket stayed
open and the client never learnt why. For those two codes this sends the close frame the way
autobahn sends its own; every other code goes through daphne unchanged.
"""

PROTOCOL_CLOSE_CODES = frozenset({1009, 1011})


def install() -> None:
    """Patch daphne's WebSocket protocol once; called when the ASGI application is built."""
    from daphne.ws_protocol import WebSocketProtocol

    original = WebSocketProtocol.serverClose
    if getattr(original, "sends_protocol_codes", False):
        return

    def server_close(self, code=None):
        if code in PROTOCOL_CLOSE_CODES:
            self.sendCloseFrame(code=code, isReply=False)
        else:
            original(self, code)

    server_close.sends_protocol_codes = True
    WebSocketProtocol.serverClose = server_close

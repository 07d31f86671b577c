"""
A fix: an application can close a WebSocket with 1009 or 1011.

RFC 6455 (section 7.4.1) defines 1009 (message too big) and 1011 (unexpected condition) for an
endpoint to send, and the app relies on both: 1009 refuses an oversized message (the editor
treats it as final), and 1011 makes a client reconnect and resync after the server lost what it
held in memory. daphne hands an ASGI close straight to autobahn's `sendClose`, which accepts
only 1000 and 3000-4999 from applications and raises otherwise. The application's send raised,
daphne logged "Exception inside application" and, at its next once-a-second sweep, closed the
socket with 1011: a refusal with 1009 reached the client as 1011, so the editor reconnected
instead of saying why. For those two codes the close frame is sent the way autobahn sends its
own (and daphne its 1011 when an application fails).
"""

from realtime.tuning.patch import FIX, Patch, verified_on

PROTOCOL_CLOSE_CODES = frozenset({1009, 1011})


def _close_with_protocol_codes(stock):
    def server_close(self, code=None):
        if code in PROTOCOL_CLOSE_CODES:
            self.sendCloseFrame(code=code, isReply=False)
        else:
            stock(self, code)

    return server_close


PATCH = Patch(
    name="close_codes",
    kind=FIX,
    purpose="an application's close with 1009 or 1011 sends that code instead of failing",
    verified=verified_on("daphne", "autobahn"),
    target="daphne.ws_protocol:WebSocketProtocol.serverClose",
    wrap=_close_with_protocol_codes,
)

"""
A fix: the HTTP request a WebSocket arrived as is let go after the upgrade.

A WebSocket starts as an HTTP request on Twisted's HTTPChannel; daphne hands the connection to
its WebSocket protocol but leaves the request in the channel's queue, and the request points
back at the channel. The channel stays the transport's producer for the life of the socket, so
the request, its headers and its body buffer (about 22 objects the garbage collector tracks)
lived as long as the socket, and after the close became a cycle that only a full collection
frees. When 2,000 sockets closed at once, that collection took 184 ms of the event loop.
Twisted would drop the request on the channel's connectionLost, which an upgraded channel never
gets; it is dropped right after the upgrade instead, and freed as soon as daphne's
once-a-second sweep of finished connections forgets it.
"""

from realtime.tuning.patch import FIX, Patch, verified_on


def _release_upgrade_request(stock):
    def process(self):
        channel = self.channel
        stock(self)
        # Only an upgrade leaves the request without a transport: daphne gave it to the
        # WebSocket protocol, and the channel hears nothing more on this connection.
        if self.transport is None and channel is not None and self in channel.requests:
            channel.requests.remove(self)
            self.channel = None

    return process


PATCH = Patch(
    name="upgrade_request",
    kind=FIX,
    purpose="a WebSocket's upgrade request is freed when daphne forgets the connection",
    verified=verified_on("daphne", "Twisted"),
    target="daphne.http_protocol:WebRequest.process",
    wrap=_release_upgrade_request,
)

"""
A speed-up: a write goes out at once when nothing is queued before it.

Twisted's TCP transport never writes in `write()`: it queues the bytes, asks the reactor to
watch the socket for writability (an epoll_ctl call), sends on the reactor's next turn, then
stops watching (another epoll_ctl). That was every frame the hub fans out: a keystroke in a
note with 20 open sockets cost 40 epoll_ctl calls and a trip round the event loop before anyone
received it. Now a write goes straight to the socket when nothing is queued before it, as
asyncio's transports do. Whatever the kernel does not take (its buffer is full, or the
connection failed) is queued exactly as before, so order, flow control and error handling stay
Twisted's.
"""

from realtime.tuning.patch import SPEED, Patch, verified_on


def _write_through(stock):
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
        stock(self, data)

    return write


PATCH = Patch(
    name="write_through",
    kind=SPEED,
    purpose="a TCP write goes to the socket at once instead of on the reactor's next turn",
    verified=verified_on("Twisted"),
    target="twisted.internet.tcp:Connection.write",
    wrap=_write_through,
)


def _write_sequence_through(stock):
    # Twisted's HTTP (chunked bodies, headers: the HTTP transport's streams and POST answers)
    # writes through writeSequence, which the patch above does not see.
    def writeSequence(self, iovec):
        if not self.TLS:
            return self.write(b"".join(iovec))
        stock(self, iovec)

    return writeSequence


SEQUENCE_PATCH = Patch(
    name="write_sequence_through",
    kind=SPEED,
    purpose="a TCP writeSequence goes to the socket at once, as write does",
    verified=verified_on("Twisted"),
    target="twisted.internet.tcp:Connection.writeSequence",
    wrap=_write_sequence_through,
)

"""Twisted's TCP transport with the write-through patch (realtime/tuning/write_through.py), over
a real socket pair; the reactor is a stand-in that records what it was asked to watch, so the
test turns it by hand."""

import socket

import pytest
from twisted.internet import tcp

from realtime.tuning import install, speedups_enabled
from realtime.tuning.write_through import PATCH, SEQUENCE_PATCH

pytestmark = pytest.mark.skipif(
    not speedups_enabled(), reason="NOTES_SPEEDUPS is off: speed patches are left out by design"
)


class Reactor:
    """Records the connections it is asked to watch for writability."""

    def __init__(self):
        self.writers = set()

    def addWriter(self, writer):  # Twisted's names
        self.writers.add(writer)

    def removeWriter(self, writer):
        self.writers.discard(writer)


@pytest.fixture
def connection():
    """A connected Twisted TCP transport on one end of a socket pair; `peer` is the other."""
    install()
    ours, peer = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    transport = tcp.Connection(ours, protocol=None, reactor=Reactor())
    transport.connected = True
    transport.peer = peer
    yield transport
    ours.close()
    peer.close()


def read_all(transport, size: int) -> bytes:
    """Turn the reactor by hand: write what is queued, read what arrived, until `size`."""
    received = b""
    transport.peer.settimeout(5)
    while len(received) < size:
        if transport in transport.reactor.writers:
            transport.doWrite()
        received += transport.peer.recv(65536)
    return received


def test_a_write_with_nothing_queued_reaches_the_socket_before_the_reactor_turns(connection):
    assert PATCH.in_effect(), f"verified on {dict(PATCH.verified)}, installed {PATCH.installed()}"
    connection.write(b"\x82\x03abc")
    connection.peer.settimeout(0)
    assert connection.peer.recv(100) == b"\x82\x03abc"
    assert connection.reactor.writers == set()  # never asked to watch the socket


def test_what_the_kernel_does_not_take_is_queued_and_later_writes_wait_behind_it(connection):
    big = bytes(i % 251 for i in range(1_000_000))
    connection.write(big)
    # The kernel took what fits; the rest waits for the reactor, as in stock Twisted...
    assert connection.reactor.writers == {connection}
    # ...and so does a later write, however small: it must not overtake.
    connection.write(b"tail")
    assert read_all(connection, len(big) + 4) == big + b"tail"
    assert connection.reactor.writers == set()


def test_a_write_sequence_goes_through_too_and_keeps_its_order(connection):
    """Twisted's HTTP writes headers and chunked bodies (the HTTP transport's events) with
    writeSequence: it takes the same path."""
    assert SEQUENCE_PATCH.in_effect(), f"installed {SEQUENCE_PATCH.installed()}"
    connection.writeSequence([b"5\r\n", b"hello", b"\r\n"])
    connection.peer.settimeout(0)
    assert connection.peer.recv(100) == b"5\r\nhello\r\n"
    assert connection.reactor.writers == set()
    big = bytes(i % 251 for i in range(1_000_000))
    connection.writeSequence([big[:500_000], big[500_000:]])
    connection.writeSequence([b"tail"])
    assert read_all(connection, len(big) + 4) == big + b"tail"

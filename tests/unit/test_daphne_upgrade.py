"""What daphne's HTTP side keeps of a connection once it is a WebSocket
(collab/daphne_patches.py), driven through daphne's own HTTP and WebSocket protocols over
Twisted's in-memory transport."""

import asyncio
import gc
import weakref
from types import SimpleNamespace

import pytest
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport

from realtime.tuning import daphne as daphne_patches

UPGRADE = (
    b"GET /ws/notes/ HTTP/1.1\r\n"
    b"Host: 127.0.0.1:8000\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"\r\n"
)
PLAIN = b"GET /notes/ HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n"


@pytest.fixture
def daphne_connection():
    """One connection into daphne, fed by the test. The application records each scope it is
    started with and never answers; `requests` holds weak references to the HTTP requests
    daphne made."""
    daphne_patches.install()
    scopes = []

    async def application(scope, receive, send):
        scopes.append(scope)
        await asyncio.Event().wait()

    # Never listened on: run() is not called, and the test feeds the bytes itself.
    server = Server(application, endpoints=["tcp:port=0"], signal_handlers=False)
    server.connections = {}
    server.http_factory = HTTPFactory(server)
    server.ws_factory = WebSocketFactory(server, server="test")
    # Twisted's wrapper that picks HTTP/1.1 or HTTP/2, and the HTTP/1.1 channel inside it.
    wrapper = server.http_factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
    requests = []

    def request_factory(*args, **kwargs):
        request = WebRequest(*args, **kwargs)
        requests.append(weakref.ref(request))
        return request

    wrapper.requestFactory = request_factory
    transport = StringTransport(
        hostAddress=IPv4Address("TCP", "127.0.0.1", 8000),
        peerAddress=IPv4Address("TCP", "127.0.0.1", 40000),
    )
    wrapper.makeConnection(transport)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # where daphne starts application instances
    gc.disable()  # whatever is freed during the test is freed by reference counting alone
    try:
        yield SimpleNamespace(
            wrapper=wrapper,
            channel=wrapper._channel,
            transport=transport,
            scopes=scopes,
            requests=requests,
            loop=loop,
        )
    finally:
        gc.enable()
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()
        asyncio.set_event_loop(None)


def receive(connection, data: bytes) -> None:
    connection.wrapper.dataReceived(data)
    connection.loop.run_until_complete(asyncio.sleep(0))  # let the application start


def reap(connection) -> None:
    """One pass of daphne's once-a-second sweep of finished connections, without the next."""
    server = connection.wrapper.factory.server
    server.application_checker()
    for call in reactor.getDelayedCalls():
        if call.func == server.application_checker:
            call.cancel()


def test_the_upgrade_request_is_freed_once_the_websocket_has_the_connection(daphne_connection):
    receive(daphne_connection, UPGRADE)
    # The connection belongs to the WebSocket protocol now, and the application has started...
    assert isinstance(daphne_connection.transport.protocol, WebSocketProtocol)
    assert [(s["type"], s["path"]) for s in daphne_connection.scopes] == [
        ("websocket", "/ws/notes/")
    ]
    # ...and the HTTP request it arrived as is no longer the channel's. Once daphne's sweep has
    # forgotten it, nothing points at it: it was freed then, not left for a full collection.
    assert len(daphne_connection.requests) == 1
    assert daphne_connection.channel.requests == []
    reap(daphne_connection)
    assert daphne_connection.requests[0]() is None


def test_a_plain_request_stays_with_its_channel_until_answered(daphne_connection):
    receive(daphne_connection, PLAIN)
    assert [(s["type"], s["path"]) for s in daphne_connection.scopes] == [("http", "/notes/")]
    assert len(daphne_connection.requests) == 1
    assert daphne_connection.channel.requests == [daphne_connection.requests[0]()]

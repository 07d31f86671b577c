"""One connection through daphne's own HTTP and WebSocket protocols, over Twisted's in-memory
transport, with the server tuning installed (realtime/tuning): what daphne's HTTP side keeps of
it once it is a WebSocket, and what reaches the client when the application closes or sends.

Each patch's test first checks that the patch is in effect: on the versions it was verified on,
a patch left out is a failure, not a skip (speed patches skip only when NOTES_SPEEDUPS is off).
"""

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

from realtime.tuning import SEND_BINARY, install, speedups_enabled
from realtime.tuning.close_codes import PATCH as CLOSE_CODES
from realtime.tuning.send_binary import PATCH as SEND_BINARY_PATCH
from realtime.tuning.send_binary import _binary_frame
from realtime.tuning.send_size import PATCH as SEND_SIZE
from realtime.tuning.upgrade_request import PATCH as UPGRADE_REQUEST

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
    install()
    scopes = []

    async def application(scope, receive, send):
        scopes.append(scope)
        await asyncio.Event().wait()

    # Never listened on: run() is not called, and the test feeds the bytes itself.
    server = Server(application, endpoints=["tcp:port=0"], signal_handlers=False)
    server.connections = {}
    server.http_factory = HTTPFactory(server)
    server.ws_factory = WebSocketFactory(server, server="test")
    # The one option of daphne's that these tests depend on (daphne's run() sets it so).
    server.ws_factory.setProtocolOptions(maxMessagePayloadSize=server.websocket_max_message_size)
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


def open_websocket(connection):
    """Upgrade the connection and accept the WebSocket; returns daphne's WebSocket protocol."""
    receive(connection, UPGRADE)
    return accept(connection)


def accept(connection):
    """Accept the upgraded connection, as the application would; the transport is then empty."""
    protocol = connection.transport.protocol
    protocol.handle_reply({"type": "websocket.accept"})
    assert protocol.state == protocol.STATE_OPEN
    connection.transport.clear()  # the 101 response
    return protocol


def assert_in_effect(patch) -> None:
    assert patch.in_effect(), (
        f"{patch.name} is not in effect: verified on {dict(patch.verified)}, "
        f"installed {patch.installed()}"
    )


speedups_only = pytest.mark.skipif(
    not speedups_enabled(), reason="NOTES_SPEEDUPS is off: speed patches are left out by design"
)


def test_the_upgrade_request_is_freed_once_the_websocket_has_the_connection(daphne_connection):
    assert_in_effect(UPGRADE_REQUEST)
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


@pytest.mark.parametrize("code", [1009, 1011])
def test_an_application_close_with_a_protocol_code_sends_that_code(daphne_connection, code):
    """autobahn refuses 1009 and 1011 from applications (stock daphne: an exception in the
    application, then 1011 a second later)."""
    assert_in_effect(CLOSE_CODES)
    protocol = open_websocket(daphne_connection)
    protocol.handle_reply({"type": "websocket.close", "code": code})
    assert daphne_connection.transport.value() == b"\x88\x02" + code.to_bytes(2, "big")
    assert protocol.state == protocol.STATE_CLOSING


def test_other_close_codes_still_take_daphnes_path(daphne_connection):
    protocol = open_websocket(daphne_connection)
    protocol.handle_reply({"type": "websocket.close", "code": 4403})
    assert daphne_connection.transport.value() == b"\x88\x02" + (4403).to_bytes(2, "big")
    with pytest.raises(Exception, match="invalid close code 1001"):
        protocol.serverClose(code=1001)  # still autobahn's check for anything else


def test_a_message_over_the_incoming_limit_is_sent_whole_and_the_limit_stays(daphne_connection):
    assert_in_effect(SEND_SIZE)
    protocol = open_websocket(daphne_connection)
    limit = protocol.maxMessagePayloadSize
    assert limit == 1024 * 1024  # daphne's default, for incoming messages
    payload = bytes(limit + 1)
    protocol.handle_reply({"type": "websocket.send", "bytes": payload})
    assert daphne_connection.transport.value() == _binary_frame(payload)
    assert protocol.maxMessagePayloadSize == limit


@speedups_only
def test_a_websocket_scope_carries_a_direct_binary_send(daphne_connection):
    assert_in_effect(SEND_BINARY_PATCH)
    receive(daphne_connection, UPGRADE)
    send_binary = daphne_connection.scopes[0]["extensions"][SEND_BINARY]
    assert send_binary(b"\x00\x02early") is False  # not accepted yet: daphne's path
    assert daphne_connection.transport.value() == b""
    protocol = accept(daphne_connection)
    payload = b"\x00\x02" + b"keystroke" * 10
    assert send_binary(payload) is True
    assert daphne_connection.transport.value() == _binary_frame(payload)
    protocol.handle_reply({"type": "websocket.close", "code": 1000})
    daphne_connection.transport.clear()
    assert send_binary(payload) is False  # closing: nothing more written
    assert daphne_connection.transport.value() == b""

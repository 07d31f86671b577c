"""Clients on real sockets against a live daphne: a protocol-aware one, and a raw one that can
misbehave in ways a library would not let it (stay silent, ignore pings)."""

import base64
import contextlib
import os
import socket
import struct

import websockets

from realtime import protocol


def _headers(server, cookie):
    headers = {"Origin": server.http_url}
    if cookie:
        headers["Cookie"] = f"sessionid={cookie}"
    return headers


@contextlib.asynccontextmanager
async def connect(server, note_id, cookie):
    url = f"{server.ws_url}/ws/notes/{note_id}/"
    async with websockets.connect(url, additional_headers=_headers(server, cookie)) as ws:
        yield ws


def awareness_clients(frame: bytes, present: dict) -> None:
    """Apply an awareness frame to `present` (client id -> state JSON)."""
    if not frame or frame[0] != protocol.MSG_AWARENESS:
        return
    message = protocol.decode_message(frame)
    for entry in protocol.decode_awareness_payload(message.payload):
        if entry.gone:
            present.pop(entry.client_id, None)
        else:
            present[entry.client_id] = entry.state


class SilentSocket:
    """Completes the handshake, sends frames, then never reads or answers a ping again."""

    def __init__(self, server, note_id, cookie, *, receive_buffer: int | None = None):
        self.sock = socket.socket()
        if receive_buffer is not None:
            # Before connecting, so that the TCP window the server sees stays this small.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(5)
        self.sock.connect(("127.0.0.1", server.port))
        self.pending = b""
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET /ws/notes/{note_id}/ HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in _headers(server, cookie).items())
            + "\r\n"
        )
        self.sock.sendall(request.encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            response += chunk
        if not response.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(response[:200])
        self.pending = response.split(b"\r\n\r\n", 1)[1]

    def read_frames(self, *, idle: float = 2.0) -> list[bytes]:
        """Read until the server has sent nothing for `idle` seconds; return the payloads of
        the whole frames received, in order. A frame the server garbled (bad opcode, bits that
        are not the start of a frame) raises."""
        self.sock.settimeout(idle)
        with contextlib.suppress(TimeoutError):
            while chunk := self.sock.recv(1 << 16):
                self.pending += chunk
        frames = []
        while (frame := self._next_frame()) is not None:
            opcode, payload = frame
            if opcode == 0x2:
                frames.append(payload)
        return frames

    def _next_frame(self) -> tuple[int, bytes] | None:
        data = self.pending
        if len(data) < 2:
            return None
        first, second = data[0], data[1]
        if first & 0x70 or second & 0x80:
            raise ValueError(f"not a server frame header: {data[:2].hex()}")
        length, pos = second & 0x7F, 2
        if length == 126:
            (length,), pos = struct.unpack(">H", data[2:4]), 4
        elif length == 127:
            (length,), pos = struct.unpack(">Q", data[2:10]), 10
        if len(data) < pos + length:
            return None
        opcode = first & 0x0F
        if opcode not in (0x2, 0x9):  # binary data, or a ping from daphne
            raise ValueError(f"unexpected opcode {opcode}")
        self.pending = data[pos + length :]
        return opcode, data[pos : pos + length]

    def send_binary(self, payload: bytes) -> None:
        mask = os.urandom(4)
        header = bytes([0x82])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        elif len(payload) < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(payload))
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", len(payload))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def close(self) -> None:
        self.sock.close()

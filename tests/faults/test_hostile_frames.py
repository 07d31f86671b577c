"""
Hostile input, fuzzed: hypothesis sends random, truncated, mutated, oversized and
structurally-valid-but-malicious frames to a real daphne process whose address space is
capped, each on a socket of its own, while a bystander stays connected to the same note.

Every frame's outcome is predicted by an oracle, a pycrdt document kept in step with the note:
a frame the protocol refuses closes its socket with 4400 (1009 when oversized), and one it
accepts is applied exactly as the oracle applies it. Afterwards the server process is alive,
the bystander was never disturbed and holds the note, and the stored note equals the oracle
and still encodes (a document Yrs can no longer encode would break every later join).
"""

import contextlib
import itertools
import random
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycrdt import Doc, Text
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from notes import documents
from notes.services import storage
from realtime import protocol, yupdate
from tests import live
from tests.factories import make_note

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

EXAMPLES = 1000
MEMORY_LIMIT = 1536 * 2**20  # address space of the server process, bytes (idle: ~100 MiB)
MAX_MESSAGE_BYTES = 64 * 1024  # the server's NOTES_MAX_MESSAGE_BYTES in this test
REPLY_TIMEOUT = 10.0  # a frame that makes the server hang for this long fails the test


def _var_uint(value: int) -> bytes:
    """lib0's varUint without the 2**53 cap, so frames can carry values no client may send."""
    out = bytearray()
    while value > 0x7F:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


def _var_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return _var_uint(len(raw)) + raw


# --- frames ------------------------------------------------------------------------------

NUMBERS = st.sampled_from([0, 1, 2, 3, 7, 127, 128, 2**31, 2**32 - 1, 2**32, 2**53 - 1, 2**64])
# Every frame's structs get client ids of their own. Reusing another update's (client, clock)
# with other content is forging ids, which the Yjs model leaves to trust (docs/protocol.md).
_client_ids = itertools.count(1000)
CLIENTS = st.sampled_from([0, 2**31, 2**53 - 2**40]).map(lambda base: base + next(_client_ids))
ROOTS = st.sampled_from(["content", "meta", "", "other"])


@st.composite
def real_updates(draw) -> bytes:
    """What a real client sends: edits on a document of its own."""
    doc = documents.doc_new(client_id=2**20 + next(_client_ids))
    text = doc.get(documents.CONTENT, type=Text)
    for piece in draw(st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=4)):
        text += piece
    if draw(st.booleans()) and len(str(text)) > 1:
        del text[0:1]
    return doc.get_update()


@st.composite
def crafted_updates(draw) -> bytes:
    """Updates built struct by struct, with the numbers and kinds no client would choose."""
    info = draw(st.one_of(st.integers(0, 255), st.sampled_from([0, 1, 4, 7, 8, 10, 0x84, 0xC4])))
    body = bytes([info])
    if info & 0x80:
        body += _var_uint(draw(NUMBERS)) + _var_uint(draw(NUMBERS))
    if info & 0x40:
        body += _var_uint(draw(NUMBERS)) + _var_uint(draw(NUMBERS))
    if not info & 0xC0:
        if draw(st.booleans()):
            body += b"\x01" + _var_string(draw(ROOTS))
        else:
            body += b"\x00" + _var_uint(draw(NUMBERS)) + _var_uint(draw(NUMBERS))
        if info & 0x20:
            body += _var_string("title")
    kind = info & 0x1F
    length = draw(NUMBERS)
    if kind == 4:
        body += _var_string(draw(st.text(max_size=4)))
    elif kind == 7:
        body += _var_uint(draw(st.sampled_from([0, 2, 3, 6, 7, 99]))) + _var_string("x")
    elif kind == 8:
        depth = draw(st.integers(0, 200))
        body += b"\x01" + b"\x75\x01" * depth + b"\x77" + _var_string("v")
    else:
        body += _var_uint(length) + draw(st.binary(max_size=6))
    runs = _var_uint(1) + _var_uint(1) + _var_uint(draw(CLIENTS)) + _var_uint(draw(NUMBERS))
    deletes = draw(st.sampled_from([b"\x00", _var_uint(1) + _var_uint(1) + b"\x01"])) + b"".join(
        _var_uint(draw(NUMBERS)) for _ in range(2)
    )
    return runs + body + deletes


@st.composite
def mutated(draw, updates) -> bytes:
    """A real or crafted update, truncated, with bytes flipped, or with garbage after it."""
    data = bytearray(draw(updates))
    for _ in range(draw(st.integers(0, 3))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()) and data:
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data) + draw(st.binary(max_size=3))


UPDATES = st.one_of(
    real_updates(), crafted_updates(), mutated(real_updates()), st.binary(min_size=1, max_size=40)
)


DEEP_JSON = "[" * 20000 + "]" * 20000  # valid JSON, deeper than Python's recursion limit


@st.composite
def awareness_payloads(draw) -> bytes:
    entries = draw(st.integers(0, 3))
    payload = _var_uint(entries if draw(st.booleans()) else draw(NUMBERS))
    for _ in range(entries):
        state = draw(st.sampled_from(['{"user":{"name":"x"}}', "null", "{", "\udcff", DEEP_JSON]))
        payload += _var_uint(draw(NUMBERS)) + _var_uint(draw(NUMBERS))
        payload += _var_uint(len(state.encode("utf-8", "surrogatepass"))) + state.encode(
            "utf-8", "surrogatepass"
        )
    return payload


def _sync(sub: int, payload: bytes) -> bytes:
    return _var_uint(protocol.MSG_SYNC) + _var_uint(sub) + _var_uint(len(payload)) + payload


FRAMES = st.one_of(
    UPDATES.map(lambda u: _sync(protocol.SYNC_UPDATE, u)),
    UPDATES.map(lambda u: _sync(protocol.SYNC_STEP2, u)),
    st.binary(max_size=24).map(lambda sv: _sync(protocol.SYNC_STEP1, sv)),
    awareness_payloads().map(lambda a: _var_uint(protocol.MSG_AWARENESS) + _var_uint(len(a)) + a),
    mutated(st.just(protocol.encode_sync_update(b"\x00\x00"))),
    st.binary(max_size=32),
    st.sampled_from([b"\x02\x00", b"\x03", b"\x04", b"\x00\x03\x00", b"\x00\x02\xff\xff\xff\x0f"]),
)


# --- the oracle --------------------------------------------------------------------------


def _refused(exc: BaseException) -> bool:
    return isinstance(exc, protocol.ProtocolError) or documents.update_apply_failed(exc)


def expected_outcome(frame: bytes, oracle: Doc) -> str:
    """What the server must do with `frame`: "1009", "4400" or "accepted". Applies an accepted
    update to the oracle, as the server applies it to the note."""
    if len(frame) > MAX_MESSAGE_BYTES:
        return "1009"
    try:
        message = protocol.decode_message(frame)
        match message:
            case protocol.SyncStep1(state_vector):
                oracle.get_update(state_vector)
            case protocol.SyncStep2(update) | protocol.SyncUpdate(update):
                if update != documents.EMPTY_UPDATE:
                    shape = yupdate.check_update(update)
                    # A duplicate is skipped, as the server skips it (applying one would only
                    # make Yrs retry structs still waiting for a dependency, a no-op in CRDT
                    # terms that can integrate them earlier than the server does).
                    if not shape.is_known_to(yupdate.decode_state_vector(oracle.get_state())):
                        oracle.apply_update(update)
            case protocol.Awareness(payload):
                protocol.decode_awareness_payload(payload)
    except BaseException as exc:
        if not _refused(exc):
            raise
        return "4400"
    return "accepted"


# --- sockets -----------------------------------------------------------------------------


def _connect(server, note, cookie):
    return connect(
        f"{server.ws_url}/ws/notes/{note.pk}/",
        origin=server.http_url,
        additional_headers={"Cookie": f"sessionid={cookie}"},
        open_timeout=REPLY_TIMEOUT,
        max_size=None,
        compression=None,
        proxy=None,
    )


FENCE = protocol.encode_sync_step1(b"\x00")  # answered by step 2: "everything before is done"


def send_hostile(server, note, cookie, frame: bytes) -> str:
    """Send `frame` on a socket of its own; return "accepted" or the close code."""
    expected_step2 = 1
    with contextlib.suppress(protocol.ProtocolError):
        if isinstance(protocol.decode_message(frame), protocol.SyncStep1):
            expected_step2 += 1
    with _connect(server, note, cookie) as ws:
        try:
            ws.send(frame)
            ws.send(FENCE)
            while expected_step2:
                reply = ws.recv(timeout=REPLY_TIMEOUT)
                if isinstance(reply, bytes) and reply[:2] == b"\x00\x01":
                    expected_step2 -= 1
        except ConnectionClosed as closed:
            return str(closed.rcvd.code) if closed.rcvd else "no close frame"
        return "accepted"


class Bystander:
    """A well-behaved client on the same note, reading everything on a thread of its own."""

    def __init__(self, server, note, cookie):
        self.stack = contextlib.ExitStack()
        self.ws = self.stack.enter_context(_connect(server, note, cookie))
        self.doc = documents.doc_new()
        self.lock = threading.Lock()
        self.closed: str | None = None
        self.closing = False
        self.frames = 0
        self.ws.send(protocol.encode_sync_step1(self.doc.get_state()))
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for frame in self.ws:
                with self.lock:
                    self.frames += 1
                    match protocol.decode_message(frame):
                        case protocol.SyncStep1(state_vector):
                            self.ws.send(
                                protocol.encode_sync_step2(self.doc.get_update(state_vector))
                            )
                        case protocol.SyncStep2(update) | protocol.SyncUpdate(update):
                            self.doc.apply_update(update)
        except ConnectionClosed as closed:
            self.closed = str(closed.rcvd.code) if closed.rcvd else "no close frame"
        except Exception as exc:  # a frame the bystander could not handle
            self.closed = f"error: {exc!r}"
        if not self.closing and self.closed is None:
            self.closed = "ended"

    def text(self) -> str:
        with self.lock:
            return documents.doc_text(self.doc)

    def close(self) -> None:
        self.closing = True
        self.stack.close()
        self.thread.join(timeout=5)


def _peak_memory(server) -> dict[str, int]:
    """The server's peak address space (VmPeak, what the cap limits) and resident set, MiB."""
    peaks = {}
    with open(f"/proc/{server.process.pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmPeak", "VmHWM"):
                peaks[key] = int(value.split()[0]) // 1024
    return peaks


def _wait_for(predicate, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_hostile_frames_close_only_their_socket_and_never_change_or_break_a_note(
    owner, cookie, figures
):
    note = make_note(owner=owner, title="Fuzz", text="hello\n")
    oracle = documents.doc_from_updates(storage.note_state_load(note_id=note.pk).updates)
    outcomes: dict[str, int] = {}
    mismatches: list[str] = []
    env = {
        "NOTES_MAX_MESSAGE_BYTES": str(MAX_MESSAGE_BYTES),
        "NOTES_MAX_SOCKETS_PER_USER": "10000",
        "MALLOC_ARENA_MAX": "2",
    }
    started = time.monotonic()
    with live.daphne(memory_limit=MEMORY_LIMIT, **env) as server:
        bystander = Bystander(server, note, cookie)
        assert _wait_for(lambda: bystander.text() == "hello\n"), bystander.closed

        def run(frame: bytes) -> None:
            expected = expected_outcome(frame, oracle)
            try:
                got = send_hostile(server, note, cookie, frame)
            except OSError as exc:
                got = f"no socket: {exc!r}"
            if server.process.poll() is not None:
                raise AssertionError(
                    f"the server died (exit {server.process.returncode}) on frame "
                    f"{frame[:200].hex()} ({len(frame)} bytes)\n{server.log()[-3000:]}"
                )
            outcomes[got] = outcomes.get(got, 0) + 1
            if got != expected:
                mismatches.append(f"{frame[:64].hex()}: expected {expected}, got {got}")
            assert got == expected, (
                f"frame {frame[:64].hex()} ({len(frame)} bytes): expected {expected}, got {got}"
                f"\n{server.log()[-3000:]}"
            )
            assert server.process.poll() is None, f"the server died:\n{server.log()[-3000:]}"

        # One frame over the message limit, and the frames Yrs is known to mishandle.
        run(_sync(protocol.SYNC_UPDATE, random.Random(1).randbytes(MAX_MESSAGE_BYTES)))
        run(_sync(protocol.SYNC_UPDATE, bytes.fromhex("010101010000018080808010010101010101")))
        run(_sync(protocol.SYNC_UPDATE, _deeply_nested_update(5000)))

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(frame=FRAMES)
        def fuzz(frame: bytes) -> None:
            run(frame)

        fuzz()
        # The note's document must still encode: a poisoned one panics here.
        oracle_text = documents.doc_text(oracle)
        oracle.get_update()
        converged = _wait_for(lambda: bystander.text() == oracle_text)
        stored = storage.note_state_load(note_id=note.pk)
        stored_doc = documents.doc_from_updates(stored.updates)
        stored_doc.get_update()
        # A well-behaved client still edits, and the bystander still follows.
        probe = send_hostile(
            server, note, cookie, protocol.encode_sync_update(_append(oracle, "<probe>"))
        )
        followed = _wait_for(lambda: bystander.text().endswith("<probe>"))
        peak = _peak_memory(server)
        alive = server.process.poll() is None
        bystander_closed = bystander.closed
        bystander.close()
    line = figures(
        "hostile frames",
        frames=sum(outcomes.values()),
        outcomes=dict(sorted(outcomes.items())),
        changed_note=oracle_text != "hello\n",
        mismatches=len(mismatches),
        server_alive=alive,
        peak_address_space_mib=peak["VmPeak"],
        peak_rss_mib=peak["VmHWM"],
        cap_mib=MEMORY_LIMIT // 2**20,
        took=time.monotonic() - started,
    )
    assert alive, line
    assert bystander_closed is None, f"{line}: the bystander was closed: {bystander_closed}"
    assert converged, f"{line}: bystander {bystander.text()!r} != oracle {oracle_text!r}"
    assert documents.doc_text(stored_doc) == oracle_text, line
    assert probe == "accepted" and followed, line
    # Most frames must really be refused, or the fuzz proved little.
    assert outcomes.get("4400", 0) > EXAMPLES // 4, line
    assert outcomes.get("1009", 0) >= 1, line


def _deeply_nested_update(depth: int) -> bytes:
    """One ContentAny item holding arrays nested `depth` deep (Yrs reads them recursively)."""
    item = b"\x08\x01" + _var_string("content") + b"\x01" + b"\x75\x01" * depth + b"\x7e"
    return b"\x01\x01" + _var_uint(7) + b"\x00" + item + b"\x00"


def _append(doc: Doc, chunk: str) -> bytes:
    """An update appending `chunk` to the oracle's text, made on a copy, as a client would."""
    client = documents.doc_from_updates([doc.get_update()])
    return documents.edit_update(client, lambda d: documents.text_append(d, chunk))

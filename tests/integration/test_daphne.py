"""A real daphne process serves the site, static files included, with debug off."""

import time
import urllib.request

import pytest
from django.test import Client
from pycrdt import Text
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from notes import documents
from notes.services import storage
from realtime import protocol
from realtime.tuning import speedups_enabled
from tests import live
from tests.factories import make_note, make_user
from tests.wsclient import SilentSocket

pytestmark = pytest.mark.django_db(transaction=True)


def test_daphne_serves_pages_and_static_files():
    with live.daphne() as server:
        with urllib.request.urlopen(f"{server.http_url}/accounts/login/") as response:
            assert response.status == 200
            assert "Log in" in response.read().decode()
        with urllib.request.urlopen(f"{server.http_url}/static/notes/app.css") as response:
            assert response.status == 200
            assert "--accent" in response.read().decode()
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{server.http_url}/static/notes/nope.css")
        assert missing.value.code == 404


def test_the_server_tunes_itself_as_this_run_says_and_leaves_no_patch_out_for_its_versions():
    """The daphne processes tests start get this run's NOTES_SPEEDUPS (tests/live.py passes the
    environment on), and on the pinned versions the version gate leaves no patch out."""
    with live.daphne(LOG_LEVEL="INFO") as server:
        log = server.log()
    assert "the stock code runs instead" not in log
    assert ("left out: NOTES_SPEEDUPS is off" in log) is not speedups_enabled()


def test_favicon_ico_points_at_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/notes/favicon.svg"


def test_an_oversized_message_gets_close_code_1009_through_daphne():
    """autobahn refuses 1009 from applications; realtime/tuning/close_codes.py lets it through,
    so the client learns why (the editor treats 1009 as final) and the socket really closes."""
    owner = make_user("owner")
    note = make_note(owner=owner, title="Big", text="")
    client = Client()
    client.force_login(owner)
    cookie = client.cookies["sessionid"].value
    with live.daphne(NOTES_MAX_MESSAGE_BYTES="1000") as server:
        with connect(
            f"{server.ws_url}/ws/notes/{note.pk}/",
            origin=server.http_url,
            additional_headers={"Cookie": f"sessionid={cookie}"},
            proxy=None,
        ) as ws:
            ws.send(protocol.encode_sync_update(b"\x00" * 2000))
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    ws.recv(timeout=10)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009
        assert "Exception inside application" not in server.log()


def test_a_stalled_reader_gets_a_note_over_a_mebibyte_and_later_edits_whole_and_in_order(
    settings,
):
    """realtime/tuning/send_size.py lifts autobahn's 1 MiB cap on what the server sends (a
    joiner of this note got a closed socket instead of it), and write_through.py sends a frame
    at once only when nothing is queued before it. A reader that stalls while a sync larger
    than the kernel will buffer, then a run of edits, go out to it still gets every frame whole
    and in order."""
    settings.NOTES_MAX_NOTE_BYTES = 20_000_000
    owner = make_user("owner")
    base = "".join(f"line {i:07d} of a long note\n" for i in range(150_000))  # 4.2 MB
    note = make_note(owner=owner, title="Huge", text=base)
    client = Client()
    client.force_login(owner)
    cookie = client.cookies["sessionid"].value
    tokens = [f"<edit {i}>" for i in range(40)]
    with live.daphne(NOTES_MAX_NOTE_BYTES=str(20_000_000)) as server:
        reader = SilentSocket(server, note.pk, cookie, receive_buffer=4096)
        reader.send_binary(protocol.encode_sync_step1(b"\x00"))  # send me everything
        writer = SilentSocket(server, note.pk, cookie)
        author = documents.doc_from_updates(storage.note_state_load(note_id=note.pk).updates)
        text = author.get(documents.CONTENT, type=Text)
        for token in tokens:
            before = author.get_state()
            text.insert(len(text), token)
            writer.send_binary(protocol.encode_sync_update(author.get_update(before)))
        time.sleep(1)  # let the server queue every edit behind the sync it could not send
        frames = reader.read_frames(idle=3)
        writer.close()
        reader.close()
    replica = documents.doc_new()
    steps = []
    for frame in frames:
        message = protocol.decode_message(frame)
        if isinstance(message, protocol.SyncStep2 | protocol.SyncUpdate):
            steps.append(type(message).__name__)
            replica.apply_update(message.update)
    assert steps[0] == "SyncStep2", steps[:3]
    assert steps.count("SyncUpdate") >= 1
    assert documents.doc_text(replica) == base + "".join(tokens)

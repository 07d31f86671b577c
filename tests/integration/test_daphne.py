"""A real daphne process serves the site, static files included, with debug off."""

import urllib.request

import pytest
from django.test import Client
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from notes import protocol
from tests import live
from tests.factories import make_note, make_user

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


def test_favicon_ico_points_at_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/notes/favicon.svg"


def test_an_oversized_message_gets_close_code_1009_through_daphne():
    """autobahn refuses 1009 from applications; collab/daphne_close.py lets it through, so the
    client learns why (the editor treats 1009 as final) and the socket really closes."""
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

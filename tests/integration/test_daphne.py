"""A real daphne process serves the site, static files included, with debug off."""

import urllib.request

import pytest

from tests import live

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

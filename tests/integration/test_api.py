"""The JSON HTTP API and the API tokens page, through the test client."""

import json

import pytest
from django.test import Client

from notes.models import ApiToken
from notes.services import storage, tokens
from tests.factories import make_note, make_user, share_note

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return make_user("owner")


@pytest.fixture
def note(owner):
    return make_note(owner=owner, title="Ops", text="line one\nline two\n")


@pytest.fixture
def token(owner):
    return tokens.api_token_create(user=owner, name="script")[1]


def _bearer(key):
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def _put(client, note, body, method="put", **extra):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return getattr(client, method)(
        f"/api/notes/{note.pk}/",
        data,
        content_type=extra.pop("content_type", "application/json"),
        **extra,
    )


def test_get_with_a_session(owner, note):
    client = Client()
    client.force_login(owner)
    body = client.get(f"/api/notes/{note.pk}/").json()
    assert body == {
        "id": str(note.pk),
        "title": "Ops",
        "markdown": "line one\nline two\n",
        "updated": body["updated"],
        "role": "owner",
    }


def test_put_replaces_and_patch_appends_with_a_token(note, token):
    client = Client(enforce_csrf_checks=True)  # tokens need no CSRF token: no cookies
    response = _put(client, note, {"markdown": "line one\nline 2\n"}, **_bearer(token))
    assert response.status_code == 200, response.content
    assert response.json()["markdown"] == "line one\nline 2\n"
    response = _put(client, note, {"markdown": "appended\n"}, method="patch", **_bearer(token))
    assert response.json()["markdown"] == "line one\nline 2\nappended\n"
    assert storage.note_current_text(note_id=note.pk) == "line one\nline 2\nappended\n"
    note.refresh_from_db()
    assert note.content_text == "line one\nline 2\nappended\n"
    assert ApiToken.objects.get().last_used_at is not None


def test_put_is_a_minimal_diff(note, token):
    """Replacing with nearly the same text changes only what differs: a second identical PUT
    appends nothing to the log."""
    _put(Client(), note, {"markdown": "line one\nline two\nline three\n"}, **_bearer(token))
    count = note.updates.count()
    _put(Client(), note, {"markdown": "line one\nline two\nline three\n"}, **_bearer(token))
    assert note.updates.count() == count


def test_session_writes_need_the_csrf_token(owner, note):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    refused = _put(client, note, {"markdown": "x"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]
    client.get("/")  # sets the csrftoken cookie
    csrf = client.cookies["csrftoken"].value
    accepted = _put(client, note, {"markdown": "x"}, HTTP_X_CSRFTOKEN=csrf)
    assert accepted.status_code == 200


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        ("{not json", "application/json", 400, "not valid JSON"),
        ('["markdown"]', "application/json", 400, '{"markdown"'),
        ('{"markdown": 5}', "application/json", 400, '{"markdown"'),
        ("markdown=x", "application/x-www-form-urlencoded", 415, "application/json"),
        (b'{"markdown": "\xff"}', "application/json", 400, "UTF-8"),
    ],
)
def test_bad_bodies_get_clear_errors_and_change_nothing(
    note, token, body, content_type, status, message
):
    response = _put(Client(), note, body, content_type=content_type, **_bearer(token))
    assert response.status_code == status
    assert message in response.json()["error"]
    assert storage.note_current_text(note_id=note.pk) == "line one\nline two\n"


def test_too_large_is_413_and_changes_nothing(note, token, settings):
    settings.NOTES_MAX_NOTE_BYTES = 100
    response = _put(Client(), note, {"markdown": "x" * 200}, **_bearer(token))
    assert response.status_code == 413
    assert "limit is 100 bytes" in response.json()["error"]
    assert storage.note_current_text(note_id=note.pk) == "line one\nline two\n"


def test_access_rules(note):
    viewer, stranger = make_user("viewer"), make_user("stranger")
    share_note(note, viewer, "viewer")
    viewer_key = tokens.api_token_create(user=viewer, name="v")[1]
    stranger_key = tokens.api_token_create(user=stranger, name="s")[1]
    assert Client().get(f"/api/notes/{note.pk}/", **_bearer(viewer_key)).json()["role"] == "viewer"
    refused = _put(Client(), note, {"markdown": "hijack"}, **_bearer(viewer_key))
    assert refused.status_code == 403
    assert Client().get(f"/api/notes/{note.pk}/", **_bearer(stranger_key)).status_code == 404
    missing = Client().get(
        "/api/notes/0b5c1e7e-0000-4000-8000-000000000000/", **_bearer(viewer_key)
    )
    assert missing.status_code == 404 and "No such note" in missing.json()["error"]
    assert storage.note_current_text(note_id=note.pk) == "line one\nline two\n"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Log in, or send an API token"),
        ({"HTTP_AUTHORIZATION": "Bearer cn_wrong"}, "not valid"),
        ({"HTTP_AUTHORIZATION": "Basic abc"}, "Bearer <token>"),
    ],
)
def test_unauthenticated_requests_get_401(note, headers, message):
    response = Client().get(f"/api/notes/{note.pk}/", **headers)
    assert response.status_code == 401
    assert message in response.json()["error"]


def test_unsupported_method_is_405(note, token):
    response = Client().delete(f"/api/notes/{note.pk}/", **_bearer(token))
    assert response.status_code == 405 and response["Allow"] == "GET, PUT, PATCH"


def test_tokens_page_shows_a_new_token_once_and_revokes(owner, note):
    client = Client()
    client.force_login(owner)
    page = client.post("/settings/tokens/", {"action": "create", "name": "backup"})
    key = page.context["new_key"]
    assert key.startswith("cn_") and key in page.content.decode()
    assert key not in client.get("/settings/tokens/").content.decode()
    assert ApiToken.objects.get(name="backup").key_hash != key  # only the hash is stored
    assert Client().get(f"/api/notes/{note.pk}/", **_bearer(key)).status_code == 200
    client.post("/settings/tokens/", {"action": "revoke", "token": ApiToken.objects.get().pk})
    assert Client().get(f"/api/notes/{note.pk}/", **_bearer(key)).status_code == 401

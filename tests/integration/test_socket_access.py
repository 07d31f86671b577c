"""Who a socket is and what it may do: the session's user and the role query sockets use."""

import uuid

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session

from notes import selectors
from notes.permissions import Role, note_role
from realtime.transports.sessions import session_user
from tests.factories import make_note, make_user, share_note
from tests.yclient import YClient, login_session_key

pytestmark = pytest.mark.django_db(transaction=True)


def _logged_in_session(user) -> SessionStore:
    return SessionStore(login_session_key(user))


def test_a_logged_in_session_gives_its_user(user):
    assert session_user(_logged_in_session(user)) == user


def test_no_session_or_an_empty_one_is_anonymous(user):
    assert not session_user(SessionStore(None)).is_authenticated
    assert not session_user(SessionStore("no-such-session-key")).is_authenticated


def test_a_changed_password_refuses_the_session_but_leaves_it_alone(user):
    session = _logged_in_session(user)
    user.set_password("a-new-password-entirely")
    user.save()
    assert not session_user(SessionStore(session.session_key)).is_authenticated
    # Logging the browser out is for its next page load, which can send it a new cookie.
    assert Session.objects.filter(session_key=session.session_key).exists()


def test_an_inactive_user_is_refused(user):
    session = _logged_in_session(user)
    user.is_active = False
    user.save()
    assert not session_user(SessionStore(session.session_key)).is_authenticated


def test_a_session_from_before_a_secret_key_rotation_still_counts(user, settings):
    session = _logged_in_session(user)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-rotated-secret-key-" + "x" * 40
    assert session_user(SessionStore(session.session_key)) == user
    settings.SECRET_KEY_FALLBACKS = []
    assert not session_user(SessionStore(session.session_key)).is_authenticated


def test_a_backend_no_longer_configured_is_refused(user):
    session = _logged_in_session(user)
    session[BACKEND_SESSION_KEY] = "some.removed.Backend"
    assert not session_user(session).is_authenticated


def test_the_role_query_agrees_with_note_role_for_everyone(user, other_user):
    note = make_note(owner=user)
    viewer, editor, stranger = make_user(), make_user(), make_user()
    share_note(note, viewer, role="viewer")
    share_note(note, editor, role="editor")
    share_note(make_note(owner=user), stranger, role="editor")  # a membership elsewhere
    expected = {user: Role.OWNER, viewer: Role.VIEWER, editor: Role.EDITOR, stranger: Role.NONE}
    for who, role in expected.items():
        assert selectors.note_role_of(note_id=note.pk, user=who) == role
        assert note_role(user=who, note=note) == role
    assert selectors.note_role_of(note_id=uuid.uuid4(), user=user) is None


@pytest.mark.usefixtures("fresh_hub")
async def test_a_socket_from_a_session_whose_password_changed_is_refused_with_4401(asgi_app):
    owner = await sync_to_async(make_user)()
    note = await sync_to_async(make_note)(owner=owner)
    session = await sync_to_async(_logged_in_session)(owner)

    @sync_to_async
    def change_password():
        owner.set_password("a-new-password-entirely")
        owner.save()

    await change_password()
    client = YClient(asgi_app, note.pk, cookie=session.session_key)
    assert await client.connect()
    await client.pump(1)
    assert client.close_code == 4401
    assert await sync_to_async(Session.objects.filter(pk=session.session_key).exists)()

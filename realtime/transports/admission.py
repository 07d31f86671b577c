"""
Who may open a note, checked once when a transport connects a client (validate; the engine
acts). The rules are notes.permissions'; these only apply them to a new connection.
"""

from dataclasses import dataclass

from django.conf import settings

from notes import selectors
from notes.permissions import Role
from realtime.peer import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, CLOSE_NOT_LOGGED_IN, CLOSE_TOO_MANY
from realtime.transports.sessions import session_user


@dataclass(frozen=True)
class Refusal:
    """Why a client may not open the note, as the close code and reason it is sent."""

    code: int
    reason: str


def note_access(*, session, note_id) -> tuple:
    """The session's user and their role on the note (None: no such note; NONE when not
    logged in), in one trip to the database: in a join storm each trip waits behind
    everyone else's, so a joiner makes one. Synchronous."""
    user = session_user(session)
    if not user.is_authenticated:
        return user, Role.NONE
    return user, selectors.note_role_of(note_id=note_id, user=user)


def note_refusal(*, user, role: Role | None, open_peers: int) -> Refusal | None:
    """Whether this user, with this role and this many notes open in this process, is
    refused (and how), or None to let them in."""
    if not user.is_authenticated:
        return Refusal(CLOSE_NOT_LOGGED_IN, "Log in to open this note")
    if role is None:
        return Refusal(CLOSE_NOT_FOUND, "This note does not exist")
    if role < Role.VIEWER:
        return Refusal(CLOSE_FORBIDDEN, "You do not have access to this note")
    if open_peers >= settings.NOTES_MAX_SOCKETS_PER_USER:
        return Refusal(CLOSE_TOO_MANY, "Too many open connections")
    return None

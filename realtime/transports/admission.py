"""
Who may open a note, checked once when a transport connects a client (validate; the engine
acts). The rules are notes.permissions'; these only apply them to a new connection.
"""

import logging
from dataclasses import dataclass

from django.conf import settings

from notes import selectors
from notes.identity import user_display_name
from notes.permissions import Role
from realtime.peer import (
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_NOT_LOGGED_IN,
    CLOSE_TOO_MANY,
    Link,
    Peer,
)
from realtime.transports.sessions import session_user

logger = logging.getLogger("realtime.admission")


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


def refusal_for(*, hub, user, role: Role | None, note_id) -> Refusal | None:
    """`note_refusal` for a client connecting to this process's hub, counting and logging a
    refusal for too many connections (an operator wants to see those)."""
    refusal = note_refusal(user=user, role=role, open_peers=hub.peers_of(user.pk))
    if refusal is not None and refusal.code == CLOSE_TOO_MANY:
        hub.stats["closed_by_limit"] += 1
        logger.warning("too many connections", extra={"note": str(note_id), "user": user.pk})
    return refusal


def new_peer(*, note_id, user, role: Role, session, wants_acks: bool, link: Link) -> Peer:
    """The engine's view of an admitted client, whatever its transport."""
    return Peer(
        note_id=note_id,
        user_id=user.pk,
        user_name=user_display_name(user),
        session_key=getattr(session, "session_key", None),
        role=role,
        wants_acks=wants_acks,
        link=link,
    )

"""
The one place that sends to channel-layer groups. `grep group_send` finds only this file.

Every note has one group, joined once per process by that process's hub (notes.hub), never by
individual sockets. Messages are sent only after the change they carry has been committed.

Channel-layer delivery is at-most-once, so nothing here is relied on for durability: the hub
heals from the database log (see docs/architecture.md).
"""

import hashlib

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

# Event types; the hub registers a handler for each (realtime.hub, `bus.handlers`).
NOTE_UPDATE = "note.update"
NOTE_AWARENESS = "note.awareness"
NOTE_DELETED = "note.deleted"
NOTE_PRESENCE_QUERY = "note.presence_query"
NOTE_ACCESS = "note.access"
NOTE_CHAT = "note.chat"  # a chat message posted, edited or deleted (notes.services.chat)
NOTE_COMMENTS = "note.comments"  # a comment thread changed or went (notes.services.comments)
SESSION_ENDED = "session.ended"
USER_SESSIONS_ENDED = "user.sessions_ended"  # a user's password changed: their other logins end
USER_NOTES = "user.notes"  # an event for one user's live notes list
PRESENCE_QUERY = "presence.query"  # "who is editing the notes this user can see?"
# An HTTP transport's POST forwarded to the process holding its session, and the answer.
HTTP_SEND = "http.send"
HTTP_ANSWER = "http.answer"

# Channel names the per-process hubs receive on (collab.config gives them a large queue).
HUB_CHANNEL_PREFIX = "notes-hub"

# Every hub joins this group, for events that are not about one note.
HUBS_GROUP = "notes-hubs"

# Origin of updates made outside any hub (HTTP views, admin, management commands).
EXTERNAL_ORIGIN = "external"


async def _group_send(group: str, message: dict) -> None:
    """Send to a group, trying twice.

    After Redis restarts, a pooled connection is dead until a command on it fails; without a
    second try that message would wait for the next heal (seconds). Every message here is safe
    to deliver twice: updates apply idempotently, and the rest restate a current state.
    """
    layer = get_channel_layer()
    try:
        await layer.group_send(group, message)
    except Exception:
        await layer.group_send(group, message)


def layer_reaches_other_processes() -> bool:
    """Whether another process can receive what this one sends. Not with the in-memory layer
    (no REDIS_URL): it lives inside this process, where each note group's only member is this
    process's own hub."""
    return not isinstance(get_channel_layer(), InMemoryChannelLayer)


def note_group(note_id) -> str:
    """The note's group name: ASCII and well under Channels' 100-character limit."""
    digest = hashlib.blake2s(str(note_id).encode(), digest_size=16).hexdigest()
    return f"note.{digest}"


async def send_note_update(*, note_id, origin: str, seq: int, update: bytes) -> None:
    """Fan a committed update out to every process that has the note loaded."""
    await _group_send(
        note_group(note_id),
        {"type": NOTE_UPDATE, "note": str(note_id), "origin": origin, "seq": seq, "update": update},
    )


async def send_note_awareness(*, note_id, origin: str, payload: bytes) -> None:
    """Fan an awareness update (presence, cursors) out to every process with the note loaded."""
    await _group_send(
        note_group(note_id),
        {"type": NOTE_AWARENESS, "note": str(note_id), "origin": origin, "payload": payload},
    )


async def send_note_presence_query(*, note_id, origin: str) -> None:
    """Ask the other processes with the note loaded to announce their clients' presence."""
    await _group_send(
        note_group(note_id), {"type": NOTE_PRESENCE_QUERY, "note": str(note_id), "origin": origin}
    )


async def send_note_chat(*, note_id, event: dict) -> None:
    """A chat event, to every process with the note open."""
    await _group_send(
        note_group(note_id), {"type": NOTE_CHAT, "note": str(note_id), "event": event}
    )


async def send_note_comments(*, note_id, event: dict) -> None:
    """A comment-thread event, to every process with the note open."""
    await _group_send(
        note_group(note_id), {"type": NOTE_COMMENTS, "note": str(note_id), "event": event}
    )


async def send_note_deleted(*, note_id) -> None:
    await _group_send(note_group(note_id), {"type": NOTE_DELETED, "note": str(note_id)})


def hub_group(hub_id: str) -> str:
    """One process's own group: its hub alone is in it."""
    return f"hub.{hub_id}"


async def send_to_hub(hub_id: str, message: dict) -> None:
    """A message for one process only (realtime.transports.http.relay). Delivered at most
    once, like every message here: the sender waits for an answer and retries without one."""
    await _group_send(hub_group(hub_id), message)


def user_group(user_id: int) -> str:
    """One group per user, joined by each hub that has that user's notes list open."""
    return f"user.{int(user_id)}"


async def send_user_notes(*, user_ids, event: dict) -> None:
    """Tell these users' open notes lists about a note (appeared, changed, gone, who edits)."""
    for user_id in set(user_ids):
        await _group_send(
            user_group(user_id), {"type": USER_NOTES, "user": user_id, "event": event}
        )


async def send_presence_query(*, user_id: int) -> None:
    await _group_send(HUBS_GROUP, {"type": PRESENCE_QUERY, "user": user_id})


async def send_note_access(*, note_id, user_ids: list[int]) -> None:
    """These users' rights on the note changed: their open sockets must follow."""
    await _group_send(
        note_group(note_id), {"type": NOTE_ACCESS, "note": str(note_id), "users": user_ids}
    )


async def send_session_ended(*, session_key: str) -> None:
    await _group_send(HUBS_GROUP, {"type": SESSION_ENDED, "session": session_key})


async def send_user_sessions_ended(*, user_id: int, keep_session_key: str | None) -> None:
    await _group_send(
        HUBS_GROUP, {"type": USER_SESSIONS_ENDED, "user": user_id, "keep": keep_session_key}
    )


def note_access_changed(*, note_id, user_ids: list[int]) -> None:
    """From synchronous code, after commit: re-check these users' open sockets on the note."""
    async_to_sync(send_note_access)(note_id=note_id, user_ids=user_ids)


def session_ended(*, session_key: str) -> None:
    """From synchronous code: close every socket opened with this session (logout)."""
    async_to_sync(send_session_ended)(session_key=session_key)


def user_sessions_ended(*, user_id: int, keep_session_key: str | None = None) -> None:
    """From synchronous code, after commit: close every socket of this user except those of
    `keep_session_key` (the session that changed the password; None after a reset)."""
    async_to_sync(send_user_sessions_ended)(user_id=user_id, keep_session_key=keep_session_key)


def user_notes(*, user_ids, event: dict) -> None:
    """From synchronous code, after commit: update these users' live notes lists."""
    if user_ids:
        async_to_sync(send_user_notes)(user_ids=list(user_ids), event=event)


def note_update_external(*, note_id, update: bytes) -> None:
    """From synchronous code, after commit: fan out an update made outside the editor."""
    async_to_sync(send_note_update)(note_id=note_id, origin=EXTERNAL_ORIGIN, seq=0, update=update)


def note_deleted(*, note_id) -> None:
    """From synchronous code, after commit: tell every process the note is gone."""
    async_to_sync(send_note_deleted)(note_id=note_id)


def note_chat(*, note_id, event: dict) -> None:
    """From synchronous code, after commit: a chat event to the note's open editors."""
    async_to_sync(send_note_chat)(note_id=note_id, event=event)


def note_comments(*, note_id, event: dict) -> None:
    """From synchronous code, after commit: a comment-thread event to the note's editors."""
    async_to_sync(send_note_comments)(note_id=note_id, event=event)

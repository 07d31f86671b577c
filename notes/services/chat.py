"""
A note's chat: post, edit and delete messages. Everyone who may open the note (viewers too)
may read and write; authors edit and delete their own messages, the owner deletes any. An
`@username` of one of the note's people notifies them (notes.services.notifications).

Every change is announced after commit to the note's group (notes.broadcast.note_chat), so
every open editor of the note, in every process, sees it at once.
"""

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from notes import broadcast, throttle
from notes.identity import user_identity
from notes.models import CHAT_MESSAGE_MAX_CHARS, ChatMessage, Note
from notes.permissions import Role, note_role
from notes.services.notifications import notify_mentions


class ChatRefused(ValueError):
    """A chat action that is not allowed or not valid; the message says why, for the user."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def chat_message_data(message: ChatMessage) -> dict:
    """A message as the editor and the API see it."""
    author = (
        user_identity(message.author) if message.author else {"id": None, "name": "Deleted user"}
    )
    return {
        "id": message.id,
        "author": author,
        "text": message.text,
        "created": message.created_at.isoformat(),
        "edited": message.edited_at.isoformat() if message.edited_at else None,
    }


def message_text_clean(text: str) -> str:
    """The text of a chat message or comment, stripped; ChatRefused when empty or too long."""
    text = (text or "").strip()
    if not text:
        raise ChatRefused("Write something first.")
    if len(text) > CHAT_MESSAGE_MAX_CHARS:
        raise ChatRefused(
            f"A message is at most {CHAT_MESSAGE_MAX_CHARS:,} characters; this one has "
            f"{len(text):,}."
        )
    return text


def talk_throttle(user) -> None:
    """Count one chat message or comment; ChatRefused (429) past CHAT_MESSAGES_PER_MINUTE."""
    wait = throttle.throttle_wait(
        "chat", str(user.pk), limit=settings.CHAT_MESSAGES_PER_MINUTE, window=throttle.MINUTE
    )
    if wait:
        raise ChatRefused(
            f"You are sending messages too fast: wait {throttle.wait_in_words(wait)}.", status=429
        )
    throttle.throttle_count("chat", str(user.pk), window=throttle.MINUTE)


def _announce(message_note_id, event: dict) -> None:
    transaction.on_commit(lambda: broadcast.note_chat(note_id=message_note_id, event=event))


@transaction.atomic
def chat_post(*, note: Note, user, text: str) -> ChatMessage:
    if note_role(user=user, note=note) < Role.VIEWER:
        raise ChatRefused("You do not have access to this note.", status=403)
    text = message_text_clean(text)
    talk_throttle(user)
    message = ChatMessage.objects.create(note=note, author=user, text=text)
    notify_mentions(message=message)
    _announce(note.pk, {"kind": "message", "message": chat_message_data(message)})
    return message


@transaction.atomic
def chat_edit(*, message: ChatMessage, user, text: str) -> ChatMessage:
    if message.author_id != user.pk:
        raise ChatRefused("Only its author can edit a message.", status=403)
    if note_role(user=user, note=message.note) < Role.VIEWER:
        raise ChatRefused("You do not have access to this note.", status=403)
    message.text = message_text_clean(text)
    message.edited_at = timezone.now()
    message.save(update_fields=["text", "edited_at"])
    _announce(message.note_id, {"kind": "edited", "message": chat_message_data(message)})
    return message


@transaction.atomic
def chat_delete(*, message: ChatMessage, user) -> None:
    role = note_role(user=user, note=message.note)
    if not (role >= Role.VIEWER and message.author_id == user.pk) and role < Role.OWNER:
        raise ChatRefused("Only its author or the note's owner can delete a message.", status=403)
    _remove(message)


@transaction.atomic
def chat_delete_moderated(*, message: ChatMessage) -> None:
    """Staff removing a message in the admin: it goes from open editors too."""
    _remove(message)


def _remove(message: ChatMessage) -> None:
    message_id, note_id = message.id, message.note_id
    message.delete()
    _announce(note_id, {"kind": "deleted", "id": message_id})

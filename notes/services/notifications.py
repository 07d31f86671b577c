"""
Notifications: someone @mentioned you in a note's chat or a comment, or replied in a comment
thread you are in. Made with the message, in its transaction; after commit each person
notified gets a live event on their notes list (notes.broadcast.user_notes) with their new
unread count. Opening the notifications page
marks everything read.
"""

import re

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from notes import broadcast
from notes.identity import user_display_name
from notes.models import PREVIEW_LENGTH, ChatMessage, Membership, Notification

# `@name`, not inside a word or an email address; usernames are Django's (letters, digits, @.+-_).
MENTION = re.compile(r"(?<![\w@.+-])@([\w.+-]+)")


def mentioned_names(text: str) -> set[str]:
    """The lower-cased usernames `text` mentions (a trailing full stop is punctuation)."""
    return {name.rstrip(".").lower() for name in MENTION.findall(text)} - {""}


def notify_mentions(*, message: ChatMessage) -> list[int]:
    """Notify the note's people whom a chat message mentions; their ids."""
    return notify(note=message.note, actor=message.author, text=message.text, chat_message=message)


def notify(*, note, actor, text: str, chat_message=None, thread=None, participants=()) -> list[int]:
    """Notify the note's people (never `actor`) whom `text` mentions, and the thread's
    `participants` (user ids) of a reply; the ids notified. Call inside the transaction."""
    names = mentioned_names(text)
    participants = set(participants)
    if not names and not participants:
        return []
    member_ids = Membership.objects.filter(note=note).values_list("user_id", flat=True)
    people = (
        get_user_model()
        .objects.filter(Q(pk=note.owner_id) | Q(pk__in=member_ids), is_active=True)
        .exclude(pk=actor.pk)
    )
    made = []
    for person in people:
        if person.get_username().lower() in names:
            kind = Notification.Kind.MENTION
        elif person.pk in participants:
            kind = Notification.Kind.REPLY
        else:
            continue
        made.append(
            Notification(
                user=person,
                kind=kind,
                note=note,
                actor=actor,
                chat_message=chat_message,
                thread=thread,
                excerpt=text[:PREVIEW_LENGTH],
            )
        )
    Notification.objects.bulk_create(made)
    ids = [n.user_id for n in made]
    transaction.on_commit(lambda: _announce(ids))
    return ids


def _announce(user_ids: list[int]) -> None:
    for user_id in user_ids:
        broadcast.user_notes(
            user_ids=[user_id],
            event={"kind": "notifications", "unread": notifications_unread(user_id=user_id)},
        )


def notifications_unread(*, user_id) -> int:
    return Notification.objects.filter(user_id=user_id, read_at__isnull=True).count()


def notification_data(notification: Notification) -> dict:
    actor = notification.actor
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "note": {"id": str(notification.note_id), "title": notification.note.title},
        "actor": user_display_name(actor) if actor else "Deleted user",
        "excerpt": notification.excerpt,
        "created": notification.created_at.isoformat(),
        "read": notification.read_at is not None,
    }


def notifications_seen(*, user) -> int:
    """Mark all of the user's notifications read; how many were unread."""
    seen = Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    if seen:
        transaction.on_commit(
            lambda: broadcast.user_notes(
                user_ids=[user.pk], event={"kind": "notifications", "unread": 0}
            )
        )
    return seen

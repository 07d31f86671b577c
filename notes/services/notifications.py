"""
Notifications: someone @mentioned you in a note's chat. Made with the message, in its
transaction; after commit each person mentioned gets a live event on their notes list
(notes.broadcast.user_notes) with their new unread count. Opening the notifications page
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
    """Notify the note's people whom the message mentions (not its author); their ids."""
    names = mentioned_names(message.text)
    if not names:
        return []
    note = message.note
    member_ids = Membership.objects.filter(note=note).values_list("user_id", flat=True)
    people = (
        get_user_model()
        .objects.filter(Q(pk=note.owner_id) | Q(pk__in=member_ids), is_active=True)
        .exclude(pk=message.author_id)
    )
    mentioned = [person for person in people if person.get_username().lower() in names]
    Notification.objects.bulk_create(
        Notification(
            user=person,
            kind=Notification.Kind.MENTION,
            note=note,
            actor=message.author,
            chat_message=message,
            excerpt=message.text[:PREVIEW_LENGTH],
        )
        for person in mentioned
    )
    ids = [person.pk for person in mentioned]
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

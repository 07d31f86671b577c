"""Factories for test data, in one place."""

import itertools

from django.contrib.auth import get_user_model

from notes.services import editing, sharing

_counter = itertools.count(1)
PASSWORD = "correct-horse-battery-staple"


def make_user(username: str | None = None, **extra):
    n = next(_counter)
    username = username or f"user{n}"
    return get_user_model().objects.create_user(
        username=username,
        email=extra.pop("email", f"{username}@example.com"),
        password=PASSWORD,
        **extra,
    )


def make_note(owner=None, title: str = "A note", text: str = ""):
    owner = owner or make_user()
    note = editing.note_create(owner=owner, title=title)
    if text:
        editing.note_text_replace(note=note, text=text, author=owner)
        note.refresh_from_db()
    return note


def share_note(note, user, role: str = "editor"):
    return sharing.note_share(note=note, user=user, role=role)

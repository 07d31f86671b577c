"""
Create users, notes and logged-in sessions for the load generator (bench/), and print them.

Output, one JSON object on stdout: {"notes": [uuid, ...], "cookies": [sessionid, ...]}.
Every note is owned by the first user, and every session belongs to that user, because only a
note's owner may open it until sharing exists. The other users exist so later scenarios can
share notes with them. Meant for a throwaway benchmark database only.
"""

import json

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import get_random_string

from notes.services.editing import note_create

USERNAME_PREFIX = "bench-user-"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


class Command(BaseCommand):
    help = "Create benchmark users, notes and sessions; print their note ids and session cookies."

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=1, help="users to create (default 1)")
        parser.add_argument("--notes", type=int, default=1, help="notes to create (default 1)")
        parser.add_argument(
            "--sessions", type=int, default=1, help="sessions (cookies) to create (default 1)"
        )

    def handle(self, *args, users, notes, sessions, **options):
        if min(users, notes, sessions) < 1:
            raise ValueError("--users, --notes and --sessions must each be at least 1")
        with transaction.atomic():
            people = self._users(count=users)
            owner = people[0]
            note_ids = [
                str(note_create(owner=owner, title=f"Bench note {i + 1}").pk) for i in range(notes)
            ]
            cookies = self._sessions(user=owner, count=sessions)
        self.stdout.write(json.dumps({"notes": note_ids, "cookies": cookies}))

    def _users(self, *, count):
        """Get or create bench-user-1 … bench-user-N, all with unusable passwords."""
        User = get_user_model()
        people = []
        for i in range(1, count + 1):
            user, created = User.objects.get_or_create(username=f"{USERNAME_PREFIX}{i}")
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            people.append(user)
        return people

    def _sessions(self, *, user, count):
        """Store `count` sessions logged in as `user`, the way django.contrib.auth.login would."""
        data = {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: MODEL_BACKEND,
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
        encoded = SessionStore().encode(data)
        expires = timezone.now() + timezone.timedelta(seconds=settings.SESSION_COOKIE_AGE)
        keys = [get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(count)]
        Session.objects.bulk_create(
            [Session(session_key=key, session_data=encoded, expire_date=expires) for key in keys],
            batch_size=500,
        )
        return keys

"""
Notes and their durable CRDT state.

A note's body is a Yjs document. It is stored as a compacted snapshot on the note plus an
append-only log of updates (`NoteUpdate`) received since; loading applies the snapshot, then the
log. `content_text` and `preview` mirror the text for search, the list and the admin: they are
derived, never a source for the CRDT.
"""

import secrets
import uuid
import zlib

from django.conf import settings
from django.db import models
from django.utils import timezone

TITLE_MAX_LENGTH = 200
PREVIEW_LENGTH = 240


class NoteQuerySet(models.QuerySet):
    pass


class NoteManager(models.Manager.from_queryset(NoteQuerySet)):
    def get_queryset(self):
        # The snapshot can be large and is read only by the realtime services.
        return super().get_queryset().defer("crdt_snapshot")


class Note(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="owned_notes"
    )
    title = models.CharField(max_length=TITLE_MAX_LENGTH, default="Untitled")
    content_text = models.TextField(blank=True, default="", editable=False)
    preview = models.CharField(max_length=PREVIEW_LENGTH, blank=True, default="", editable=False)
    crdt_snapshot = models.BinaryField(default=b"", editable=False)
    # Highest NoteUpdate id merged into crdt_snapshot (0: none).
    snapshot_through = models.BigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    # History bookkeeping: when the newest revision was taken, the last log id it includes, and
    # the authors of log entries compaction folded away since (they are its contributors).
    checkpointed_at = models.DateTimeField(null=True, blank=True, editable=False)
    checkpoint_through = models.BigIntegerField(default=0, editable=False)
    pending_contributors = models.JSONField(default=list, blank=True, editable=False)

    objects = NoteManager()

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["owner", "-updated_at"])]

    def __str__(self):
        return self.title


class NoteUpdate(models.Model):
    """One Yjs update, appended when a client's edit is accepted; removed by compaction."""

    id = models.BigAutoField(primary_key=True)
    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="updates")
    data = models.BinaryField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["note", "id"])]

    def __str__(self):
        return f"update {self.id} of {self.note_id}"


class Membership(models.Model):
    """Someone other than the owner who may open the note, as editor or viewer."""

    class Role(models.TextChoices):
        EDITOR = "editor", "Editor"
        VIEWER = "viewer", "Viewer"

    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="note_memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EDITOR)
    # Set when the membership came from a share link: revoking the link removes it.
    via_link = models.ForeignKey(
        "ShareLink", on_delete=models.SET_NULL, null=True, blank=True, related_name="members"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["note", "user"], name="one_membership_per_user")
        ]

    def __str__(self):
        return f"{self.user} {self.role} of {self.note}"


def new_share_token() -> str:
    return secrets.token_urlsafe(24)


class ShareLink(models.Model):
    """A secret link that makes whoever opens it (logged in) a member with `role`."""

    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="share_links")
    token = models.CharField(max_length=64, unique=True, default=new_share_token, editable=False)
    role = models.CharField(
        max_length=10, choices=Membership.Role.choices, default=Membership.Role.VIEWER
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.role} link to {self.note}"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class ApiToken(models.Model):
    """A per-user secret for scripts calling the HTTP API. Only a hash is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=12, editable=False)  # shown so people can tell them apart
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"


class NoteRevision(models.Model):
    """A saved version of a note's text and title.

    Revisions hold their own (compressed) copy of the text, so compacting the update log never
    touches them. `log_through` is the highest NoteUpdate id the revision includes; the
    contributors are the authors of the log entries since the previous revision.
    """

    class Kind(models.TextChoices):
        AUTO = "auto", "Automatic"
        MANUAL = "manual", "Saved version"
        BEFORE_RESTORE = "before_restore", "Before restore"
        RESTORE = "restore", "Restored"

    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="revisions")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.AUTO)
    name = models.CharField(max_length=TITLE_MAX_LENGTH, blank=True, default="")
    title = models.CharField(max_length=TITLE_MAX_LENGTH, default="Untitled")
    text_compressed = models.BinaryField(editable=False)
    size = models.PositiveIntegerField(default=0)  # bytes of UTF-8 text
    log_through = models.BigIntegerField(default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    contributors = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["note", "-created_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} of {self.note_id} at {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def text(self) -> str:
        return zlib.decompress(bytes(self.text_compressed)).decode("utf-8")

    @staticmethod
    def compress(text: str) -> bytes:
        return zlib.compress(text.encode("utf-8"), 6)


CHAT_MESSAGE_MAX_CHARS = 4000


class ChatMessage(models.Model):
    """One message in a note's chat. Anyone who may open the note may read and write them;
    the author may edit or delete theirs, the note's owner may delete any."""

    id = models.BigAutoField(primary_key=True)
    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="chat_messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    text = models.TextField(max_length=CHAT_MESSAGE_MAX_CHARS)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    edited_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["note", "-id"])]

    def __str__(self):
        return f"chat message {self.id} on {self.note_id}"


class Notification(models.Model):
    """Something for one user to look at: someone @mentioned them in a note's chat or a
    comment, or replied in a comment thread they are in. Unread until they open their
    notifications."""

    class Kind(models.TextChoices):
        MENTION = "mention", "Mention"
        REPLY = "reply", "Reply"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.MENTION)
    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    chat_message = models.ForeignKey(
        ChatMessage, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    thread = models.ForeignKey(
        "CommentThread", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    excerpt = models.CharField(max_length=PREVIEW_LENGTH, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"]), models.Index(fields=["user", "-id"])]

    def __str__(self):
        return f"{self.kind} for {self.user_id} on {self.note_id}"


COMMENT_QUOTE_MAX_CHARS = 1000


class CommentThread(models.Model):
    """A discussion anchored to a passage of the note. The anchor is two Yjs relative
    positions (the passage's start and end), so it follows the words through everyone's edits;
    `quote` is the passage as it was, shown when its text is gone (a detached thread)."""

    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="comment_threads")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    anchor_start = models.BinaryField()
    anchor_end = models.BinaryField()
    quote = models.TextField(max_length=COMMENT_QUOTE_MAX_CHARS)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["note", "id"])]

    def __str__(self):
        return f"comments on “{self.quote[:40]}”"


class Comment(models.Model):
    """One comment in a thread: the first opens it, the rest are replies."""

    thread = models.ForeignKey(CommentThread, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    text = models.TextField(max_length=CHAT_MESSAGE_MAX_CHARS)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"comment {self.id} in thread {self.thread_id}"

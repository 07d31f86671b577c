"""
Comments anchored to a note's text: open a thread on a passage, reply, resolve, reopen,
delete. Everyone who may open the note may comment (viewers too: commenting never changes the
text). Resolving and reopening are open to anyone who may comment, as in Google Docs; a thread
is deleted by its author or the note's owner, a comment by its author or the owner.

Each change is announced after commit to the note's group (notes.broadcast.note_comments), so
open editors update their highlights and threads at once. Restoring a version or compacting
the log never touches comments: they live beside the text, anchored by Yjs relative positions
(notes/anchors.py).
"""

import base64

from django.db import transaction
from django.utils import timezone

from notes import broadcast, documents
from notes.anchors import anchor_valid, anchors_for_quote
from notes.identity import user_identity
from notes.models import COMMENT_QUOTE_MAX_CHARS, Comment, CommentThread, Note
from notes.permissions import Role, note_role
from notes.services import storage
from notes.services.chat import ChatRefused, message_text_clean, talk_throttle
from notes.services.notifications import notify


def _author(user) -> dict:
    return user_identity(user) if user else {"id": None, "name": "Deleted user"}


def comment_data(comment: Comment) -> dict:
    return {
        "id": comment.id,
        "author": _author(comment.author),
        "text": comment.text,
        "created": comment.created_at.isoformat(),
    }


def thread_data(thread: CommentThread) -> dict:
    """A thread as editors and the API see it (anchors in base64, as Yjs encodes them)."""
    return {
        "id": thread.id,
        "author": _author(thread.author),
        "quote": thread.quote,
        "anchor": {
            "start": base64.b64encode(bytes(thread.anchor_start)).decode(),
            "end": base64.b64encode(bytes(thread.anchor_end)).decode(),
        },
        "resolved": thread.resolved_at is not None,
        "resolvedBy": _author(thread.resolved_by)["name"] if thread.resolved_at else None,
        "created": thread.created_at.isoformat(),
        "comments": [comment_data(c) for c in thread.comments.all()],
    }


def _may_comment(*, note: Note, user) -> Role:
    role = note_role(user=user, note=note)
    if role < Role.VIEWER:
        raise ChatRefused("You do not have access to this note.", status=403)
    return role


def _announce(thread: CommentThread) -> None:
    thread_id, note_id = thread.pk, thread.note_id

    def send():
        fresh = CommentThread.objects.filter(pk=thread_id).select_related("author", "resolved_by")
        event = (
            {"kind": "thread", "thread": thread_data(fresh[0])}
            if fresh
            else {"kind": "thread-deleted", "id": thread_id}
        )
        broadcast.note_comments(note_id=note_id, event=event)

    transaction.on_commit(send)


@transaction.atomic
def thread_create(
    *,
    note: Note,
    user,
    text: str,
    quote: str,
    anchor_start: bytes | None = None,
    anchor_end: bytes | None = None,
    occurrence: int = 1,
) -> CommentThread:
    """Open a thread on a passage: at the anchors given (editors), or, without them, at the
    `occurrence`-th appearance of `quote` in the note now (API clients without Yjs)."""
    _may_comment(note=note, user=user)
    quote = (quote or "").strip("\n")
    if not quote.strip():
        raise ChatRefused("Select the text to comment on.")
    if len(quote) > COMMENT_QUOTE_MAX_CHARS:
        raise ChatRefused(f"Comment on at most {COMMENT_QUOTE_MAX_CHARS:,} characters at a time.")
    text = message_text_clean(text)
    if anchor_start is None and anchor_end is None:
        doc = documents.doc_from_updates(storage.note_state_load(note_id=note.pk).updates)
        anchors = anchors_for_quote(doc, quote, occurrence)
        if anchors is None:
            raise ChatRefused("That text is not in the note (or not that many times).")
        anchor_start, anchor_end = anchors
    elif not (anchor_valid(anchor_start) and anchor_valid(anchor_end)):
        raise ChatRefused("The passage's anchors are not Yjs relative positions.")
    talk_throttle(user)
    thread = CommentThread.objects.create(
        note=note, author=user, quote=quote, anchor_start=anchor_start, anchor_end=anchor_end
    )
    Comment.objects.create(thread=thread, author=user, text=text)
    notify(note=note, actor=user, text=text, thread=thread)
    _announce(thread)
    return thread


@transaction.atomic
def comment_reply(*, thread: CommentThread, user, text: str) -> Comment:
    _may_comment(note=thread.note, user=user)
    text = message_text_clean(text)
    talk_throttle(user)
    before = set(thread.comments.exclude(author=None).values_list("author_id", flat=True))
    comment = Comment.objects.create(thread=thread, author=user, text=text)
    notify(note=thread.note, actor=user, text=text, thread=thread, participants=before)
    _announce(thread)
    return comment


@transaction.atomic
def thread_resolve(*, thread: CommentThread, user, resolved: bool) -> CommentThread:
    _may_comment(note=thread.note, user=user)
    if resolved and thread.resolved_at is None:
        thread.resolved_at, thread.resolved_by = timezone.now(), user
    elif not resolved:
        thread.resolved_at, thread.resolved_by = None, None
    thread.save(update_fields=["resolved_at", "resolved_by"])
    _announce(thread)
    return thread


@transaction.atomic
def thread_delete(*, thread: CommentThread, user) -> None:
    role = _may_comment(note=thread.note, user=user)
    if thread.author_id != user.pk and role < Role.OWNER:
        raise ChatRefused("Only its author or the note's owner can delete a thread.", status=403)
    _announce(thread)  # runs after commit: finds the thread gone
    thread.delete()


@transaction.atomic
def comment_delete(*, comment: Comment, user) -> None:
    """Delete one reply; deleting a thread's first comment deletes the thread."""
    thread = comment.thread
    role = _may_comment(note=thread.note, user=user)
    if comment.author_id != user.pk and role < Role.OWNER:
        raise ChatRefused("Only its author or the note's owner can delete a comment.", status=403)
    if thread.comments.order_by("id").first() == comment:
        _announce(thread)
        thread.delete()
        return
    comment.delete()
    _announce(thread)


def _threads():
    return CommentThread.objects.select_related("author", "resolved_by").prefetch_related(
        "comments__author"
    )


def threads_of(*, note_id) -> list[CommentThread]:
    """A note's threads, oldest first, with their comments."""
    return list(_threads().filter(note_id=note_id))


def threads_of_ids(*, ids) -> list[CommentThread]:
    return list(_threads().filter(pk__in=ids))


def threads_markdown(*, threads: list[CommentThread]) -> str:
    """The threads as a Markdown section for an export ("" without threads)."""
    if not threads:
        return ""
    lines = ["", "", "---", "", "## Comments", ""]
    for thread in threads:
        state = " (resolved)" if thread.resolved_at else ""
        quote = " ".join(thread.quote.split())
        lines += [f"> {quote}{state}", ""]
        for comment in thread.comments.all():
            who = _author(comment.author)["name"]
            when = comment.created_at.strftime("%Y-%m-%d %H:%M")
            body = comment.text.replace("\n", "\n  ")
            lines.append(f"- **{who}**, {when}: {body}")
        lines.append("")
    return "\n".join(lines)

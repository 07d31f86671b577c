"""
A note's history: named versions, automatic checkpoints (prepared outside any transaction,
recorded in a short one), thinning of old checkpoints, and restoring an old revision as a
forward edit.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from pycrdt import Doc

from notes import documents, history
from notes.models import TITLE_MAX_LENGTH, Note, NoteRevision, NoteUpdate
from notes.services import editing, storage


def _revision_record(*, doc: Doc, **kwargs) -> NoteRevision | None:
    """Record `doc`, the note's durable document up to log id `through`, as a revision (see
    _revision_write)."""
    return _revision_write(
        text=documents.doc_text(doc), doc_title=documents.doc_title(doc), **kwargs
    )


def _revision_write(
    *,
    note_id,
    text: str,
    doc_title: str | None,
    through: int,
    kind: str,
    name: str = "",
    user=None,
    contributors=None,
    read_at=None,
) -> NoteRevision | None:
    """Record the note's text and document title, as of log id `through`, as a revision.

    Runs inside the caller's transaction, with the note row locked. The contributors are the
    authors of log entries since the previous revision, unless given. An automatic checkpoint
    of an empty new note, or of the same state as the newest revision, is skipped (None).
    `read_at` is when the state was read, if before now: edits since then still count as
    changes after this checkpoint.
    """
    note = Note.objects.only("pk", "title", "checkpoint_through", "pending_contributors").get(
        pk=note_id
    )
    title = doc_title or note.title
    now = timezone.now()
    checkpointed_at = read_at or now
    if kind == NoteRevision.Kind.AUTO:
        latest = NoteRevision.objects.filter(note_id=note_id).first()
        unchanged = (latest is not None and latest.title == title and latest.text == text) or (
            latest is None and not text
        )
        if unchanged:
            Note.objects.filter(pk=note_id).update(checkpointed_at=checkpointed_at)
            return None
    if contributors is None:
        contributors = set(note.pending_contributors or ()) | set(
            NoteUpdate.objects.filter(
                note_id=note_id,
                id__gt=note.checkpoint_through,
                id__lte=through,
                author__isnull=False,
            )
            .values_list("author_id", flat=True)
            .distinct()
        )
    revision = NoteRevision.objects.create(
        note_id=note_id,
        kind=kind,
        name=name.strip()[:TITLE_MAX_LENGTH],
        title=title,
        text_compressed=NoteRevision.compress(text),
        size=len(text.encode("utf-8")),
        log_through=through,
        created_by=user if user is not None and user.is_authenticated else None,
        created_at=now,
    )
    if contributors:
        revision.contributors.set(
            get_user_model().objects.filter(pk__in=contributors).values_list("pk", flat=True)
        )
    Note.objects.filter(pk=note_id).update(
        checkpointed_at=checkpointed_at,
        checkpoint_through=max(through, note.checkpoint_through),
        pending_contributors=[],
    )
    return revision


def revision_take(*, note_id, kind: str, name: str = "", user=None) -> NoteRevision | None:
    """Lock the note and record its current durable state as a revision."""
    doc, through = editing.note_lock_and_load(note_id=note_id)
    return _revision_record(
        note_id=note_id, doc=doc, through=through, kind=kind, name=name, user=user
    )


def revision_save(*, note: Note, name: str, user) -> NoteRevision:
    """A named version, taken now ("Save version")."""
    with transaction.atomic():
        return revision_take(
            note_id=note.pk, kind=NoteRevision.Kind.MANUAL, name=name or "", user=user
        )


@dataclass(frozen=True)
class CheckpointDraft:
    """What an automatic checkpoint of a note will record, read outside any transaction."""

    note_id: object
    text: str
    doc_title: str | None
    through: int  # the highest log id the text includes
    read_at: datetime


def revision_checkpoint_prepare(*, note_id) -> CheckpointDraft | None:
    """Read the note's durable text for a checkpoint; None if nothing changed since the last.

    The slow part, loading the document, takes no transaction and no lock: on SQLite any write
    transaction holds the database's write lock, and every keystroke's commit in the process
    would wait behind it.
    """
    fields = ("pk", "updated_at", "checkpointed_at")
    if not _changed_since_checkpoint(Note.objects.only(*fields).filter(pk=note_id).first()):
        return None  # nothing to record: do not load the document at all
    read_at = timezone.now()  # before the read: an edit after it makes the note changed again
    stored = storage.note_state_load(note_id=note_id)
    doc = documents.doc_from_updates(stored.updates)
    return CheckpointDraft(
        note_id, documents.doc_text(doc), documents.doc_title(doc), stored.through, read_at
    )


def revision_checkpoint_record(*, draft: CheckpointDraft) -> NoteRevision | None:
    """Record a prepared checkpoint in one short transaction, with the note row locked.

    The revision is the note as it was read, up to `draft.through`. Edits committed since then
    leave the note changed after this checkpoint, so the next one takes them. A checkpoint
    another process recorded meanwhile wins.
    """
    with transaction.atomic():
        note = (
            Note.objects.select_for_update()
            .only("pk", "checkpointed_at", "checkpoint_through")
            .filter(pk=draft.note_id)
            .first()
        )
        if note is None:
            return None  # deleted meanwhile
        if (note.checkpointed_at and note.checkpointed_at >= draft.read_at) or (
            note.checkpoint_through > draft.through
        ):
            return None  # a newer revision exists already
        revision = _revision_write(
            note_id=draft.note_id,
            text=draft.text,
            doc_title=draft.doc_title,
            through=draft.through,
            kind=NoteRevision.Kind.AUTO,
            read_at=draft.read_at,
        )
        if revision is not None:
            revisions_thin(note_id=draft.note_id)
    return revision


def _changed_since_checkpoint(note: Note | None) -> bool:
    return note is not None and not (
        note.checkpointed_at and note.updated_at <= note.checkpointed_at
    )


def revisions_checkpoint_due(*, now=None) -> int:
    """Checkpoint every note whose editing paused for NOTES_CHECKPOINT_IDLE seconds, or that
    has been edited for NOTES_CHECKPOINT_MAX_INTERVAL seconds since its last checkpoint.
    Every process may run this: the note row lock makes concurrent runs take one checkpoint.
    Returns how many revisions were taken. All on this thread; the hub runs the same two steps
    per note on a read thread and on its persist thread (realtime.upkeep.Checkpoints)."""
    taken = 0
    for note_id in notes_due_for_checkpoint(now=now):
        draft = revision_checkpoint_prepare(note_id=note_id)
        taken += draft is not None and revision_checkpoint_record(draft=draft) is not None
    return taken


def notes_due_for_checkpoint(*, now=None) -> list:
    """The notes whose editing paused for NOTES_CHECKPOINT_IDLE seconds, or that have changed
    for NOTES_CHECKPOINT_MAX_INTERVAL seconds since their last checkpoint.

    A note never checkpointed counts only once its document has been edited (a log entry, or
    a snapshot compaction folded them into). A new note's updated_at is a few microseconds
    after its created_at, so every note nobody had typed in came due a minute after it was
    made: a note created in bulk (500 by the benchmark's setup) cost a read, a document load
    and a write transaction each, all at once, and live typing in the process slowed while
    they ran (typing-20 p99 10.7 against 5.8-8.8 ms, the server's CPU 31% against 13-14%).
    """
    now = now or timezone.now()
    idle = timedelta(seconds=settings.NOTES_CHECKPOINT_IDLE)
    longest = timedelta(seconds=settings.NOTES_CHECKPOINT_MAX_INTERVAL)
    edited = Exists(NoteUpdate.objects.filter(note_id=OuterRef("pk")))
    return list(
        Note.objects.annotate(since=Coalesce("checkpointed_at", "created_at"))
        .filter(updated_at__gt=F("since"))
        .filter(Q(updated_at__lte=now - idle) | Q(since__lte=now - longest))
        .filter(Q(checkpointed_at__isnull=False) | Q(snapshot_through__gt=0) | edited)
        .values_list("pk", flat=True)
    )


def revisions_thin(*, note_id, now=None) -> int:
    """Delete the automatic checkpoints the thinning policy no longer keeps."""
    stamps = [
        history.RevisionStamp(id=pk, automatic=kind == NoteRevision.Kind.AUTO, created_at=at)
        for pk, kind, at in NoteRevision.objects.filter(note_id=note_id).values_list(
            "pk", "kind", "created_at"
        )
    ]
    drop = history.revisions_to_drop(stamps, now=now or timezone.now())
    if drop:
        NoteRevision.objects.filter(pk__in=drop).delete()
    return len(drop)


def revision_restore(*, note: Note, revision: NoteRevision, user) -> NoteRevision:
    """Bring back an old revision as a forward edit by `user`.

    The difference between the current text and the revision is applied as one new CRDT
    change, so live editors receive it like any edit and whatever they type concurrently
    merges in. The state before and after are both kept as revisions.
    """
    text, title = revision.text, revision.title

    def restore(doc: Doc) -> None:
        documents.text_set(doc, text)
        if documents.doc_title(doc) != title:
            documents.title_set(doc, title)

    with transaction.atomic():
        doc, through = editing.note_lock_and_load(note_id=note.pk)
        # Before and after are exactly the state the restore saw and that state with it.
        _revision_record(
            note_id=note.pk,
            doc=doc,
            through=through,
            kind=NoteRevision.Kind.BEFORE_RESTORE,
            user=user,
        )
        editing.note_edit_commit(note_id=note.pk, doc=doc, edit=restore, author=user)
        when = timezone.localtime(revision.created_at).strftime("%Y-%m-%d %H:%M")
        after = _revision_record(
            note_id=note.pk,
            doc=doc,
            through=through,
            kind=NoteRevision.Kind.RESTORE,
            name=f"Restored the version of {when}",
            user=user,
            contributors={user.pk},
        )
    note.refresh_from_db(fields=["title", "content_text", "preview", "updated_at"])
    return after

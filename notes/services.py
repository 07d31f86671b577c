"""
Writes: every change to a note goes through a function here, named <entity>_<action>.

Services take keyword-only arguments and do their work in a transaction. They never check
permissions: callers validate first (notes.permissions), then act. Anything other people must
see is broadcast by notes.broadcast, after the transaction commits.

Durable CRDT state has a narrow interface: load (`note_state_load`), append
(`note_updates_append`), catch up (`note_updates_since`) and compact (`note_compact`, or its
two halves `note_compact_prepare` and `note_compact_record`).
"""

import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from pycrdt import Doc

from notes import broadcast, documents, history, selectors
from notes.markdown_files import MarkdownFile
from notes.models import (
    PREVIEW_LENGTH,
    TITLE_MAX_LENGTH,
    ApiToken,
    Membership,
    Note,
    NoteRevision,
    NoteUpdate,
    ShareLink,
)


class NoteTooLarge(ValueError):
    """The edit would make the note larger than NOTES_MAX_NOTE_BYTES."""


@dataclass(frozen=True)
class StoredState:
    """What the database holds for a note: updates to apply in order, and the last log id."""

    updates: list[bytes]
    through: int


@dataclass(frozen=True)
class Append:
    """One update to append to a note's log."""

    note_id: object
    data: bytes
    author_id: int | None


def _clean_title(title: str) -> str:
    return (title.strip() or "Untitled")[:TITLE_MAX_LENGTH]


def note_create(*, owner, title: str = "Untitled") -> Note:
    """Create an empty note owned by `owner`."""
    with transaction.atomic():
        note = Note.objects.create(owner=owner, title=_clean_title(title))
        note_id = note.pk
        transaction.on_commit(lambda: note_listing_announce(note_id=note_id, user_ids=[owner.pk]))
    return note


def note_listing_announce(*, note_id, user_ids) -> None:
    """Update these users' live notes lists: the note as it is now, or gone for those who
    cannot see it (any more). Called after commit."""
    listing = selectors.note_listing(note_id=note_id)
    audience = set(selectors.note_audience(note_id=note_id))
    seeing = [u for u in user_ids if u in audience]
    gone = [u for u in user_ids if u not in audience]
    if listing is not None and seeing:
        broadcast.user_notes(user_ids=seeing, event={"kind": "note", "note": listing})
    if gone:
        broadcast.user_notes(user_ids=gone, event={"kind": "removed", "id": str(note_id)})


def note_delete(*, note: Note) -> None:
    """Delete the note, its update log and everything else that hangs on it."""
    note_id = note.pk
    with transaction.atomic():
        audience = selectors.note_audience(note_id=note_id)
        note.delete()
        transaction.on_commit(lambda: broadcast.note_deleted(note_id=note_id))
        transaction.on_commit(
            lambda: broadcast.user_notes(
                user_ids=audience, event={"kind": "removed", "id": str(note_id)}
            )
        )


def note_state_load(*, note_id) -> StoredState:
    """Everything stored for a note: its snapshot, then its log in id order.

    No transaction: the log is read before the snapshot, so a compaction that commits in
    between (folding rows into the snapshot and deleting them) leaves those rows in both,
    which is harmless, and never in neither. On SQLite a transaction would also take the write
    lock (BEGIN IMMEDIATE) and make the persister wait behind a read.
    """
    rows = list(NoteUpdate.objects.filter(note_id=note_id).order_by("id").values_list("id", "data"))
    snapshot, snapshot_through = Note.objects.filter(pk=note_id).values_list(
        "crdt_snapshot", "snapshot_through"
    ).first() or (None, 0)
    updates = [bytes(snapshot)] if snapshot else []
    updates.extend(bytes(data) for _, data in rows)
    return StoredState(updates=updates, through=max([snapshot_through, *(r[0] for r in rows)]))


def note_current_text(*, note_id) -> str:
    """The note's markdown as stored now (the durable document, not the search mirror)."""
    return documents.doc_text(documents.doc_from_updates(note_state_load(note_id=note_id).updates))


def note_updates_since(*, note_id, after: int) -> StoredState:
    """Log entries after id `after`, led by the snapshot if compaction has folded in newer ones.

    Used by processes catching up on fan-out messages they may have missed. Applying an update
    twice is harmless, so callers may pass a cautious `after`. No transaction, for the reasons
    in note_state_load: the log is read first, and a snapshot read later only holds more.
    """
    # Every open note runs this every few seconds on the hub's read threads, where the ORM's
    # query building held the interpreter lock the event loop needs: plain SQL, as for appends.
    note_pk = Note._meta.pk.get_db_prep_value(note_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(_UPDATES_SINCE_SQL, [note_pk, after])
        rows = cursor.fetchall()
        cursor.execute(_SNAPSHOT_THROUGH_SQL, [note_pk])
        found = cursor.fetchone()
    if found is None:
        return StoredState(updates=[], through=after)
    snapshot_through = found[0]
    updates: list[bytes] = []
    if snapshot_through > after:
        snapshot = Note.objects.filter(pk=note_id).values_list("crdt_snapshot", flat=True).first()
        if snapshot:
            updates.append(bytes(snapshot))
    updates.extend(bytes(data) for _, data in rows)
    return StoredState(
        updates=updates, through=max([after, snapshot_through, *(r[0] for r in rows)])
    )


_UPDATES_SINCE_SQL = (
    f"SELECT id, data FROM {NoteUpdate._meta.db_table}"
    f" WHERE {NoteUpdate._meta.get_field('note').column} = %s AND id > %s ORDER BY id"
)
_SNAPSHOT_THROUGH_SQL = (
    f"SELECT snapshot_through FROM {Note._meta.db_table} WHERE {Note._meta.pk.column} = %s"
)


def note_updates_append(*, entries: Sequence[Append]) -> int:
    """Append updates, possibly for many notes, in one committed transaction.

    This is the hot path of every keystroke, so it is one plain INSERT per row rather than the
    ORM's object machinery. Entries for notes deleted while the edit was in flight are
    skipped. Returns how many rows were written.
    """
    if not entries:
        return 0
    try:
        return _insert_updates(entries)
    except IntegrityError:
        # A note was deleted in flight: keep the entries whose note still exists.
        existing = set(
            Note.objects.filter(pk__in={e.note_id for e in entries}).values_list("pk", flat=True)
        )
        return _insert_updates([e for e in entries if e.note_id in existing])


def _insert_updates(entries: Sequence[Append]) -> int:
    if not entries:
        return 0
    rows = note_update_rows(entries=entries, db=connection)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(INSERT_UPDATE_SQL, rows)
    return len(rows)


def note_update_rows(*, entries: Sequence[Append], db) -> list[tuple]:
    """The INSERT_UPDATE_SQL parameters of each entry, as database `db` stores them (pure: it
    reads only `db`'s settings, never its connection)."""
    note_field = NoteUpdate._meta.get_field("note")
    created = db.ops.adapt_datetimefield_value(timezone.now())
    return [
        (note_field.get_db_prep_value(e.note_id, db), e.data, e.author_id, created) for e in entries
    ]


# One log row (notes.journal runs it too, with the driver's own placeholders).
INSERT_UPDATE_SQL = (
    f"INSERT INTO {NoteUpdate._meta.db_table} (note_id, data, author_id, created_at)"
    " VALUES (%s, %s, %s, %s)"
)


def note_text_refresh(*, note_id, text: str, title: str | None = None) -> None:
    """Mirror the document's text (and title, if the document has one) for search and lists."""
    notes_text_refresh(mirrors=[TextMirror(note_id, text, title)])


@dataclass(frozen=True)
class TextMirror:
    """A note's text and title as its live document has them now."""

    note_id: object
    text: str
    title: str | None


def notes_text_refresh(*, mirrors: Sequence[TextMirror]) -> None:
    """Refresh the text mirrors of many notes in one transaction (one commit, not one each).

    The hub refreshes every busy note each second on the persist thread, where keystrokes wait
    behind it: so one prepared UPDATE run for all rows (with the title, and without it for
    documents that have none) rather than the ORM's per-row query building, about ten times
    faster.
    """
    if not mirrors:
        return
    updated_at = connection.ops.adapt_datetimefield_value(timezone.now())
    pk_field = Note._meta.pk
    with_title, without_title = [], []
    for mirror in mirrors:
        row = [mirror.text, " ".join(mirror.text.split())[:PREVIEW_LENGTH], updated_at]
        if mirror.title is not None:
            row.append(_clean_title(mirror.title))
        row.append(pk_field.get_db_prep_value(mirror.note_id, connection))
        (with_title if mirror.title is not None else without_title).append(row)
    with transaction.atomic(), connection.cursor() as cursor:
        if with_title:
            cursor.executemany(_MIRROR_SQL.format(title=", title = %s"), with_title)
        if without_title:
            cursor.executemany(_MIRROR_SQL.format(title=""), without_title)


_MIRROR_SQL = (
    f"UPDATE {Note._meta.db_table} SET content_text = %s, preview = %s, updated_at = %s{{title}}"
    f" WHERE {Note._meta.pk.column} = %s"
)


def note_compact(*, note_id) -> int:
    """Fold the note's log into its snapshot; return how many log entries were folded (0 if
    the log was empty or another compaction got there first)."""
    draft = note_compact_prepare(note_id=note_id)
    return 0 if draft is None else note_compact_record(draft=draft)


@dataclass(frozen=True)
class CompactionDraft:
    """A note's snapshot with its log folded in, made outside any transaction."""

    note_id: object
    snapshot: bytes
    # The snapshot_through the fold started from; the record is refused if it moved.
    base_through: int
    rows: tuple[tuple[int, int | None], ...]  # (log id, author id) of each folded entry


def note_compact_prepare(*, note_id) -> CompactionDraft | None:
    """Read the note's log and snapshot and fold them; None if there is nothing to fold.

    Folding takes milliseconds for a small note and far longer for a large one. It takes no
    transaction and no lock: on SQLite any write transaction holds the database's write lock,
    and every keystroke commit in the process waited behind the fold (15 to 25 ms each time a
    typed-in note reached NOTES_COMPACT_EVERY entries).
    """
    # The log first, then the snapshot, as loads read them: a compaction recorded between the
    # two leaves its rows in both, which is harmless, and never in neither.
    rows = list(
        NoteUpdate.objects.filter(note_id=note_id)
        .order_by("id")
        .values_list("id", "data", "author_id")
    )
    if not rows:
        return None
    found = Note.objects.filter(pk=note_id).values_list("crdt_snapshot", "snapshot_through").first()
    if found is None:
        return None
    snapshot, base_through = found
    doc = documents.doc_from_updates(
        [bytes(snapshot or b""), *(bytes(data) for _, data, _ in rows)]
    )
    return CompactionDraft(
        note_id=note_id,
        snapshot=documents.doc_encode(doc),
        base_through=base_through,
        rows=tuple((row_id, author) for row_id, _, author in rows),
    )


def note_compact_record(*, draft: CompactionDraft) -> int:
    """Store a prepared fold in one short transaction, the note row locked; return how many
    log entries it folded.

    Only the entries that were read are deleted, by id, so an update appended meanwhile stays
    in the log for the next load or compaction. If another compaction recorded after the
    snapshot was read (the snapshot moved on), this fold is dropped: it lacks what that one
    folded.
    """
    with transaction.atomic():
        note = (
            Note.objects.select_for_update()
            .only("pk", "snapshot_through", "checkpoint_through", "pending_contributors")
            .filter(pk=draft.note_id)
            .first()
        )
        if note is None or note.snapshot_through != draft.base_through:
            return 0
        note.crdt_snapshot = draft.snapshot
        note.snapshot_through = max(note.snapshot_through, draft.rows[-1][0])
        # The log entries go, but who wrote them since the last revision is kept for the next.
        note.pending_contributors = sorted(
            set(note.pending_contributors or ())
            | {
                author
                for row_id, author in draft.rows
                if author and row_id > note.checkpoint_through
            }
        )
        note.save(update_fields=["crdt_snapshot", "snapshot_through", "pending_contributors"])
        NoteUpdate.objects.filter(id__in=[row_id for row_id, _ in draft.rows]).delete()
    return len(draft.rows)


def _note_lock_and_load(note_id) -> tuple[Doc, int]:
    """Lock the note row (server-side edits and revisions of one note go one at a time) and
    load its durable document; also returns the highest log id it includes."""
    note = Note.objects.select_for_update().only("pk", "snapshot_through").get(pk=note_id)
    stored = note_state_load(note_id=note_id)
    return documents.doc_from_updates(stored.updates), max(stored.through, note.snapshot_through)


def _edit_commit(*, note_id, doc: Doc, edit: Callable[[Doc], None], author) -> bytes:
    """Apply `edit` to the locked, loaded `doc`; append its update, refresh the text mirror
    and, after commit, send it to live editors and notes lists."""
    update = documents.edit_update(doc, edit)
    if update == documents.EMPTY_UPDATE:
        return update
    size = len(documents.doc_text(doc).encode("utf-8"))
    if size > settings.NOTES_MAX_NOTE_BYTES:
        raise NoteTooLarge(
            f"The note would be {size:,} bytes; the limit is "
            f"{settings.NOTES_MAX_NOTE_BYTES:,} bytes."
        )
    author_id = author.pk if author is not None and author.is_authenticated else None
    note_updates_append(entries=[Append(note_id=note_id, data=update, author_id=author_id)])
    note_text_refresh(note_id=note_id, text=documents.doc_text(doc), title=documents.doc_title(doc))
    transaction.on_commit(lambda: broadcast.note_update_external(note_id=note_id, update=update))
    transaction.on_commit(
        lambda: note_listing_announce(
            note_id=note_id, user_ids=selectors.note_audience(note_id=note_id)
        )
    )
    return update


def note_edit_apply(*, note: Note, edit: Callable[[Doc], None], author) -> bytes:
    """Apply a server-side edit (admin, HTTP API, rename, import) as a CRDT change.

    The edit runs against the stored document, its update is appended to the log like any
    client's, and live editors receive it after commit. Returns the update (EMPTY_UPDATE if
    the edit changed nothing).
    """
    with transaction.atomic():
        doc, _ = _note_lock_and_load(note.pk)
        update = _edit_commit(note_id=note.pk, doc=doc, edit=edit, author=author)
    note.refresh_from_db(fields=["title", "content_text", "preview", "updated_at"])
    return update


def note_text_replace(*, note: Note, text: str, author) -> bytes:
    """Make the note's content `text`, as a minimal diff against what it holds now."""
    return note_edit_apply(note=note, edit=lambda doc: documents.text_set(doc, text), author=author)


def note_text_append(*, note: Note, text: str, author) -> bytes:
    return note_edit_apply(
        note=note, edit=lambda doc: documents.text_append(doc, text), author=author
    )


def note_rename(*, note: Note, title: str, author=None) -> Note:
    """Give the note a new title; open editors see it at once."""
    title = _clean_title(title)
    note_edit_apply(note=note, edit=lambda doc: documents.title_set(doc, title), author=author)
    return note


# --- sharing -------------------------------------------------------------------------------


def _access_changed(note_id, *user_ids: int) -> None:
    transaction.on_commit(
        lambda: broadcast.note_access_changed(note_id=note_id, user_ids=list(user_ids))
    )
    transaction.on_commit(lambda: note_listing_announce(note_id=note_id, user_ids=user_ids))


@transaction.atomic
def note_share(*, note: Note, user, role: str) -> Membership | None:
    """Give `user` the role (editor or viewer) on the note, or change it. The owner keeps
    ownership: sharing with the owner does nothing."""
    if user.pk == note.owner_id:
        return None
    membership, _ = Membership.objects.update_or_create(
        note=note, user=user, defaults={"role": role, "via_link": None}
    )
    _access_changed(note.pk, user.pk)
    return membership


@transaction.atomic
def note_unshare(*, note: Note, user) -> None:
    Membership.objects.filter(note=note, user=user).delete()
    _access_changed(note.pk, user.pk)


@transaction.atomic
def note_transfer_ownership(*, note: Note, new_owner) -> Note:
    """Make `new_owner` the owner; the previous owner stays on as an editor."""
    previous = note.owner
    if new_owner.pk == previous.pk:
        return note
    Membership.objects.filter(note=note, user=new_owner).delete()
    note.owner = new_owner
    note.save(update_fields=["owner"])
    Membership.objects.create(note=note, user=previous, role=Membership.Role.EDITOR)
    _access_changed(note.pk, previous.pk, new_owner.pk)
    return note


def share_link_create(*, note: Note, role: str, created_by) -> ShareLink:
    return ShareLink.objects.create(note=note, role=role, created_by=created_by)


@transaction.atomic
def share_link_revoke(*, link: ShareLink) -> None:
    """Revoke the link, and the access of everyone who got in through it alone."""
    link.revoked_at = timezone.now()
    link.save(update_fields=["revoked_at"])
    members = list(Membership.objects.filter(via_link=link).values_list("user_id", flat=True))
    Membership.objects.filter(via_link=link).delete()
    if members:
        _access_changed(link.note_id, *members)


@transaction.atomic
def share_link_accept(*, link: ShareLink, user) -> Note:
    """Opening an active link makes the user a member with the link's role, unless they
    already have that role or a better one."""
    note = link.note
    if user.pk == note.owner_id:
        return note
    current = Membership.objects.filter(note=note, user=user).first()
    if current is not None and (
        current.role == Membership.Role.EDITOR or current.role == link.role
    ):
        return note
    Membership.objects.update_or_create(
        note=note, user=user, defaults={"role": link.role, "via_link": link}
    )
    _access_changed(note.pk, user.pk)
    return note


# --- API tokens ------------------------------------------------------------------------------

API_TOKEN_PREFIX = "cn_"


def _token_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_create(*, user, name: str) -> tuple[ApiToken, str]:
    """Create a token; returns it with its secret, which is shown once and never stored."""
    key = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name.strip()[:100] or "Token", key_hash=_token_hash(key), prefix=key[:10]
    )
    return token, key


def api_token_authenticate(*, key: str):
    """The active user a token belongs to, or None; records when it was last used."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_token_hash(key), user__is_active=True)
        .first()
    )
    if token is None:
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token.user


def api_token_revoke(*, token: ApiToken) -> None:
    token.delete()


# --- history ---------------------------------------------------------------------------------


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


def _revision_take(*, note_id, kind: str, name: str = "", user=None) -> NoteRevision | None:
    """Lock the note and record its current durable state as a revision."""
    doc, through = _note_lock_and_load(note_id)
    return _revision_record(
        note_id=note_id, doc=doc, through=through, kind=kind, name=name, user=user
    )


def revision_save(*, note: Note, name: str, user) -> NoteRevision:
    """A named version, taken now ("Save version")."""
    with transaction.atomic():
        return _revision_take(
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
    stored = note_state_load(note_id=note_id)
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
    per note on a read thread and on its persist thread (Hub._checkpoint_loop)."""
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
        doc, through = _note_lock_and_load(note.pk)
        # Before and after are exactly the state the restore saw and that state with it.
        _revision_record(
            note_id=note.pk,
            doc=doc,
            through=through,
            kind=NoteRevision.Kind.BEFORE_RESTORE,
            user=user,
        )
        _edit_commit(note_id=note.pk, doc=doc, edit=restore, author=user)
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


# --- import ----------------------------------------------------------------------------------


def note_import(*, owner, document: MarkdownFile, source: str) -> Note:
    """Create a note holding an imported Markdown file, its first revision named after where
    it came from. All or nothing: a refused file leaves no empty note behind."""
    with transaction.atomic():
        note = note_create(owner=owner, title=document.title)

        def fill(doc: Doc) -> None:
            documents.text_set(doc, document.text)
            documents.title_set(doc, note.title)

        note_edit_apply(note=note, edit=fill, author=owner)
        _revision_take(
            note_id=note.pk,
            kind=NoteRevision.Kind.MANUAL,
            name=f"Imported from {source}"[:200],
            user=owner,
        )
    return note

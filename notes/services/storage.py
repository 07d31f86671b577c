"""
The durable CRDT state of notes: load (`note_state_load`), append (`note_updates_append`),
catch up (`note_updates_since`) and compact (`note_compact`, or its two halves
`note_compact_prepare` and `note_compact_record`), plus the text mirror kept for search and
lists (`notes_text_refresh`).

The realtime hub calls these on its database threads; server-side edits reach them through
notes.services.editing.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from notes import documents
from notes.models import PREVIEW_LENGTH, TITLE_MAX_LENGTH, Note, NoteUpdate


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


def note_title_clean(title: str) -> str:
    """A title as notes store it: trimmed, never empty, at most TITLE_MAX_LENGTH long."""
    return (title.strip() or "Untitled")[:TITLE_MAX_LENGTH]


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


# One log row (realtime.journal runs it too, with the driver's own placeholders).
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
            row.append(note_title_clean(mirror.title))
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

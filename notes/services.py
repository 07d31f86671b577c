"""
Writes: every change to a note goes through a function here, named <entity>_<action>.

Services take keyword-only arguments and do their work in a transaction. They never check
permissions: callers validate first (notes.permissions), then act. Anything other people must
see is broadcast by notes.broadcast, after the transaction commits.

Durable CRDT state has a narrow interface: load (`note_state_load`), append
(`note_updates_append`), catch up (`note_updates_since`) and compact (`note_compact`).
"""

import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from pycrdt import Doc

from notes import broadcast, documents, selectors
from notes.models import (
    PREVIEW_LENGTH,
    TITLE_MAX_LENGTH,
    ApiToken,
    Membership,
    Note,
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
    """Everything stored for a note: its snapshot, then its log in id order."""
    with transaction.atomic():
        snapshot = Note.objects.filter(pk=note_id).values_list("crdt_snapshot", flat=True).first()
        rows = list(
            NoteUpdate.objects.filter(note_id=note_id).order_by("id").values_list("id", "data")
        )
    updates = [bytes(snapshot)] if snapshot else []
    updates.extend(bytes(data) for _, data in rows)
    return StoredState(updates=updates, through=rows[-1][0] if rows else 0)


def note_current_text(*, note_id) -> str:
    """The note's markdown as stored now (the durable document, not the search mirror)."""
    return documents.doc_text(documents.doc_from_updates(note_state_load(note_id=note_id).updates))


def note_updates_since(*, note_id, after: int) -> StoredState:
    """Log entries after id `after`, led by the snapshot if compaction has folded in newer ones.

    Used by processes catching up on fan-out messages they may have missed. Applying an update
    twice is harmless, so callers may pass a cautious `after`.
    """
    with transaction.atomic():
        snapshot_through = (
            Note.objects.filter(pk=note_id).values_list("snapshot_through", flat=True).first()
        )
        if snapshot_through is None:
            return StoredState(updates=[], through=after)
        updates: list[bytes] = []
        if snapshot_through > after:
            snapshot = Note.objects.filter(pk=note_id).values_list("crdt_snapshot", flat=True)[0]
            updates.append(bytes(snapshot))
        rows = list(
            NoteUpdate.objects.filter(note_id=note_id, id__gt=after)
            .order_by("id")
            .values_list("id", "data")
        )
    updates.extend(bytes(data) for _, data in rows)
    return StoredState(
        updates=updates, through=max([after, snapshot_through, *(r[0] for r in rows)])
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
    note_field = NoteUpdate._meta.get_field("note")
    created = connection.ops.adapt_datetimefield_value(timezone.now())
    rows = [
        (note_field.get_db_prep_value(e.note_id, connection), e.data, e.author_id, created)
        for e in entries
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(_INSERT_UPDATE_SQL, rows)
    return len(rows)


_INSERT_UPDATE_SQL = (
    f"INSERT INTO {NoteUpdate._meta.db_table} (note_id, data, author_id, created_at)"
    " VALUES (%s, %s, %s, %s)"
)


def note_text_refresh(*, note_id, text: str, title: str | None = None) -> None:
    """Mirror the document's text (and title, if the document has one) for search and lists."""
    fields = {
        "content_text": text,
        "preview": " ".join(text.split())[:PREVIEW_LENGTH],
        "updated_at": timezone.now(),
    }
    if title is not None:
        fields["title"] = _clean_title(title)
    Note.objects.filter(pk=note_id).update(**fields)


def note_compact(*, note_id) -> int:
    """Fold the note's log into its snapshot; return how many log entries were folded.

    One transaction, the note row locked so compactions never overlap. Only the rows that were
    read are deleted, by id, so an update appended concurrently is never lost: it stays in the
    log for the next load or compaction.
    """
    with transaction.atomic():
        note = (
            Note.objects.select_for_update()
            .only("pk", "crdt_snapshot", "snapshot_through")
            .filter(pk=note_id)
            .first()
        )
        if note is None:
            return 0
        rows = list(
            NoteUpdate.objects.filter(note_id=note_id).order_by("id").values_list("id", "data")
        )
        if not rows:
            return 0
        doc = documents.doc_from_updates(
            [bytes(note.crdt_snapshot or b""), *(bytes(data) for _, data in rows)]
        )
        note.crdt_snapshot = documents.doc_encode(doc)
        note.snapshot_through = max(note.snapshot_through, rows[-1][0])
        note.save(update_fields=["crdt_snapshot", "snapshot_through"])
        NoteUpdate.objects.filter(id__in=[row_id for row_id, _ in rows]).delete()
    return len(rows)


def note_edit_apply(*, note: Note, edit: Callable[[Doc], None], author) -> bytes:
    """Apply a server-side edit (admin, HTTP API, rename, restore) as a CRDT change.

    The edit runs against the stored document, its update is appended to the log like any
    client's, and live editors receive it after commit. Returns the update (EMPTY_UPDATE if
    the edit changed nothing).
    """
    with transaction.atomic():
        # Lock the note row: server-side edits of one note apply one after the other.
        Note.objects.select_for_update().only("pk").get(pk=note.pk)
        doc = documents.doc_from_updates(note_state_load(note_id=note.pk).updates)
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
        note_updates_append(entries=[Append(note_id=note.pk, data=update, author_id=author_id)])
        note_text_refresh(
            note_id=note.pk, text=documents.doc_text(doc), title=documents.doc_title(doc)
        )
        note_id = note.pk
        transaction.on_commit(
            lambda: broadcast.note_update_external(note_id=note_id, update=update)
        )
        transaction.on_commit(
            lambda: note_listing_announce(
                note_id=note_id, user_ids=selectors.note_audience(note_id=note_id)
            )
        )
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

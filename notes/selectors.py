"""Reads: which notes a user sees, and single-note lookups that respect access."""

from django.db.models import Q, QuerySet

from notes.models import Note
from notes.permissions import Role, note_can_view, note_role


def note_list_visible(*, user, query: str = "", shared_only: bool = False) -> QuerySet[Note]:
    """Notes the user owns or is a member of, most recently changed first, optionally searched
    or limited to the ones shared with the user."""
    shared = Q(memberships__user=user)
    notes = Note.objects.filter(shared if shared_only else Q(owner=user) | shared)
    notes = notes.select_related("owner").distinct()
    query = query.strip()
    if query:
        notes = notes.filter(Q(title__icontains=query) | Q(content_text__icontains=query))
    return notes.order_by("-updated_at")


def note_get_visible(*, user, note_id) -> Note | None:
    """The note if it exists and the user may see it; None otherwise (no existence leak)."""
    note = Note.objects.select_related("owner").filter(pk=note_id).first()
    if note is None or not note_can_view(user=user, note=note):
        return None
    return note


def note_role_of(*, note_id, user) -> Role | None:
    """The user's role on the note, or None if there is no such note."""
    note = Note.objects.only("pk", "owner_id").filter(pk=note_id).first()
    return None if note is None else note_role(user=user, note=note)

"""Reads: which notes a user sees, and single-note lookups that respect access."""

from django.db.models import Q, QuerySet

from notes.models import Note
from notes.permissions import note_can_view


def note_list_visible(*, user, query: str = "") -> QuerySet[Note]:
    """Notes the user may see, most recently changed first, optionally searched."""
    notes = Note.objects.filter(owner=user).select_related("owner")
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

"""The note lookups views start with: the note, if the user may see (or manage, or edit) it."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from notes import selectors
from notes.permissions import note_can_edit, note_can_manage


def visible_note_or_404(request, note_id):
    """The note, if the user may see it; 404 otherwise (never saying whether it exists)."""
    note = selectors.note_get_visible(user=request.user, note_id=note_id)
    if note is None:
        raise Http404("No such note")
    return note


def managed_note_or_404(request, note_id):
    """The note, if the user may manage it (share, delete); 404 otherwise."""
    note = visible_note_or_404(request, note_id)
    if not note_can_manage(user=request.user, note=note):
        raise Http404("No such note")
    return note


def editable_note_or_404(request, note_id):
    """The note, if the user may edit it; 404 if they cannot see it, 403 if they only view."""
    note = visible_note_or_404(request, note_id)
    if not note_can_edit(user=request.user, note=note):
        raise PermissionDenied("Only the note's editors and owner can do that.")
    return note

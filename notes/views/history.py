"""A note's history: its revisions (rendered, as source, or as a diff), saving and restoring."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from notes import history, rendering, selectors
from notes.forms import SaveVersionForm
from notes.permissions import note_can_edit
from notes.services import storage
from notes.services.editing import NoteTooLarge
from notes.services.revisions import revision_restore, revision_save
from notes.views.access import editable_note_or_404, visible_note_or_404

HISTORY_VIEWS = ("rendered", "source", "diff")


@login_required
def note_history(request, note_id):
    """The note's revisions; one of them shown rendered, as source, or against the current."""
    note = visible_note_or_404(request, note_id)
    revisions = list(selectors.note_revisions(note_id=note.pk))
    selected = None
    if revisions:
        wanted = request.GET.get("rev")
        selected = next((r for r in revisions if str(r.pk) == wanted), revisions[0])
    view = request.GET.get("view")
    view = view if view in HISTORY_VIEWS else "diff"
    context = {
        "note": note,
        "revisions": revisions,
        "selected": selected,
        "view": view,
        "can_edit": note_can_edit(user=request.user, note=note),
        "save_form": SaveVersionForm(),
    }
    if selected is not None:
        text = selected.text
        if view == "rendered":
            context["rendered"] = rendering.markdown_to_safe_html(text)
        elif view == "source":
            context["source"] = text
        else:
            current = storage.note_current_text(note_id=note.pk)
            context["diff"] = history.line_diff(text, current)
            context["identical"] = text == current
    return render(request, "notes/history.html", context)


@login_required
@require_POST
def note_version_save(request, note_id):
    note = editable_note_or_404(request, note_id)
    form = SaveVersionForm(request.POST)
    name = form.cleaned_data["name"] if form.is_valid() else ""
    revision = revision_save(note=note, name=name, user=request.user)
    messages.success(request, f"Saved version “{revision.name or 'Unnamed'}”.")
    return redirect(f"{reverse('notes:history', args=[note.pk])}?rev={revision.pk}")


@login_required
@require_POST
def note_revision_restore(request, note_id, revision_id):
    note = editable_note_or_404(request, note_id)
    revision = get_object_or_404(note.revisions, pk=revision_id)
    try:
        revision_restore(note=note, revision=revision, user=request.user)
    except NoteTooLarge as error:
        messages.error(request, f"Could not restore: {error}")
        return redirect(f"{reverse('notes:history', args=[note.pk])}?rev={revision.pk}")
    messages.success(
        request, "Restored. Everyone editing sees it now; the version before is in the history."
    )
    return redirect("notes:detail", note_id=note.pk)

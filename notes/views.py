"""HTTP views: they parse the request, check access, call a service and render. No logic here."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from notes import selectors, services
from notes.forms import RenameForm, SignupForm
from notes.identity import user_identity
from notes.permissions import note_can_edit, note_can_manage


def _visible_note_or_404(request, note_id):
    note = selectors.note_get_visible(user=request.user, note_id=note_id)
    if note is None:
        raise Http404("No such note")
    return note


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("notes:list")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.username}! Create your first note.")
        return redirect("notes:list")
    return render(request, "registration/signup.html", {"form": form})


@login_required
def note_list(request):
    query = request.GET.get("q", "")
    notes = selectors.note_list_visible(user=request.user, query=query)
    return render(request, "notes/list.html", {"notes": notes, "query": query})


@login_required
@require_POST
def note_new(request):
    note = services.note_create(owner=request.user)
    return redirect("notes:detail", note_id=note.pk)


@login_required
def note_detail(request, note_id):
    note = _visible_note_or_404(request, note_id)
    can_edit = note_can_edit(user=request.user, note=note)
    editor_config = {
        "noteId": str(note.pk),
        "wsPath": "/ws/notes",
        "title": note.title,
        "user": user_identity(request.user),
        "canEdit": can_edit,
        "canManage": note_can_manage(user=request.user, note=note),
        "renameUrl": reverse("notes:rename", args=[note.pk]),
        "listUrl": reverse("notes:list"),
    }
    return render(
        request,
        "notes/detail.html",
        {
            "note": note,
            "editor_config": editor_config,
            "rename_form": RenameForm(initial={"title": note.title}),
            "can_edit": can_edit,
            "can_manage": editor_config["canManage"],
        },
    )


@login_required
@require_POST
def note_rename(request, note_id):
    note = _visible_note_or_404(request, note_id)
    if not note_can_edit(user=request.user, note=note):
        raise Http404("No such note")
    form = RenameForm(request.POST)
    if form.is_valid():
        services.note_rename(note=note, title=form.cleaned_data["title"], author=request.user)
        messages.success(request, "Note renamed.")
    else:
        messages.error(request, "A title needs 1 to 200 characters.")
    return redirect("notes:detail", note_id=note.pk)


@login_required
@require_http_methods(["GET", "POST"])
def note_delete(request, note_id):
    note = _visible_note_or_404(request, note_id)
    if not note_can_manage(user=request.user, note=note):
        raise Http404("No such note")
    if request.method == "POST":
        title = note.title
        services.note_delete(note=note)
        messages.success(request, f"Deleted “{title}”.")
        return redirect("notes:list")
    return render(request, "notes/confirm_delete.html", {"note": note})

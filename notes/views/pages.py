"""A note's pages: the notes list, the editor page, new, rename, delete, export and import."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_http_methods, require_POST

from notes import rendering, selectors
from notes.forms import ImportForm, RenameForm
from notes.identity import user_identity
from notes.markdown_files import BadMarkdownFile, export_filename, markdown_file_read
from notes.permissions import note_can_edit, note_can_manage
from notes.services import comments, editing, importing, storage
from notes.views.access import visible_note_or_404


def favicon(request):
    """Browsers ask for /favicon.ico on pages without an icon link (the admin's, for one)."""
    return redirect(static("notes/favicon.svg"), permanent=True)


@login_required
def note_list(request):
    query = request.GET.get("q", "")
    shared_only = request.GET.get("shared") == "1"
    notes = selectors.note_list_visible(user=request.user, query=query, shared_only=shared_only)
    list_config = {
        "wsPath": "/ws/notes/",
        "httpPath": "/http/notes/list",
        "userId": request.user.pk,
        "sharedOnly": shared_only,
        "query": query.strip(),
    }
    return render(
        request,
        "notes/list.html",
        {"notes": notes, "query": query, "shared_only": shared_only, "list_config": list_config},
    )


@login_required
@require_POST
def note_new(request):
    note = editing.note_create(owner=request.user)
    return redirect("notes:detail", note_id=note.pk)


@login_required
def note_detail(request, note_id):
    note = visible_note_or_404(request, note_id)
    can_edit = note_can_edit(user=request.user, note=note)
    editor_config = {
        "noteId": str(note.pk),
        "wsPath": "/ws/notes",
        # The same note over plain HTTP when WebSockets are blocked (docs/protocol.md).
        "httpPath": "/http/notes",
        "csrfToken": get_token(request),
        "title": note.title,
        "user": user_identity(request.user),
        "canEdit": can_edit,
        "canManage": note_can_manage(user=request.user, note=note),
        "renameUrl": reverse("notes:rename", args=[note.pk]),
        "chatUrl": reverse("notes:chat", args=[note.pk]),
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
    note = visible_note_or_404(request, note_id)
    if not note_can_edit(user=request.user, note=note):
        raise Http404("No such note")
    form = RenameForm(request.POST)
    if form.is_valid():
        editing.note_rename(note=note, title=form.cleaned_data["title"], author=request.user)
        messages.success(request, "Note renamed.")
    else:
        messages.error(request, "A title needs 1 to 200 characters.")
    return redirect("notes:detail", note_id=note.pk)


@login_required
@require_http_methods(["GET", "POST"])
def note_delete(request, note_id):
    note = visible_note_or_404(request, note_id)
    if not note_can_manage(user=request.user, note=note):
        raise Http404("No such note")
    if request.method == "POST":
        title = note.title
        editing.note_delete(note=note)
        messages.success(request, f"Deleted “{title}”.")
        return redirect("notes:list")
    return render(request, "notes/confirm_delete.html", {"note": note})


@login_required
def note_export(request, note_id, fmt):
    """Download the note as Markdown, or as a standalone page of sanitised HTML; its comment
    threads only when asked (`?comments=1`), as a section at the end."""
    note = visible_note_or_404(request, note_id)
    text = storage.note_current_text(note_id=note.pk)
    if request.GET.get("comments") == "1":
        text += comments.threads_markdown(threads=comments.threads_of(note_id=note.pk))
    if fmt == "html":
        body = rendering.standalone_html(title=note.title, source=text)
        content_type = "text/html; charset=utf-8"
    else:
        body, content_type = text, "text/markdown; charset=utf-8"
    response = HttpResponse(body.encode("utf-8"), content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=export_filename(note.title, f".{fmt}")
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_POST
def note_import(request):
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a Markdown file to import.")
        return redirect("notes:list")
    upload = form.cleaned_data["file"]
    limit = settings.NOTES_MAX_NOTE_BYTES
    try:
        document = markdown_file_read(
            name=upload.name, data=upload.read(limit + 1), max_bytes=limit, size=upload.size
        )
        note = importing.note_import(owner=request.user, document=document, source=upload.name)
    except (BadMarkdownFile, editing.NoteTooLarge) as error:
        messages.error(request, f"Could not import: {error}")
        return redirect("notes:list")
    messages.success(request, f"Imported “{note.title}”.")
    return redirect("notes:detail", note_id=note.pk)

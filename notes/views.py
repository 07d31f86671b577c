"""HTTP views: they parse the request, check access, call a service and render. No logic here."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_http_methods, require_POST

from notes import broadcast, history, rendering, selectors
from notes.forms import (
    ROLE_CHOICES,
    ImportForm,
    LinkForm,
    RenameForm,
    SaveVersionForm,
    ShareForm,
    SignupForm,
)
from notes.identity import user_identity
from notes.markdown_files import BadMarkdownFile, export_filename, markdown_file_read
from notes.models import ShareLink
from notes.permissions import note_can_edit, note_can_manage
from notes.services import editing, importing, revisions, sharing, storage, tokens


def favicon(request):
    """Browsers ask for /favicon.ico on pages without an icon link (the admin's, for one)."""
    return redirect(static("notes/favicon.svg"), permanent=True)


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
    shared_only = request.GET.get("shared") == "1"
    notes = selectors.note_list_visible(user=request.user, query=query, shared_only=shared_only)
    list_config = {
        "wsPath": "/ws/notes/",
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
        editing.note_rename(note=note, title=form.cleaned_data["title"], author=request.user)
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
        editing.note_delete(note=note)
        messages.success(request, f"Deleted “{title}”.")
        return redirect("notes:list")
    return render(request, "notes/confirm_delete.html", {"note": note})


def _managed_note_or_404(request, note_id):
    note = _visible_note_or_404(request, note_id)
    if not note_can_manage(user=request.user, note=note):
        raise Http404("No such note")
    return note


def _member_or_404(note, user_id):
    """A current member of the note (never the owner), by the user id a form posted."""
    members = get_user_model().objects.filter(is_active=True, note_memberships__note=note)
    return get_object_or_404(members, pk=user_id)


@login_required
@require_http_methods(["GET", "POST"])
def note_share(request, note_id):
    """The owner's sharing page: people, their roles, links, and ownership."""
    note = _managed_note_or_404(request, note_id)
    share_form = ShareForm()
    if request.method == "POST":
        action = request.POST.get("action")
        roles = {value for value, _ in ROLE_CHOICES}
        if action == "add":
            share_form = ShareForm(request.POST)
            if share_form.is_valid():
                person = share_form.cleaned_data["who"]
                if person.pk == note.owner_id:
                    messages.error(request, "You already own this note.")
                else:
                    sharing.note_share(note=note, user=person, role=share_form.cleaned_data["role"])
                    messages.success(request, f"Shared with {person.get_username()}.")
                    return redirect("notes:share", note_id=note.pk)
        elif action == "role" and request.POST.get("role") in roles:
            person = _member_or_404(note, request.POST.get("user"))
            sharing.note_share(note=note, user=person, role=request.POST["role"])
            messages.success(
                request,
                f"{person.get_username()} now {dict(ROLE_CHOICES)[request.POST['role']].lower()}.",
            )
            return redirect("notes:share", note_id=note.pk)
        elif action == "remove":
            person = _member_or_404(note, request.POST.get("user"))
            sharing.note_unshare(note=note, user=person)
            messages.success(request, f"Removed {person.get_username()}.")
            return redirect("notes:share", note_id=note.pk)
        elif action == "transfer":
            person = _member_or_404(note, request.POST.get("user"))
            sharing.note_transfer_ownership(note=note, new_owner=person)
            messages.success(request, f"{person.get_username()} now owns “{note.title}”.")
            return redirect("notes:detail", note_id=note.pk)
        elif action == "link":
            form = LinkForm(request.POST)
            if form.is_valid():
                sharing.share_link_create(
                    note=note, role=form.cleaned_data["role"], created_by=request.user
                )
                messages.success(
                    request, "Link created. Anyone logged in who opens it gets that access."
                )
                return redirect("notes:share", note_id=note.pk)
        elif action == "revoke":
            link = get_object_or_404(note.share_links, pk=request.POST.get("link"), revoked_at=None)
            sharing.share_link_revoke(link=link)
            messages.success(request, "Link revoked; people who joined through it lost access.")
            return redirect("notes:share", note_id=note.pk)
        else:
            messages.error(request, "That did not work; please try again.")
    members = note.memberships.select_related("user").order_by("user__username")
    links = note.share_links.filter(revoked_at=None).order_by("-created_at")
    return render(
        request,
        "notes/share.html",
        {
            "note": note,
            "members": members,
            "links": links,
            "share_form": share_form,
            "role_choices": ROLE_CHOICES,
            "link_base": request.build_absolute_uri("/s/"),
        },
    )


@login_required
def share_link_open(request, token):
    """Someone opened a share link: give them its access, then show the note."""
    link = ShareLink.objects.select_related("note").filter(token=token, revoked_at=None).first()
    if link is None:
        raise Http404("This link is not valid any more")
    note = sharing.share_link_accept(link=link, user=request.user)
    return redirect("notes:detail", note_id=note.pk)


class LogoutView(auth_views.LogoutView):
    """Log out, and close every note socket this session had open."""

    def post(self, request, *args, **kwargs):
        session_key = request.session.session_key
        response = super().post(request, *args, **kwargs)
        if session_key:
            broadcast.session_ended(session_key=session_key)
        return response


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request):
    """Create and revoke personal API tokens; a new token's secret is shown once."""
    new_key = None
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            token = get_object_or_404(request.user.api_tokens, pk=request.POST.get("token"))
            tokens.api_token_revoke(token=token)
            messages.success(request, f"Revoked “{token.name}”.")
            return redirect("notes:api-tokens")
        _, new_key = tokens.api_token_create(user=request.user, name=request.POST.get("name", ""))
    return render(
        request,
        "notes/api_tokens.html",
        {
            "tokens": request.user.api_tokens.order_by("-created_at"),
            "new_key": new_key,
            "api_base": request.build_absolute_uri("/api/notes/"),
        },
    )


# --- history, export and import ----------------------------------------------------------------

HISTORY_VIEWS = ("rendered", "source", "diff")


@login_required
def note_history(request, note_id):
    """The note's revisions; one of them shown rendered, as source, or against the current."""
    note = _visible_note_or_404(request, note_id)
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


def _editable_note_or_404(request, note_id):
    note = _visible_note_or_404(request, note_id)
    if not note_can_edit(user=request.user, note=note):
        raise PermissionDenied("Only the note's editors and owner can do that.")
    return note


@login_required
@require_POST
def note_version_save(request, note_id):
    note = _editable_note_or_404(request, note_id)
    form = SaveVersionForm(request.POST)
    name = form.cleaned_data["name"] if form.is_valid() else ""
    revision = revisions.revision_save(note=note, name=name, user=request.user)
    messages.success(request, f"Saved version “{revision.name or 'Unnamed'}”.")
    return redirect(f"{reverse('notes:history', args=[note.pk])}?rev={revision.pk}")


@login_required
@require_POST
def note_revision_restore(request, note_id, revision_id):
    note = _editable_note_or_404(request, note_id)
    revision = get_object_or_404(note.revisions, pk=revision_id)
    try:
        revisions.revision_restore(note=note, revision=revision, user=request.user)
    except editing.NoteTooLarge as error:
        messages.error(request, f"Could not restore: {error}")
        return redirect(f"{reverse('notes:history', args=[note.pk])}?rev={revision.pk}")
    messages.success(
        request, "Restored. Everyone editing sees it now; the version before is in the history."
    )
    return redirect("notes:detail", note_id=note.pk)


@login_required
def note_export(request, note_id, fmt):
    """Download the note as Markdown, or as a standalone page of sanitised HTML."""
    note = _visible_note_or_404(request, note_id)
    text = storage.note_current_text(note_id=note.pk)
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

"""Sharing: the owner's page for people, roles, links and ownership; opening a share link."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from notes.forms import ROLE_CHOICES, LinkForm, ShareForm
from notes.models import ShareLink
from notes.services import sharing
from notes.views.access import managed_note_or_404


def _member_or_404(note, user_id):
    """A current member of the note (never the owner), by the user id a form posted."""
    members = get_user_model().objects.filter(is_active=True, note_memberships__note=note)
    return get_object_or_404(members, pk=user_id)


@login_required
@require_http_methods(["GET", "POST"])
def note_share(request, note_id):
    """The owner's sharing page: people, their roles, links, and ownership."""
    note = managed_note_or_404(request, note_id)
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

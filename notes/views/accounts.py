"""Accounts: sign-up, logout, password change and reset, and the API tokens page."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from notes import broadcast
from notes.forms import SignupForm
from notes.services import tokens


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


class PasswordChangeView(auth_views.PasswordChangeView):
    """Change the password; every other login of the user ends, this browser's stays."""

    def form_valid(self, form):
        """Called when the old password was right and the new one is acceptable."""
        # The sockets of this browser were opened with the key the session has now, before
        # update_session_auth_hash gives it a new one.
        keep = self.request.session.session_key
        response = super().form_valid(form)
        user_id = form.user.pk
        transaction.on_commit(
            lambda: broadcast.user_sessions_ended(user_id=user_id, keep_session_key=keep)
        )
        return response


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Set a new password from an emailed link; every login of the user ends."""

    def form_valid(self, form):
        """Called when the link was good and the new password is acceptable."""
        response = super().form_valid(form)
        user_id = form.user.pk
        transaction.on_commit(lambda: broadcast.user_sessions_ended(user_id=user_id))
        return response


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

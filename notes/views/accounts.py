"""Accounts: sign-up, log in and out, password change and reset, and the API tokens page.

Throttling has two stages. A burst is slowed: once LOGIN_FAILURES_PER_MINUTE logins for one
account or from one address failed within a minute of the first (or SIGNUPS_PER_MINUTE sign-ups
came from one address), the next waits for that minute to end. Persisting is refused for a
while: django-axes refuses logins for LOGIN_LOCKOUT_MINUTES after LOGIN_FAILURE_LIMIT failures
(its counts live in the database), and an address with SIGNUPS_PER_HOUR sign-ups waits out the
hour. The minute and hour counts are notes.throttle's, on Django's cache (Redis when REDIS_URL
is set, so every process agrees); reset emails are limited the same way.
"""

import math

from django.conf import settings
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
from notes.throttle import HOUR, MINUTE, throttle_count, throttle_wait, wait_in_words

TOO_MANY_STATUS = 429


def _client_address(request) -> str:
    """The address limits count against: REMOTE_ADDR, which daphne's --proxy-headers sets from
    X-Forwarded-For behind a proxy (docs/deploy.md)."""
    return request.META.get("REMOTE_ADDR") or "unknown"


def _signup_wait(request) -> int:
    address = _client_address(request)
    return max(
        throttle_wait("signup-minute", address, limit=settings.SIGNUPS_PER_MINUTE, window=MINUTE),
        throttle_wait("signup-hour", address, limit=settings.SIGNUPS_PER_HOUR, window=HOUR),
    )


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("notes:list")
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        wait = _signup_wait(request)
        if wait:
            refusal = f"Too many sign-ups from your address. Try again in {wait_in_words(wait)}."
            # Unchecked: the refusal is the one thing to say about this attempt.
            kept = {name: request.POST.get(name, "") for name in ("username", "email")}
            context = {"form": SignupForm(initial=kept), "refusal": refusal}
            return render(request, "registration/signup.html", context, status=TOO_MANY_STATUS)
        address = _client_address(request)
        throttle_count("signup-minute", address, window=MINUTE)
        throttle_count("signup-hour", address, window=HOUR)
        if form.is_valid():
            user = form.save()
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome, {user.username}! Create your first note.")
            return redirect("notes:list")
    return render(request, "registration/signup.html", {"form": form})


class LoginView(auth_views.LoginView):
    """Log in; a burst of failures for one account or from one address must wait a minute."""

    def post(self, request, *args, **kwargs):
        """Called when the login form is sent: refused at once while its sender must wait."""
        wait = self._wait(request)
        if wait:
            refusal = f"Too many failed logins. Try again in {wait_in_words(wait)}."
            return self._refused(refusal)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        """Called when the username and password did not match (or were missing)."""
        for scope, who in self._subjects(self.request):
            throttle_count(scope, who, window=MINUTE)
        return super().form_invalid(form)

    @staticmethod
    def _subjects(request) -> list[tuple[str, str]]:
        subjects = [("login-address", _client_address(request))]
        username = request.POST.get("username", "").strip()
        if username:
            subjects.append(("login-account", username))
        return subjects

    def _wait(self, request) -> int:
        limit = settings.LOGIN_FAILURES_PER_MINUTE
        waits = [
            throttle_wait(s, w, limit=limit, window=MINUTE) for s, w in self._subjects(request)
        ]
        return max(waits)

    def _refused(self, refusal: str):
        username = self.request.POST.get("username", "")
        form = self.get_form_class()(self.request, initial={"username": username})
        context = self.get_context_data(form=form)
        context["refusal"] = refusal
        return self.render_to_response(context, status=TOO_MANY_STATUS)


def login_refused(request, response=None, credentials=None):
    """Called by django-axes (AXES_LOCKOUT_CALLABLE) when a login is refused because the account
    or the address had LOGIN_FAILURE_LIMIT failures: the login page, saying for how long."""
    minutes = wait_in_words(math.ceil(settings.LOGIN_LOCKOUT_MINUTES * 60))
    refusal = (
        "Too many failed logins for this account or from your address. "
        f"Wait {minutes} and try again, or reset your password."
    )
    view = LoginView()
    view.setup(request)
    return view._refused(refusal).render()  # from a middleware: nothing would render it later


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


class PasswordResetView(auth_views.PasswordResetView):
    """Ask for a reset link by email; PASSWORD_RESETS_PER_HOUR from one address, and to one
    email address, so nobody can flood an inbox with them."""

    def form_valid(self, form):
        """Called with a well-formed email address (whether or not an account has it)."""
        limit = settings.PASSWORD_RESETS_PER_HOUR
        subjects = [
            ("reset-address", _client_address(self.request)),
            ("reset-email", form.cleaned_data["email"].strip().lower()),
        ]
        wait = max(throttle_wait(s, w, limit=limit, window=HOUR) for s, w in subjects)
        if wait:
            form.add_error(None, f"Too many reset emails. Try again in {wait_in_words(wait)}.")
            return self.render_to_response(self.get_context_data(form=form), status=TOO_MANY_STATUS)
        for scope, who in subjects:
            throttle_count(scope, who, window=HOUR)
        return super().form_valid(form)


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

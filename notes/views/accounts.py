"""Accounts: sign-up, log in and out, password change and reset, and the API tokens page.

Throttling has two stages. A burst is slowed: once LOGIN_FAILURES_PER_MINUTE logins for one
account or from one address failed within a minute of the first (or SIGNUPS_PER_MINUTE sign-ups
came from one address), the next waits for that minute to end. Persisting is refused for a
while: django-axes refuses logins for LOGIN_LOCKOUT_MINUTES after LOGIN_FAILURE_LIMIT failures
(its counts live in the database), and an address with SIGNUPS_PER_HOUR sign-ups waits out the
hour. The minute and hour counts live in Django's cache, which is Redis when REDIS_URL is set,
so every process agrees.
"""

import hashlib
import math
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import connection, transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from notes import broadcast
from notes.forms import SignupForm
from notes.services import tokens

TOO_MANY_STATUS = 429
MINUTE, HOUR = 60, 3600  # the windows of the counts, in seconds


def _client_address(request) -> str:
    """The address limits count against: REMOTE_ADDR, which daphne's --proxy-headers sets from
    X-Forwarded-For behind a proxy (docs/deploy.md)."""
    return request.META.get("REMOTE_ADDR") or "unknown"


def _window_key(scope: str, who: str, window: int) -> str:
    # Counts belong to the accounts of one database: sites (or test runs) that share a Redis
    # never add to each other's.
    site = str(connection.settings_dict["NAME"])
    digest = hashlib.blake2s(f"{site}\n{who}".encode(), digest_size=12).hexdigest()
    return f"throttle:{scope}:{window}:{digest}"


def _wait_seconds(scope: str, who: str, *, limit: int, window: int) -> int:
    """Seconds until `who` may act again in `scope`: while `limit` events are counted in the
    `window` seconds since the first of them. 0 if `who` may act now, or the limit is 0 (off)."""
    if limit <= 0:
        return 0
    key = _window_key(scope, who, window)
    state = cache.get_many([f"{key}:start", key])
    started, count = state.get(f"{key}:start"), state.get(key, 0)
    remaining = started + window - time.time() if started is not None else 0
    if count < limit or remaining <= 0:
        return 0
    return math.ceil(remaining)


def _count(scope: str, who: str, *, window: int) -> None:
    """Count one event for `who` in `scope`; the window starts with the first event."""
    key = _window_key(scope, who, window)
    cache.add(f"{key}:start", time.time(), timeout=window)
    cache.add(key, 0, timeout=window)
    try:
        cache.incr(key)
    except ValueError:  # the window ended between the two calls
        cache.set(key, 1, timeout=window)


def _in_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minutes"


def _signup_wait(request) -> int:
    address = _client_address(request)
    return max(
        _wait_seconds("signup-minute", address, limit=settings.SIGNUPS_PER_MINUTE, window=MINUTE),
        _wait_seconds("signup-hour", address, limit=settings.SIGNUPS_PER_HOUR, window=HOUR),
    )


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("notes:list")
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        wait = _signup_wait(request)
        if wait:
            refusal = f"Too many sign-ups from your address. Try again in {_in_words(wait)}."
            # Unchecked: the refusal is the one thing to say about this attempt.
            kept = {name: request.POST.get(name, "") for name in ("username", "email")}
            context = {"form": SignupForm(initial=kept), "refusal": refusal}
            return render(request, "registration/signup.html", context, status=TOO_MANY_STATUS)
        address = _client_address(request)
        _count("signup-minute", address, window=MINUTE)
        _count("signup-hour", address, window=HOUR)
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
            refusal = f"Too many failed logins. Try again in {_in_words(wait)}."
            return self._refused(refusal)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        """Called when the username and password did not match (or were missing)."""
        for scope, who in self._subjects(self.request):
            _count(scope, who, window=MINUTE)
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
            _wait_seconds(s, w, limit=limit, window=MINUTE) for s, w in self._subjects(request)
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
    minutes = _in_words(math.ceil(settings.LOGIN_LOCKOUT_MINUTES * 60))
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

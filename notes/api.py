"""
The JSON HTTP API: read a note's markdown, replace it (PUT) or append to it (PATCH).

Edits apply as minimal CRDT diffs to the live document (editing.note_edit_apply), so open
editors follow at once. Authentication: the session (with the CSRF token, like any form) or
`Authorization: Bearer <token>` with a token made on the API tokens page.
"""

import json

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

from notes import selectors
from notes.permissions import Role, note_role
from notes.services import editing, storage, tokens

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
ROLE_NAMES = {Role.VIEWER: "viewer", Role.EDITOR: "editor", Role.OWNER: "owner"}


def api_error(status: int, message: str, **headers) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def authenticate(request):
    """Return (user, None) or (None, an error response)."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return None, api_error(401, "Use the header 'Authorization: Bearer <token>'.")
        user = tokens.api_token_authenticate(key=key.strip())
        if user is None:
            return None, api_error(401, "That API token is not valid (revoked or mistyped).")
        return user, None
    if not request.user.is_authenticated:
        return None, api_error(
            401,
            "Log in, or send an API token: 'Authorization: Bearer <token>'.",
            WWW_Authenticate="Bearer",
        )
    if request.method not in SAFE_METHODS:
        # Session requests carry cookies, so they need the CSRF token like any form.
        refused = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
        if refused is not None:
            return None, api_error(403, "CSRF check failed: send the X-CSRFToken header.")
    return request.user, None


def _note_json(note, role: Role) -> dict:
    return {
        "id": str(note.pk),
        "title": note.title,
        "markdown": storage.note_current_text(note_id=note.pk),
        "updated": note.updated_at.isoformat(),
        "role": ROLE_NAMES.get(role, "none"),
    }


def _markdown_from_body(request):
    """Return (markdown, None) or (None, an error response)."""
    if request.content_type != "application/json":
        return None, api_error(415, "Send JSON with 'Content-Type: application/json'.")
    try:
        body = json.loads(request.body.decode("utf-8"))
    except RequestDataTooBig:
        return None, api_error(413, "The request body is too large.")
    except UnicodeDecodeError:
        return None, api_error(400, "The body is not UTF-8.")
    except json.JSONDecodeError as exc:
        return None, api_error(400, f"The body is not valid JSON: {exc.msg} at line {exc.lineno}.")
    if not isinstance(body, dict) or not isinstance(body.get("markdown"), str):
        return None, api_error(400, 'Send an object like {"markdown": "# Title\\n..."}.')
    return body["markdown"], None


@csrf_exempt  # enforced in authenticate for session requests; tokens carry no cookies
def note_api(request, note_id):
    """GET, PUT (replace the markdown) or PATCH (append to it) one note."""
    if request.method not in ("GET", "PUT", "PATCH"):
        return api_error(405, f"{request.method} is not supported here.", Allow="GET, PUT, PATCH")
    user, refused = authenticate(request)
    if refused is not None:
        return refused
    note = selectors.note_get_visible(user=user, note_id=note_id)
    if note is None:
        return api_error(404, "No such note (or you have no access to it).")
    role = note_role(user=user, note=note)
    if request.method == "GET":
        return JsonResponse(_note_json(note, role))
    if role < Role.EDITOR:
        return api_error(403, "You may read this note but not change it.")
    markdown, refused = _markdown_from_body(request)
    if refused is not None:
        return refused
    try:
        if request.method == "PUT":
            editing.note_text_replace(note=note, text=markdown, author=user)
        else:
            editing.note_text_append(note=note, text=markdown, author=user)
    except editing.NoteTooLarge as exc:
        return api_error(413, str(exc))
    note.refresh_from_db()
    return JsonResponse(_note_json(note, role))

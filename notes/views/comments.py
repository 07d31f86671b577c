"""
Comment threads over the HTTP API, the same for the editor (session and CSRF token) and for
scripts (`Authorization: Bearer <token>`), with the same roles (notes.api.authenticate):

    GET    /api/notes/<id>/comments/[?status=open|resolved]   {"threads": [...]}
    POST   /api/notes/<id>/comments/        {"text", "quote", "anchor"?: {"start", "end"},
                                             "occurrence"?}                   201 thread
    GET    /api/notes/<id>/comments/<t>/                                      thread
    POST   /api/notes/<id>/comments/<t>/    {"text"}: a reply                 201 thread
    PATCH  /api/notes/<id>/comments/<t>/    {"resolved": true | false}        thread
    DELETE /api/notes/<id>/comments/<t>/                                      {"deleted": t}
    DELETE /api/notes/<id>/comments/<t>/<c>/  one reply                      thread

Anchors are base64 Yjs relative positions; without them the thread anchors to the quote's
`occurrence`-th (1st) appearance in the note now.
"""

import base64
import binascii
import json

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from notes import selectors
from notes.api import api_error, authenticate
from notes.models import Comment, CommentThread
from notes.services import comments
from notes.services.chat import ChatRefused


def _body(request) -> dict | None:
    if request.content_type != "application/json":
        return None
    try:
        body = json.loads(request.body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _note(request, note_id):
    """(user, note, None) or (None, None, an error response)."""
    user, refused = authenticate(request)
    if refused is not None:
        return None, None, refused
    note = selectors.note_get_visible(user=user, note_id=note_id)
    if note is None:
        return None, None, api_error(404, "No such note (or you have no access to it).")
    return user, note, None


def _anchors(body: dict) -> tuple[bytes | None, bytes | None]:
    anchor = body.get("anchor")
    if anchor is None:
        return None, None
    if not isinstance(anchor, dict):
        raise ChatRefused('"anchor" must be {"start": ..., "end": ...} in base64.')
    try:
        return (
            base64.b64decode(anchor.get("start") or "", validate=True),
            base64.b64decode(anchor.get("end") or "", validate=True),
        )
    except (binascii.Error, TypeError, ValueError):
        raise ChatRefused("The anchors must be base64.") from None


def _thread_json(thread_id, status=200) -> JsonResponse:
    thread = comments.threads_of_ids(ids=[thread_id])[0]
    return JsonResponse(comments.thread_data(thread), status=status)


@csrf_exempt  # enforced in authenticate for session requests; tokens carry no cookies
def note_comments(request, note_id):
    if request.method not in ("GET", "POST"):
        return api_error(405, f"{request.method} is not supported here.", Allow="GET, POST")
    user, note, refused = _note(request, note_id)
    if refused:
        return refused
    if request.method == "GET":
        status = request.GET.get("status", "all")
        if status not in ("all", "open", "resolved"):
            return api_error(400, "status is one of open, resolved, all.")
        threads = [
            t
            for t in comments.threads_of(note_id=note.pk)
            if status == "all" or (t.resolved_at is None) == (status == "open")
        ]
        return JsonResponse({"threads": [comments.thread_data(t) for t in threads]})
    body = _body(request)
    if body is None or not isinstance(body.get("text"), str):
        return api_error(400, 'Send JSON like {"text": "...", "quote": "the passage"}.')
    occurrence = body.get("occurrence", 1)
    if not isinstance(body.get("quote"), str) or not isinstance(occurrence, int):
        return api_error(400, '"quote" is the passage\'s text; "occurrence" a number.')
    try:
        start, end = _anchors(body)
        thread = comments.thread_create(
            note=note,
            user=user,
            text=body["text"],
            quote=body["quote"],
            anchor_start=start,
            anchor_end=end,
            occurrence=occurrence,
        )
    except ChatRefused as exc:
        return api_error(exc.status, str(exc))
    return _thread_json(thread.pk, status=201)


@csrf_exempt
def note_comment_thread(request, note_id, thread_id, comment_id=None):
    allowed = ("DELETE",) if comment_id else ("GET", "POST", "PATCH", "DELETE")
    if request.method not in allowed:
        return api_error(405, f"{request.method} is not supported here.", Allow=", ".join(allowed))
    user, note, refused = _note(request, note_id)
    if refused:
        return refused
    thread = CommentThread.objects.filter(note=note, pk=thread_id).select_related("note").first()
    if thread is None:
        return api_error(404, "No such comment thread.")
    try:
        if comment_id is not None:
            comment = Comment.objects.filter(thread=thread, pk=comment_id).first()
            if comment is None:
                return api_error(404, "No such comment.")
            comments.comment_delete(comment=comment, user=user)
            if not CommentThread.objects.filter(pk=thread_id).exists():
                return JsonResponse({"deleted": thread_id})
            return _thread_json(thread_id)
        if request.method == "GET":
            return _thread_json(thread_id)
        if request.method == "DELETE":
            comments.thread_delete(thread=thread, user=user)
            return JsonResponse({"deleted": thread_id})
        body = _body(request)
        if request.method == "PATCH":
            if body is None or not isinstance(body.get("resolved"), bool):
                return api_error(400, 'Send JSON like {"resolved": true}.')
            comments.thread_resolve(thread=thread, user=user, resolved=body["resolved"])
            return _thread_json(thread_id)
        if body is None or not isinstance(body.get("text"), str):
            return api_error(400, 'Send JSON like {"text": "..."}.')
        comments.comment_reply(thread=thread, user=user, text=body["text"])
        return _thread_json(thread_id, status=201)
    except ChatRefused as exc:
        return api_error(exc.status, str(exc))

"""A note's chat over HTTP, as JSON: the page of messages before an id, post, edit, delete.
Open editors learn of every change live (notes.services.chat announces it)."""

import json

from django.http import JsonResponse
from django.views.decorators.http import require_http_methods

from notes import selectors
from notes.models import ChatMessage
from notes.services import chat


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _text_of(request) -> str | None:
    """The `text` of a JSON or form body; None when the body is not one."""
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return None
        text = body.get("text") if isinstance(body, dict) else None
        return text if isinstance(text, str) else None
    return request.POST.get("text")


def _visible_note(request, note_id):
    if not request.user.is_authenticated:
        return None, _error("Log in first.", 401)
    note = selectors.note_get_visible(user=request.user, note_id=note_id)
    if note is None:
        return None, _error("No such note.", 404)
    return note, None


@require_http_methods(["GET", "POST"])
def note_chat(request, note_id):
    """GET: `{"messages": [...oldest first], "more": bool}`, the newest page or the one before
    `?before=<id>`. POST `{"text": ...}`: the new message (201)."""
    note, refused = _visible_note(request, note_id)
    if refused:
        return refused
    if request.method == "GET":
        before = request.GET.get("before")
        if before is not None and not before.isdigit():
            return _error("`before` must be a message id.", 400)
        messages, more = selectors.chat_page(
            note_id=note.pk, before=int(before) if before else None
        )
        return JsonResponse(
            {"messages": [chat.chat_message_data(m) for m in messages], "more": more}
        )
    text = _text_of(request)
    if text is None:
        return _error("Send the message as `text`.", 400)
    try:
        message = chat.chat_post(note=note, user=request.user, text=text)
    except chat.ChatRefused as exc:
        return _error(str(exc), exc.status)
    return JsonResponse(chat.chat_message_data(message), status=201)


@require_http_methods(["PATCH", "DELETE"])
def note_chat_message(request, note_id, message_id):
    """PATCH `{"text": ...}`: edit your message. DELETE: delete yours (or any, as owner)."""
    note, refused = _visible_note(request, note_id)
    if refused:
        return refused
    message = ChatMessage.objects.filter(note=note, pk=message_id).select_related("note").first()
    if message is None:
        return _error("No such message.", 404)
    try:
        if request.method == "DELETE":
            chat.chat_delete(message=message, user=request.user)
            return JsonResponse({"deleted": message_id})
        text = _text_of(request)
        if text is None:
            return _error("Send the new text as `text`.", 400)
        message = chat.chat_edit(message=message, user=request.user, text=text)
    except chat.ChatRefused as exc:
        return _error(str(exc), exc.status)
    return JsonResponse(chat.chat_message_data(message))

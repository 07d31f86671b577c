"""Your notifications: who mentioned you, where. Opening the page marks them read."""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render

from notes.models import Notification
from notes.services import notifications as service

PAGE = 50


@login_required
def notification_list(request):
    items = list(
        Notification.objects.filter(user=request.user)
        .select_related("note", "actor")
        .order_by("-id")[:PAGE]
    )
    service.notifications_seen(user=request.user)
    return render(request, "notes/notifications.html", {"notifications": items})


def notification_count(request):
    """`{"unread": n}`, for pages that show the header's badge without a live feed."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "Log in first."}, status=401)
    return JsonResponse({"unread": service.notifications_unread(user_id=request.user.pk)})

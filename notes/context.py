"""Template context every page gets: the header's count of unread notifications."""

from notes.services.notifications import notifications_unread


def unread_notifications(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": notifications_unread(user_id=user.pk)}

"""How a user appears to others in a note: display name, initials and a stable colour."""

import hashlib


def user_display_name(user) -> str:
    full = user.get_full_name().strip() if hasattr(user, "get_full_name") else ""
    return full or user.get_username()


def user_color(user) -> str:
    """A colour derived from the user id: the same on every device, readable on light and dark."""
    digest = hashlib.sha256(f"user:{user.pk}".encode()).digest()
    hue = int.from_bytes(digest[:2], "big") % 360
    return f"hsl({hue}, 65%, 45%)"


def user_identity(user) -> dict:
    return {"id": user.pk, "name": user_display_name(user), "color": user_color(user)}

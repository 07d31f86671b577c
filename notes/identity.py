"""How a user appears to others in a note: display name, initials and a stable colour."""


def user_display_name(user) -> str:
    full = user.get_full_name().strip() if hasattr(user, "get_full_name") else ""
    return full or user.get_username()


GOLDEN_ANGLE = 137.508


def user_color(user) -> str:
    """A colour derived from the user id: the same on every device, readable on light and dark.

    Hues step by the golden angle per id, so people whose accounts were made one after the
    other (a team signing up together) get clearly different colours, unlike hashing.
    """
    hue = round((user.pk * GOLDEN_ANGLE) % 360)
    return f"hsl({hue}, 65%, 45%)"


def user_identity(user) -> dict:
    return {"id": user.pk, "name": user_display_name(user), "color": user_color(user)}

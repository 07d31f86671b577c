"""
Who may do what with a note. Checks only: nothing here changes anything.

Every access decision in the app (views, sockets, services) goes through these functions.
"""

from enum import IntEnum

from notes.models import Membership, Note


class Role(IntEnum):
    """Rights on a note, ordered so that a higher role includes the lower ones."""

    NONE = 0
    VIEWER = 1
    EDITOR = 2
    OWNER = 3


def note_role(*, user, note: Note) -> Role:
    """Return the user's role on the note (NONE for anonymous users and strangers)."""
    if not user.is_authenticated:
        return Role.NONE
    if note.owner_id == user.pk:
        return Role.OWNER
    role = Membership.objects.filter(note_id=note.pk, user_id=user.pk).values_list(
        "role", flat=True
    )
    return _MEMBER_ROLES.get(role.first(), Role.NONE)


_MEMBER_ROLES = {Membership.Role.EDITOR: Role.EDITOR, Membership.Role.VIEWER: Role.VIEWER}


def note_can_view(*, user, note: Note) -> bool:
    return note_role(user=user, note=note) >= Role.VIEWER


def note_can_edit(*, user, note: Note) -> bool:
    return note_role(user=user, note=note) >= Role.EDITOR


def note_can_manage(*, user, note: Note) -> bool:
    """Rename, share and delete are the owner's."""
    return note_role(user=user, note=note) >= Role.OWNER

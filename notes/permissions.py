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
    member_role = None
    if user.is_authenticated and note.owner_id != user.pk:
        memberships = Membership.objects.filter(note_id=note.pk, user_id=user.pk)
        member_role = memberships.values_list("role", flat=True).first()
    return note_role_given(user=user, owner_id=note.owner_id, member_role=member_role)


def note_role_given(*, user, owner_id, member_role: str | None) -> Role:
    """The user's role on a note with this owner, where the user's membership has this role
    (None: not a member). For callers that read both in one query."""
    if not user.is_authenticated:
        return Role.NONE
    if owner_id == user.pk:
        return Role.OWNER
    return _MEMBER_ROLES.get(member_role, Role.NONE)


_MEMBER_ROLES = {Membership.Role.EDITOR: Role.EDITOR, Membership.Role.VIEWER: Role.VIEWER}


def note_can_view(*, user, note: Note) -> bool:
    return note_role(user=user, note=note) >= Role.VIEWER


def note_can_edit(*, user, note: Note) -> bool:
    return note_role(user=user, note=note) >= Role.EDITOR


def note_can_manage(*, user, note: Note) -> bool:
    """Rename, share and delete are the owner's."""
    return note_role(user=user, note=note) >= Role.OWNER

"""Who may open a note: members and their roles, ownership, and share links."""

from django.db import transaction
from django.utils import timezone

from notes import broadcast
from notes.models import Membership, Note, ShareLink
from notes.services import editing


def _access_changed(note_id, *user_ids: int) -> None:
    transaction.on_commit(
        lambda: broadcast.note_access_changed(note_id=note_id, user_ids=list(user_ids))
    )
    transaction.on_commit(lambda: editing.note_listing_announce(note_id=note_id, user_ids=user_ids))


@transaction.atomic
def note_share(*, note: Note, user, role: str) -> Membership | None:
    """Give `user` the role (editor or viewer) on the note, or change it. The owner keeps
    ownership: sharing with the owner does nothing."""
    if user.pk == note.owner_id:
        return None
    membership, _ = Membership.objects.update_or_create(
        note=note, user=user, defaults={"role": role, "via_link": None}
    )
    _access_changed(note.pk, user.pk)
    return membership


@transaction.atomic
def note_unshare(*, note: Note, user) -> None:
    Membership.objects.filter(note=note, user=user).delete()
    _access_changed(note.pk, user.pk)


@transaction.atomic
def note_transfer_ownership(*, note: Note, new_owner) -> Note:
    """Make `new_owner` the owner; the previous owner stays on as an editor."""
    previous = note.owner
    if new_owner.pk == previous.pk:
        return note
    Membership.objects.filter(note=note, user=new_owner).delete()
    note.owner = new_owner
    note.save(update_fields=["owner"])
    Membership.objects.create(note=note, user=previous, role=Membership.Role.EDITOR)
    _access_changed(note.pk, previous.pk, new_owner.pk)
    return note


def share_link_create(*, note: Note, role: str, created_by) -> ShareLink:
    return ShareLink.objects.create(note=note, role=role, created_by=created_by)


@transaction.atomic
def share_link_revoke(*, link: ShareLink) -> None:
    """Revoke the link, and the access of everyone who got in through it alone."""
    link.revoked_at = timezone.now()
    link.save(update_fields=["revoked_at"])
    members = list(Membership.objects.filter(via_link=link).values_list("user_id", flat=True))
    Membership.objects.filter(via_link=link).delete()
    if members:
        _access_changed(link.note_id, *members)


@transaction.atomic
def share_link_accept(*, link: ShareLink, user) -> Note:
    """Opening an active link makes the user a member with the link's role, unless they
    already have that role or a better one."""
    note = link.note
    if user.pk == note.owner_id:
        return note
    current = Membership.objects.filter(note=note, user=user).first()
    if current is not None and (
        current.role == Membership.Role.EDITOR or current.role == link.role
    ):
        return note
    Membership.objects.update_or_create(
        note=note, user=user, defaults={"role": link.role, "via_link": link}
    )
    _access_changed(note.pk, user.pk)
    return note

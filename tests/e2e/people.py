"""Who takes part in the browser tests."""

from tests import factories


def alice():
    return factories.make_user("alice", first_name="Alice", last_name="Martin")


def second_person(note, owner):
    """Someone else who may edit the note.

    Until notes can be shared, access is owner-only, so the second person is the owner again in
    another browser context (another tab identity: its own Yjs client and cursor). Once
    `tests.factories.share_note(note, user, role)` exists, it is a different user, Bob.
    """
    share = getattr(factories, "share_note", None)
    if share is None:
        return owner
    bob = factories.make_user("bob", first_name="Bob", last_name="Stone")
    share(note, bob, "editor")
    return bob


def display_name(user) -> str:
    return user.get_full_name() or user.get_username()

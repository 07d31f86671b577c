"""How people appear to each other in a note."""

from types import SimpleNamespace

from notes.identity import user_color, user_display_name


def _user(pk, username="u", full=""):
    return SimpleNamespace(pk=pk, get_username=lambda: username, get_full_name=lambda: full)


def _hue(color: str) -> int:
    return int(color.removeprefix("hsl(").split(",")[0])


def test_colour_is_stable_per_user():
    assert user_color(_user(7)) == user_color(_user(7))


def test_consecutive_users_get_clearly_different_hues():
    hues = [_hue(user_color(_user(pk))) for pk in range(1, 9)]
    for i, a in enumerate(hues):
        for b in hues[i + 1 :]:
            assert min(abs(a - b), 360 - abs(a - b)) >= 20


def test_display_name_prefers_the_full_name():
    assert user_display_name(_user(1, "alice", "Alice Martin")) == "Alice Martin"
    assert user_display_name(_user(1, "alice", "")) == "alice"

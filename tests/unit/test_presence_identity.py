"""What a relayed awareness state says about who sent it (realtime.presence.bind_identity)."""

import json
import uuid

import pytest

from notes.permissions import Role
from realtime.peer import Peer
from realtime.presence import bind_identity
from realtime.protocol import AwarenessEntry


def _peer(user_id: int, name: str) -> Peer:
    return Peer(
        note_id=uuid.uuid4(),
        user_id=user_id,
        user_name=name,
        session_key=None,
        role=Role.VIEWER,
        wants_acks=False,
        link=None,
    )


VAL = _peer(7, "Val Viewer")


def _bound(state) -> dict:
    entry = bind_identity(VAL, AwarenessEntry(1, 4, json.dumps(state)))
    assert (entry.client_id, entry.clock) == (1, 4)
    return json.loads(entry.state)


@pytest.mark.parametrize(
    ("sent", "relayed"),
    [
        ({"cursor": 3}, {"cursor": 3, "user": {"id": 7, "name": "Val Viewer"}}),
        ({"user": {"id": 1, "name": "The Owner"}}, {"user": {"id": 7, "name": "Val Viewer"}}),
        ({"user": "The Owner"}, {"user": {"id": 7, "name": "Val Viewer"}}),
        (
            {"user": {"name": "x", "color": "#0f0", "colorLight": "#0f04", "admin": True}},
            {"user": {"id": 7, "name": "Val Viewer", "color": "#0f0", "colorLight": "#0f04"}},
        ),
        (
            {"user": {"color": "x" * 65, "colorLight": 5}},
            {"user": {"id": 7, "name": "Val Viewer"}},
        ),
    ],
)
def test_the_user_is_always_the_senders_own(sent, relayed):
    assert _bound(sent) == relayed


@pytest.mark.parametrize("state", ["null", "5", '"text"', "[1, 2]"])
def test_a_state_that_is_not_an_object_passes_as_it_is(state):
    entry = AwarenessEntry(1, 4, state)
    assert bind_identity(VAL, entry) is entry


def test_a_state_that_already_says_the_truth_is_relayed_as_it_came():
    state = '{"user":{"colorLight":"#abc","name":"Val Viewer","id":7,"color":"#abcdef"}}'
    entry = AwarenessEntry(1, 4, state)
    assert bind_identity(VAL, entry) is entry


def test_non_ascii_names_survive():
    entry = bind_identity(_peer(8, "Zoë 山田"), AwarenessEntry(2, 1, '{"user":{"name":"someone"}}'))
    assert json.loads(entry.state)["user"] == {"id": 8, "name": "Zoë 山田"}

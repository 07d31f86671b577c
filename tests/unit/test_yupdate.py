"""Structural checks of Yjs updates (notes/yupdate.py), against updates pycrdt really makes."""

import random

import pytest
from pycrdt import Text

from notes import documents
from realtime import protocol, yupdate

W = protocol.write_var_uint


def _string_item(client: int, clock: int, text: str) -> bytes:
    """One update: a string inserted at the start of the note's text by `client`."""
    body = bytes([yupdate.CONTENT_STRING]) + b"\x01" + protocol.write_var_string("content")
    return W(1) + W(1) + W(client) + W(clock) + body + protocol.write_var_string(text) + b"\x00"


def _edits(seed: int, count: int = 400) -> tuple[documents.Doc, list[bytes]]:
    """A document edited at random (multi-byte text included); returns it and its updates."""
    rng = random.Random(seed)
    doc = documents.doc_new()
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    text = doc.get(documents.CONTENT, type=Text)
    for _ in range(count):
        current = str(text)
        if current and rng.random() < 0.3:
            at = rng.randrange(len(current))
            start = len(current[:at].encode())
            del text[start : len(current[: at + 1].encode())]
        else:
            at = len(current[: rng.randint(0, len(current))].encode())
            text.insert(at, rng.choice(["a", "bc", "é", "日本", "🙂x", "\n"]))
    return doc, updates


@pytest.mark.parametrize("seed", range(3))
def test_every_update_a_real_document_makes_passes(seed):
    doc, updates = _edits(seed)
    for update in [*updates, doc.get_update(), documents.EMPTY_UPDATE]:
        yupdate.check_update(update)


def test_string_lengths_count_utf16_units_like_yjs_clocks():
    doc = documents.doc_new(client_id=7)
    documents.text_set(doc, "a🙂é")  # 1 + 2 + 1 UTF-16 units
    shape = yupdate.check_update(doc.get_update())
    assert shape.ends == {7: 4}
    assert yupdate.decode_state_vector(doc.get_state()) == {7: 4}


@pytest.mark.parametrize(
    ("update", "error"),
    [
        # A zero-length gc struct decodes, then makes every later encode of the doc panic.
        (bytes.fromhex("010101010000018080808010010101010101"), "zero-length"),
        (W(1) + W(1) + W(9) + W(0) + bytes([yupdate.SKIP]) + W(0) + b"\x00", "zero-length"),
        (_string_item(9, 2**32 - 1, "ab"), "clock out of range"),
        (W(1) + W(1) + W(9) + W(0) + bytes([7]) + W(1) + b"\x04meta" + W(99) + b"\x00", "type"),
        (
            W(1) + W(1) + W(9) + W(0) + bytes([11]) + b"\x01\x07content" + b"\x00",
            "unknown struct kind",
        ),
        (W(0) + W(1) + W(9) + W(1) + W(2**32 - 1) + W(5), "delete range"),
        (_string_item(9, 0, "ab") + b"\x00", "trailing"),
        (_string_item(9, 0, "ab")[:-4], "truncated"),
        # Client ids JavaScript cannot represent (lib0 reads at most 2**53 - 1).
        (b"\x01\x01" + b"\xff" * 8 + b"\x7f\x00", "varUint"),
    ],
)
def test_shapes_that_break_yrs_or_javascript_are_refused(update, error):
    with pytest.raises(protocol.ProtocolError, match=error):
        yupdate.check_update(update)


def test_deeply_nested_values_are_refused_before_yrs_recurses():
    def nested(depth: int) -> bytes:
        item = b"\x08\x01" + protocol.write_var_string("content") + b"\x01"
        return W(1) + W(1) + W(9) + W(0) + item + b"\x75\x01" * depth + b"\x7e" + b"\x00"

    yupdate.check_update(nested(yupdate.MAX_ANY_DEPTH))
    with pytest.raises(protocol.ProtocolError, match="nested too deeply"):
        yupdate.check_update(nested(10_000))


def test_a_duplicate_is_known_and_new_structs_or_deletes_are_not():
    doc, updates = _edits(seed=4, count=50)
    clocks = yupdate.decode_state_vector(doc.get_state())
    inserts = [u for u in updates if not yupdate.check_update(u).delete_ends]
    assert inserts and all(yupdate.check_update(u).is_known_to(clocks) for u in inserts)
    deletes = [u for u in updates if yupdate.check_update(u).delete_ends]
    assert deletes and not any(yupdate.check_update(u).is_known_to(clocks) for u in deletes)
    assert not yupdate.check_update(_string_item(12345, 0, "new")).is_known_to(clocks)


def test_integrated_exactly_tells_pending_and_completed_updates_apart():
    first = documents.doc_new(client_id=20)
    documents.text_set(first, "A")
    dependency = first.get_update()
    second = documents.doc_new(client_id=21)
    second.apply_update(dependency)
    documents.text_append(second, "B")
    child = second.get_update(first.get_state())  # needs the dependency

    server = documents.doc_new(client_id=1)

    def apply(update: bytes) -> bool:
        before = yupdate.decode_state_vector(server.get_state())
        server.apply_update(update)
        after = yupdate.decode_state_vector(server.get_state())
        return yupdate.check_update(update).integrated_exactly(before, after)

    assert apply(child) is False  # waits for its dependency
    assert documents.doc_text(server) == ""
    assert apply(dependency) is False  # brings the waiting struct in with it
    assert documents.doc_text(server) == "AB"
    third = documents.doc_from_updates([server.get_update()])
    documents.text_append(third, "C")
    assert apply(third.get_update(server.get_state())) is True  # an ordinary edit


@pytest.mark.parametrize("seed", range(3))
def test_an_encoded_state_vector_asks_yrs_for_the_same_update_as_its_own(seed):
    doc, _ = _edits(seed, count=60)
    other, _ = _edits(seed + 10, count=60)
    clocks = yupdate.decode_state_vector(other.get_state())
    encoded = yupdate.encode_state_vector(clocks)
    assert yupdate.decode_state_vector(encoded) == clocks
    assert doc.get_update(encoded) == doc.get_update(other.get_state())

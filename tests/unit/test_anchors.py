"""Comment anchors: the shape of a Yjs relative position, and anchors made from a quote."""

import pytest
from pycrdt import StickyIndex, Text

from notes import documents
from notes.anchors import anchor_valid, anchors_for_quote

# Written by yjs 13.6 (createRelativePositionFromTypeIndex + encodeRelativePosition): an item
# with assoc 0, a root type by name with assoc -1 and 0, an item with assoc -1.
FROM_YJS = ["00ceac92ac020000", "0107636f6e74656e7441", "0107636f6e74656e7400", "00ceac92ac020441"]


@pytest.mark.parametrize("encoded", FROM_YJS)
def test_what_yjs_writes_is_valid(encoded):
    assert anchor_valid(bytes.fromhex(encoded))


@pytest.mark.parametrize(
    "data",
    [b"", b"\x05", b"\x00\xff", b"\x01\x09abc\x00", b"\x00\x01\x02\x00\x00", b"\x00" * 70, "00"],
)
def test_anything_else_is_not(data):
    assert not anchor_valid(data)


def test_anchors_from_a_quote_cover_it_in_utf8_and_respect_the_occurrence():
    doc = documents.doc_new()
    documents.text_append(doc, "héllo brave world, brave heart")
    text = doc.get(documents.CONTENT, type=Text)
    for occurrence, expected in ((1, "brave world"), (2, "brave heart")):
        quote = expected.split()[0]
        start, end = anchors_for_quote(doc, quote, occurrence)
        assert anchor_valid(start) and anchor_valid(end)
        begin = StickyIndex.decode(start, text).get_index()
        finish = StickyIndex.decode(end, text).get_index()
        raw = str(text).encode()
        assert raw[begin:finish].decode() == quote
        assert raw[begin:].decode().startswith(expected)
    assert anchors_for_quote(doc, "brave", 3) is None
    assert anchors_for_quote(doc, "absent") is None

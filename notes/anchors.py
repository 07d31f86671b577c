"""
Comment anchors: where in a note's text a comment thread sits, as two Yjs relative positions
(yjs `encodeRelativePosition`), so the passage follows its words through concurrent edits.

The server stores anchors and hands them back; it never needs to resolve them (editors do,
with their own Yjs documents). It checks their shape before storing them, and can make them
for a passage it is told by quote (API clients without Yjs). Pure but for pycrdt.
"""

from pycrdt import Assoc, Doc, Text

from notes.documents import CONTENT, byte_offset

MAX_ANCHOR_BYTES = 64

# The encoding: varUint(kind) then, by kind, an item id (0), a root type's name (1) or a
# type's item id (2); then varInt(assoc).
ITEM, TYPE_NAME, TYPE_ID = 0, 1, 2


def _var_uint(data: bytes, pos: int) -> int:
    """The position after a lib0 varUint at `pos` (at most 8 bytes), or -1."""
    for i in range(8):
        if pos + i >= len(data):
            return -1
        if data[pos + i] < 0x80:
            return pos + i + 1
    return -1


def anchor_valid(data) -> bool:
    """Whether `data` is one encoded relative position, whole, of a sane size."""
    if not isinstance(data, bytes) or not 0 < len(data) <= MAX_ANCHOR_BYTES:
        return False
    kind, pos = data[0], 1
    if kind in (ITEM, TYPE_ID):
        pos = _var_uint(data, pos)
        pos = _var_uint(data, pos) if pos > 0 else -1
    elif kind == TYPE_NAME:
        end = _var_uint(data, pos)
        if end < 0:
            return False
        length = 0
        for i, byte in enumerate(data[pos:end]):
            length |= (byte & 0x7F) << (7 * i)
        pos = end + length if end + length <= len(data) else -1
    else:
        return False
    # varInt(assoc): one byte for the values Yjs writes (0 or -1), at most 8.
    return pos > 0 and _var_uint(data, pos) == len(data)


def anchors_for_quote(doc: Doc, quote: str, occurrence: int = 1) -> tuple[bytes, bytes] | None:
    """Anchors around the `occurrence`-th appearance of `quote` in the note's text, or None."""
    text = doc.get(CONTENT, type=Text)
    current = str(text)
    index = -1
    for _ in range(max(1, occurrence)):
        index = current.find(quote, index + 1)
        if index < 0:
            return None
    start = byte_offset(current, index)
    end = byte_offset(current, index + len(quote))
    # The start sticks to the passage's first character, the end to its last.
    return (
        text.sticky_index(start, Assoc.AFTER).encode(),
        text.sticky_index(end, Assoc.BEFORE).encode(),
    )

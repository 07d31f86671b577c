"""
The shape of a note's Yjs document, and edits made to it by the server.

Pure: pycrdt only, no Django. A note document holds:
- `content`: a Y.Text with the markdown source of the note body;
- `meta`: a Y.Map whose `title` key is the note's title, so that renames reach editors live.
"""

import difflib
from collections.abc import Iterable

from pycrdt import Doc, Map, Text, merge_updates

CONTENT = "content"
META = "meta"
TITLE_KEY = "title"

# An update that carries nothing: no structs, empty delete set.
EMPTY_UPDATE = b"\x00\x00"

# Above this many differing characters the diff falls back to one replacement of the middle
# instead of a character-level diff (difflib is quadratic in the worst case).
FINE_DIFF_LIMIT = 20_000


def doc_new(*, client_id: int | None = None) -> Doc:
    """A fresh, empty note document with its root types declared."""
    doc = Doc(client_id=client_id) if client_id is not None else Doc()
    doc.get(CONTENT, type=Text)
    doc.get(META, type=Map)
    return doc


def doc_from_updates(updates: Iterable[bytes]) -> Doc:
    """Build a document by applying stored updates in order (snapshot first, then the log)."""
    doc = doc_new()
    for update in updates:
        if update:
            doc.apply_update(update)
    return doc


def update_apply_failed(exc: BaseException) -> bool:
    """Whether `exc` is pycrdt refusing an update: a ValueError, or a Yrs panic, which pyo3
    raises as a BaseException that `except Exception` does not catch."""
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


def doc_text(doc: Doc) -> str:
    return str(doc.get(CONTENT, type=Text))


def doc_title(doc: Doc) -> str | None:
    title = doc.get(META, type=Map).get(TITLE_KEY)
    return title if isinstance(title, str) else None


def doc_encode(doc: Doc) -> bytes:
    """The whole document as one compact update."""
    return doc.get_update()


def byte_offset(text: str, index: int) -> int:
    """Where character `index` of `text` is for pycrdt, which addresses Y.Text in UTF-8 bytes."""
    return len(text[:index].encode("utf-8"))


_byte_offset = byte_offset


def _edit_regions(old: str, new: str) -> list[tuple[int, int, str]]:
    """Minimal (start, end, replacement) edits on `old`, in code points, left to right."""
    prefix = 0
    limit = min(len(old), len(new))
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[len(old) - 1 - suffix] == new[len(new) - 1 - suffix]:
        suffix += 1
    old_mid = old[prefix : len(old) - suffix]
    new_mid = new[prefix : len(new) - suffix]
    if not old_mid and not new_mid:
        return []
    if not old_mid or not new_mid or len(old_mid) + len(new_mid) > FINE_DIFF_LIMIT:
        return [(prefix, prefix + len(old_mid), new_mid)]
    matcher = difflib.SequenceMatcher(a=old_mid, b=new_mid, autojunk=False)
    return [
        (prefix + i1, prefix + i2, new_mid[j1:j2])
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]


def text_set(doc: Doc, new: str) -> None:
    """Turn the document's content into `new` with the fewest CRDT operations we can find.

    Unchanged stretches keep their CRDT identity, so other people's cursors and concurrent
    typing in them survive.
    """
    text = doc.get(CONTENT, type=Text)
    old = str(text)
    regions = _edit_regions(old, new)
    if not regions:
        return
    with doc.transaction():
        # Right to left, so earlier offsets stay valid.
        for start, end, replacement in reversed(regions):
            b_start = _byte_offset(old, start)
            b_end = _byte_offset(old, end)
            if b_end > b_start:
                del text[b_start:b_end]
            if replacement:
                text.insert(b_start, replacement)


def text_append(doc: Doc, addition: str) -> None:
    text = doc.get(CONTENT, type=Text)
    if addition:
        text += addition


def title_set(doc: Doc, title: str) -> None:
    meta = doc.get(META, type=Map)
    if meta.get(TITLE_KEY) != title:
        meta[TITLE_KEY] = title


def edit_update(doc: Doc, edit) -> bytes:
    """Run `edit(doc)` and return exactly the update it produced (EMPTY_UPDATE if none)."""
    captured: list[bytes] = []
    subscription = doc.observe(lambda event: captured.append(event.update))
    try:
        edit(doc)
    finally:
        doc.unobserve(subscription)
    if not captured:
        return EMPTY_UPDATE
    return captured[0] if len(captured) == 1 else merge_updates(*captured)

"""The note document helpers: minimal server-side text edits on a CRDT."""

import pytest
from pycrdt import Doc, Text

from notes import documents


def _doc_with(text: str) -> Doc:
    doc = documents.doc_new()
    documents.text_set(doc, text)
    return doc


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("", "hello"),
        ("hello", ""),
        ("hello world", "hello brave world"),
        ("héllo wörld 😀 end", "héllo wörld 😀😀 fin"),
        ("line one\nline two\nline three\n", "line one\nline 2\nline three\nline four\n"),
        ("abc", "abc"),
    ],
)
def test_text_set_reaches_the_target_text(old, new):
    doc = _doc_with(old)
    documents.text_set(doc, new)
    assert documents.doc_text(doc) == new


def test_text_set_keeps_unchanged_text_and_concurrent_edits():
    """A server edit is a minimal diff: a concurrent insert elsewhere survives the merge."""
    server = _doc_with("alpha\nbeta\ngamma\n")
    client = Doc()
    client.apply_update(server.get_update())
    client_text = client.get(documents.CONTENT, type=Text)
    client_text.insert(len(b"alpha\nbeta\ngamma\n"), "delta\n")  # user types at the end

    update = documents.edit_update(server, lambda d: documents.text_set(d, "alpha\nBETA\ngamma\n"))
    client.apply_update(update)
    server.apply_update(client.get_update())
    assert documents.doc_text(client) == documents.doc_text(server) == "alpha\nBETA\ngamma\ndelta\n"


def test_edit_update_is_empty_when_nothing_changes():
    doc = _doc_with("same")
    assert (
        documents.edit_update(doc, lambda d: documents.text_set(d, "same"))
        == documents.EMPTY_UPDATE
    )


def test_edit_update_carries_deletions():
    doc = _doc_with("keep this, drop this")
    replica = documents.doc_from_updates([doc.get_update()])
    update = documents.edit_update(doc, lambda d: documents.text_set(d, "keep this"))
    replica.apply_update(update)
    assert documents.doc_text(replica) == "keep this"


def test_title_lives_in_the_meta_map():
    doc = documents.doc_new()
    assert documents.doc_title(doc) is None
    documents.title_set(doc, "Plans")
    assert documents.doc_title(documents.doc_from_updates([doc.get_update()])) == "Plans"

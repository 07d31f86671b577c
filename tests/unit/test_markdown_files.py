"""Checking uploaded Markdown files, and naming exported ones."""

import pytest

from notes.markdown_files import BadMarkdownFile, export_filename, markdown_file_read


def read(name="a.md", data=b"hello\n", max_bytes=1000, **extra):
    return markdown_file_read(name=name, data=data, max_bytes=max_bytes, **extra)


def test_title_from_front_matter_then_heading_then_file_name():
    assert read(data=b"---\ntitle: 'Plan B'\ntags: x\n---\n# Other\n").title == "Plan B"
    assert read(data=b"# Launch plan #\n\nbody\n").title == "Launch plan"
    assert read(name="weekly_sync notes.md", data=b"no heading\n").title == "weekly sync notes"
    assert read(name="x.md", data=b"## second level\n").title == "x"


def test_bom_is_dropped_and_line_endings_become_newlines():
    document = read(data="\ufeff# Café\r\nline\rnext\r\n".encode())
    assert document.text == "# Café\nline\nnext\n"
    assert document.title == "Café"


@pytest.mark.parametrize(
    ("name", "data", "size", "message"),
    [
        ("photo.png", b"\x89PNG", None, "not a Markdown file"),
        ("big.md", b"x" * 1001, None, "1,001 bytes; notes can be at most 1,000 bytes"),
        ("big.md", b"x" * 1001, 5_000_000, "5,000,000 bytes"),
        ("latin1.md", "café".encode("latin-1"), None, "not UTF-8 text (bad byte at position 3)"),
        ("binary.md", b"abc\x00def", None, "binary file"),
    ],
)
def test_bad_files_get_a_clear_reason(name, data, size, message):
    with pytest.raises(BadMarkdownFile, match=message.replace("(", r"\(").replace(")", r"\)")):
        read(name=name, data=data, size=size)


def test_an_empty_file_is_an_empty_note():
    assert read(name="empty.md", data=b"").text == ""


def test_export_names_keep_the_title_and_are_safe():
    assert export_filename("Launch plan") == "Launch plan.md"
    assert export_filename('a/b\\c:d*e?"f<g>|h') == "a b c d e f g h.md"
    assert export_filename("  ..  ") == "Untitled.md"
    assert export_filename("Notes", ".html") == "Notes.html"
    assert len(export_filename("x" * 500)) == 123

"""Markdown files in and out: checking an uploaded file, and naming an exported one. Pure."""

import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePath

ALLOWED_SUFFIXES = (".md", ".markdown", ".txt")
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)
_FRONT_TITLE = re.compile(r"^title:\s*(.+?)\s*$", re.MULTILINE)
_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$")


class BadMarkdownFile(ValueError):
    """The file cannot become a note; the message says why, for the person who chose it."""


@dataclass(frozen=True)
class MarkdownFile:
    title: str
    text: str


def markdown_file_read(
    *, name: str, data: bytes, max_bytes: int, size: int | None = None
) -> MarkdownFile:
    """Check an uploaded file and turn it into a title and text.

    The file must be .md, .markdown or .txt, at most `max_bytes`, UTF-8 (a BOM is dropped),
    and text (no NUL bytes). `size` is the whole file's size when `data` was read only up to
    just past the limit. Line endings become \\n. The title comes from YAML front matter
    (`title:`), else the first line if it is a `# heading`, else the file name.
    """
    suffix = PurePath(name).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise BadMarkdownFile(f"“{name}” is not a Markdown file: choose a .md or .txt file.")
    size = len(data) if size is None else size
    if size > max_bytes or len(data) > max_bytes:
        raise BadMarkdownFile(
            f"“{name}” is {size:,} bytes; notes can be at most {max_bytes:,} bytes."
        )
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadMarkdownFile(
            f"“{name}” is not UTF-8 text (bad byte at position {error.start:,}). "
            "Save it as UTF-8 and try again."
        ) from None
    if "\x00" in text:
        raise BadMarkdownFile(f"“{name}” looks like a binary file, not Markdown text.")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return MarkdownFile(title=_title_of(text) or _title_from_name(name), text=text)


def _title_of(text: str) -> str | None:
    front = _FRONT_MATTER.match(text)
    if front:
        found = _FRONT_TITLE.search(front.group(1))
        if found:
            return found.group(1).strip("\"'").strip() or None
    first_line = text.split("\n", 1)[0]
    heading = _HEADING.match(first_line)
    return heading.group(1).strip() if heading else None


def _title_from_name(name: str) -> str:
    return PurePath(name).stem.replace("_", " ").strip() or "Untitled"


_UNSAFE = re.compile(r'[\x00-\x1f<>:"/\\|?*]+')


def export_filename(title: str, suffix: str = ".md") -> str:
    """A file name that keeps the title readable and is safe on every common file system."""
    name = unicodedata.normalize("NFC", title)
    name = _UNSAFE.sub(" ", name).strip(" .")
    name = re.sub(r"\s+", " ", name)[:120].strip(" .")
    return (name or "Untitled") + suffix

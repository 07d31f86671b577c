"""History policy and diffs. Pure: no database, no Django models.

Thinning keeps a long-lived note's history bounded while keeping what people rely on:

- every named ("Save version") revision, and both revisions around every restore, forever;
- the newest revision of the note, whatever its kind;
- automatic checkpoints: all of those from the last 24 hours, then the newest one in each hour
  up to 7 days old, the newest in each day up to 90 days old, and the newest in each ISO week
  after that.

Checkpoints are taken only after edits, at most one per idle pause or maximum interval, so the
last day holds at most a few hundred; past 90 days a note gains at most 52 a year. Revisions
store their text zlib-compressed, independently of the update log.
"""

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

KEEP_ALL_FOR = timedelta(hours=24)
HOURLY_FOR = timedelta(days=7)
DAILY_FOR = timedelta(days=90)


@dataclass(frozen=True)
class RevisionStamp:
    id: int
    automatic: bool
    created_at: datetime


def _bucket(stamp: RevisionStamp, now: datetime):
    age = now - stamp.created_at
    at = stamp.created_at
    if age < KEEP_ALL_FOR:
        return ("each", stamp.id)
    if age < HOURLY_FOR:
        return ("hour", at.date(), at.hour)
    if age < DAILY_FOR:
        return ("day", at.date())
    year, week, _ = at.isocalendar()
    return ("week", year, week)


def revisions_to_drop(stamps: Iterable[RevisionStamp], *, now: datetime) -> list[int]:
    """The ids of automatic checkpoints the policy above no longer keeps."""
    newest_first = sorted(stamps, key=lambda s: (s.created_at, s.id), reverse=True)
    seen: set = set()
    drop = []
    for index, stamp in enumerate(newest_first):
        if not stamp.automatic:
            continue
        bucket = _bucket(stamp, now)
        if bucket in seen and index > 0:
            drop.append(stamp.id)
        else:
            seen.add(bucket)
    return drop


@dataclass(frozen=True)
class DiffLine:
    """One row of a line diff: kind is "same", "removed", "added" or "skipped"."""

    kind: str
    old_number: int | None
    new_number: int | None
    text: str


def line_diff(old: str, new: str, *, context: int = 3) -> list[DiffLine]:
    """A readable line diff from `old` to `new`, unchanged runs longer than 2×context folded
    into one "skipped" row whose text says how many lines it stands for."""
    old_lines = old.splitlines()
    new_lines = new.splitlines()
    rows: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    opcodes = matcher.get_opcodes()
    for position, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            keep_head = context if position > 0 else 0
            keep_tail = context if position < len(opcodes) - 1 else 0
            length = i2 - i1
            if length > keep_head + keep_tail + 1:
                for k in range(keep_head):
                    rows.append(DiffLine("same", i1 + k + 1, j1 + k + 1, old_lines[i1 + k]))
                skipped = length - keep_head - keep_tail
                rows.append(DiffLine("skipped", None, None, f"{skipped} unchanged lines"))
                for k in range(length - keep_tail, length):
                    rows.append(DiffLine("same", i1 + k + 1, j1 + k + 1, old_lines[i1 + k]))
            else:
                for k in range(length):
                    rows.append(DiffLine("same", i1 + k + 1, j1 + k + 1, old_lines[i1 + k]))
            continue
        for i in range(i1, i2):
            rows.append(DiffLine("removed", i + 1, None, old_lines[i]))
        for j in range(j1, j2):
            rows.append(DiffLine("added", None, j + 1, new_lines[j]))
    return rows

"""The history policy (thinning) and the line diff: pure functions."""

from datetime import UTC, datetime, timedelta

from notes.history import RevisionStamp, line_diff, revisions_to_drop

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _autos(ages: list[timedelta], start_id: int = 1) -> list[RevisionStamp]:
    return [
        RevisionStamp(id=start_id + i, automatic=True, created_at=NOW - age)
        for i, age in enumerate(ages)
    ]


def test_the_last_day_keeps_every_checkpoint():
    stamps = _autos([timedelta(minutes=m) for m in range(0, 24 * 60 - 1, 5)])
    assert revisions_to_drop(stamps, now=NOW) == []


def test_older_checkpoints_thin_to_one_per_hour_day_and_week():
    # Every 10 minutes for 200 days.
    stamps = _autos([timedelta(minutes=m) for m in range(0, 200 * 24 * 60, 10)])
    dropped = set(revisions_to_drop(stamps, now=NOW))
    kept = [s for s in stamps if s.id not in dropped]
    hours = [s for s in kept if timedelta(days=1) <= NOW - s.created_at < timedelta(days=7)]
    days = [s for s in kept if timedelta(days=7) <= NOW - s.created_at < timedelta(days=90)]
    weeks = [s for s in kept if NOW - s.created_at >= timedelta(days=90)]
    # One per clock hour from 1 to 7 days old (6 days of hours, plus the partial edges).
    assert 6 * 24 <= len(hours) <= 6 * 24 + 1
    assert len({(s.created_at.date(), s.created_at.hour) for s in hours}) == len(hours)
    assert 83 <= len(days) <= 84
    assert len({s.created_at.date() for s in days}) == len(days)
    assert len({s.created_at.isocalendar()[:2] for s in weeks}) == len(weeks) <= 17
    # The newest in each bucket is the one kept.
    for kept_stamp in hours:
        same_hour = [
            s
            for s in stamps
            if (s.created_at.date(), s.created_at.hour)
            == (kept_stamp.created_at.date(), kept_stamp.created_at.hour)
            and NOW - s.created_at >= timedelta(days=1)
        ]
        assert kept_stamp.created_at == max(s.created_at for s in same_hour)
    assert len(kept) < len(stamps) / 10


def test_named_and_restore_revisions_and_the_newest_are_never_dropped():
    old = NOW - timedelta(days=400)
    stamps = [
        RevisionStamp(id=1, automatic=False, created_at=old),
        RevisionStamp(id=2, automatic=False, created_at=old + timedelta(seconds=1)),
        *_autos([timedelta(days=400, seconds=-2 - k) for k in range(5)], start_id=10),
    ]
    dropped = revisions_to_drop(stamps, now=NOW)
    assert 1 not in dropped and 2 not in dropped
    # Five checkpoints in the same old week: the newest of them stays, four go.
    assert sorted(dropped) == [10, 11, 12, 13]
    # A lone old checkpoint is the newest revision: kept.
    assert revisions_to_drop(_autos([timedelta(days=500)]), now=NOW) == []


def test_line_diff_marks_changes_and_folds_long_unchanged_runs():
    old = "\n".join(f"line {i}" for i in range(1, 21)) + "\n"
    new = old.replace("line 10\n", "line ten\n") + "line 21\n"
    rows = line_diff(old, new, context=2)
    kinds = [r.kind for r in rows]
    assert ("removed", 10, None, "line 10") in [
        (r.kind, r.old_number, r.new_number, r.text) for r in rows
    ]
    assert ("added", None, 10, "line ten") in [
        (r.kind, r.old_number, r.new_number, r.text) for r in rows
    ]
    assert ("added", None, 21, "line 21") in [
        (r.kind, r.old_number, r.new_number, r.text) for r in rows
    ]
    skipped = [r.text for r in rows if r.kind == "skipped"]
    assert skipped == ["7 unchanged lines", "6 unchanged lines"]
    assert kinds.count("same") == 2 + 2 + 2


def test_line_diff_of_identical_texts_has_no_changes():
    assert {r.kind for r in line_diff("a\nb\n", "a\nb\n")} <= {"same", "skipped"}

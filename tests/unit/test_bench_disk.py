"""The disk flush measurement that the benchmark report prints beside the machine."""

import sqlite3

from bench import disk, report


def test_flush_latency_times_every_commit_and_leaves_nothing_behind(tmp_path, monkeypatch):
    committed = []
    real_connect = sqlite3.connect

    def connect(path, **kwargs):
        committed.append(path)
        return real_connect(path, **kwargs)

    monkeypatch.setattr(disk.sqlite3, "connect", connect)
    summary = disk.flush_latency(str(tmp_path), commits=20)

    assert summary["count"] == 20
    assert 0 < summary["min"] <= summary["p50"] <= summary["p99"] <= summary["max"]
    assert committed and committed[0].parent.parent == tmp_path
    assert list(tmp_path.iterdir()) == []  # the database is removed afterwards


def test_report_prints_each_runs_disk_before_and_after():
    flush = {
        "before": {"p50": 0.31, "p99": 0.82, "max": 4.83},
        "after": {"p50": 0.4, "p99": 12.5, "max": 150.0},
    }
    lines = report.disk_lines({"20261203T010000Z": flush, "20261202T010000Z": flush})

    assert len(lines) == 1
    assert "run 20261202T010000Z: 0.31 / 0.82 / 4.83 before, 0.40 / 12.50 / 150 after" in lines[0]
    assert lines[0].index("20261202T010000Z") < lines[0].index("20261203T010000Z")
    assert report.disk_lines({}) == []

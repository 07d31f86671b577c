"""
Edit-to-commit latency on SQLite and on PostgreSQL: `python -m bench.persistence`.

20 authors type at 5 edits/s on one note against one daphne process (the same load generator
as every scenario). The server's `collab_notes_edit_commit_seconds` histogram (/metrics)
times each edit from its arrival on the socket to its durable commit, queue wait included;
its counts before the run are subtracted, so warm-up edits do not count. Quantiles are
interpolated within buckets, as Prometheus' histogram_quantile does. The figures go into
bench/results/latest.json under "persistence", and only their section of docs/benchmarks.md
is rewritten.
"""

import json
import os
import re
import sys
import time
import urllib.request
from datetime import UTC, datetime

from bench import report, run, scenarios, servers

METRIC = "collab_notes_edit_commit_seconds"
BUCKET = re.compile(rf'^{METRIC}_bucket{{le="([^"]+)"}} ([0-9.]+)$')


def histogram(port: int) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) pairs from a server's /metrics."""
    with urllib.request.urlopen(f"http://{servers.HOST}:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    pairs = []
    for line in text.splitlines():
        found = BUCKET.match(line)
        if found:
            bound = float("inf") if found.group(1) == "+Inf" else float(found.group(1))
            pairs.append((bound, float(found.group(2))))
    return pairs


def quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    total = buckets[-1][1]
    if total == 0:
        return None
    rank, lower, below = q * total, 0.0, 0.0
    for bound, cumulative in buckets:
        if cumulative >= rank:
            if bound == float("inf"):
                return lower  # beyond the last finite bucket: report its bound
            inside = cumulative - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, cumulative
    return lower


def measure(db: str, out_dir) -> dict:
    scenario = scenarios.typing(20, measure_ms=15000, group="persistence")
    with servers.OurServer(notes=4, sessions=scenario.clients + 5, db=db) as ours:
        run.warm_up(ours, out_dir)
        before = histogram(ours.ports[0])
        result = run.run_one(scenario, ours, out_dir)
        after = histogram(ours.ports[0])
    delta = [(b, c - c0) for (b, c), (_, c0) in zip(after, before, strict=True)]
    figures = {
        "db": db,
        "edits": int(delta[-1][1]),
        **{f"p{int(q * 100)}_ms": _ms(quantile(q, delta)) for q in (0.5, 0.95, 0.99)},
        "max_bucket_ms": _ms(next((b for b, c in delta if c == delta[-1][1]), None)),
        "delivered": result.get("delivered"),
        "expected": result.get("expected"),
    }
    print(json.dumps(figures), flush=True)
    return figures


def _ms(seconds):
    return None if seconds is None else round(seconds * 1000, 2)


def main() -> int:
    run.ensure_node_deps()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = run.RESULTS / f"persistence-{stamp}"
    out_dir.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    figures = [measure(db, out_dir) for db in ("sqlite", "postgres")]
    latest = json.loads(run.LATEST.read_text()) if run.LATEST.exists() else {"results": {}}
    latest["persistence"] = {"stamp": stamp, "rows": figures}
    latest.setdefault("environment", report.environment())
    run.LATEST.write_text(json.dumps(latest, indent=2))
    # Only this section changes: the other scenarios' figures stay as their runs wrote them.
    doc = servers.ROOT / "docs" / "benchmarks.md"
    text = report.splice_section(doc.read_text(), report.persistence_section(latest["persistence"]))
    doc.write_text(report.splice_section(text, report.targets_section(latest)))
    print(f"done in {round(time.monotonic() - began)} s; wrote docs/benchmarks.md", flush=True)
    return 0


if __name__ == "__main__":
    os.chdir(servers.ROOT)
    sys.exit(main())

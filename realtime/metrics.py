"""Prometheus text exposition of this process's realtime figures. Pure rendering, no I/O.

Each daphne process exposes its own figures at /metrics; scrape every process, and sum.
"""

from bisect import bisect_left
from dataclasses import dataclass, field

PERSIST_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)


@dataclass
class Histogram:
    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)  # per bucket, not cumulative; last is +Inf
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.buckets) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.buckets, value)] += 1
        self.total += value
        self.count += 1

    def lines(self, name: str) -> list[str]:
        out, running = [], 0
        for bound, n in zip((*self.buckets, "+Inf"), self.counts, strict=True):
            running += n
            out.append(f'{name}_bucket{{le="{bound}"}} {running}')
        out.append(f"{name}_sum {self.total:.6f}")
        out.append(f"{name}_count {self.count}")
        return out


# name, type, help, where the value comes from (a hub stats key, or a function of the hub)
COUNTERS = (
    ("messages_received_total", "frames_in", "WebSocket messages received from clients."),
    ("messages_sent_total", "frames_out", "WebSocket messages sent to clients."),
    ("fanout_sent_total", "fanout_sent", "Fan-out messages published to other processes."),
    ("fanout_received_total", "fanout_received", "Fan-out messages received from others."),
    (
        "fanout_dropped_total",
        "fanout_gaps",
        "Gaps seen in other processes' fan-out sequence: messages the channel layer dropped.",
    ),
    (
        "fanout_healed_total",
        "fanout_healed",
        "Catch-ups from the database log that found updates fan-out had not delivered.",
    ),
    ("persist_failures_total", "persist_failures", "Commit batches the database refused."),
    (
        "persist_on_thread_total",
        "persist_on_thread",
        "Commit batches the event loop's own connection could not take at once (notes.journal).",
    ),
    ("compactions_total", "compactions", "Update-log compactions."),
    ("checkpoints_total", "checkpoints", "Automatic history checkpoints taken."),
    ("notes_loaded_total", "notes_loaded", "Notes loaded from the database."),
    ("closed_by_limit_total", "closed_by_limit", "Sockets closed by a limit (1009/4413/4429)."),
)


def render(hub) -> str:
    """The hub's figures in Prometheus text format (version 0.0.4)."""
    rooms = list(hub.rooms.values())
    gauges = (
        (
            "open_sockets",
            "Note connections (WebSockets and HTTP sessions) open here.",
            sum(len(r.peers) for r in rooms),
        ),
        (
            "list_sockets",
            "Live notes-list sockets open in this process.",
            sum(len(peers) for peers in hub.feed.listeners.values()),
        ),
        ("loaded_notes", "Notes loaded in this process.", len(rooms)),
        ("persist_queue", "Updates waiting to be committed.", len(hub.commits.queue)),
    )
    lines: list[str] = []
    for name, help_text, value in gauges:
        full = f"collab_notes_{name}"
        lines += [f"# HELP {full} {help_text}", f"# TYPE {full} gauge", f"{full} {value}"]
    for name, key, help_text in COUNTERS:
        full = f"collab_notes_{name}"
        lines += [
            f"# HELP {full} {help_text}",
            f"# TYPE {full} counter",
            f"{full} {hub.stats.get(key, 0)}",
        ]
    full = "collab_notes_persist_seconds"
    lines += [
        f"# HELP {full} Time to commit one batch of updates (persist before broadcast).",
        f"# TYPE {full} histogram",
        *hub.commits.persist_seconds.lines(full),
    ]
    full = "collab_notes_edit_commit_seconds"
    lines += [
        f"# HELP {full} From an edit's arrival on the socket to its commit (before fan-out).",
        f"# TYPE {full} histogram",
        *hub.commits.edit_commit_seconds.lines(full),
    ]
    return "\n".join(lines) + "\n"

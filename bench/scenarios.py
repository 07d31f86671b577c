"""
The benchmark scenarios. Each becomes one load-generator config (bench/loadgen/main.js) per
server; the runner fills in the target (URLs, cookies, Origin).
"""

from dataclasses import asdict, dataclass, field, replace

TYPING_AUTHORS = 20
# The 20-author figures, ours and the reference's, come from this many interleaved runs each,
# pooled (bench/rounds.py): one run's p99 says more about the machine at that moment.
TYPING_ROUNDS = 3
SWEEP_AUTHORS = (2, 5, 10, 20, 50, 100, 150)
BROADCAST_READERS = (250, 500, 1000, 2000)
IDLE_SOCKETS = (1000, 2000)
# Idle sessions over the HTTP transport: each holds a stream open, and POSTs now and then.
IDLE_HTTP_SESSIONS = (1000,)
# The HTTP transport's goal: its typing-20 p99 within this many times our WebSocket typing-20's,
# in the same run (issue #20).
HTTP_TYPING_RATIO = 3
# Chat beside the typing (issue #21): this many messages a second POSTed to the note, and its
# goal: typing-20's p99 with them within this many times typing-20's alone, in the same run.
CHAT_PER_SECOND = 2
CHAT_TYPING_RATIO = 1.2
KNEE_P95_MS = 100
# Full replicas per note in the large scenarios; the other clients follow update metadata, which
# keeps the generator from becoming the bottleneck (measured: 100 authors with every client a full
# replica used 60% of a core per worker and ran 0.5-1.5 s late; with 10 full, 26% and on time;
# at 150 authors 10 full replicas still left its timers 40-55 ms late (p99), 3 about 25-35 ms).
# Three replicas are enough to check that the texts converge.
SWEEP_FULL_CLIENTS = 3
BROADCAST_FULL_CLIENTS = 20


@dataclass(frozen=True)
class Scenario:
    key: str
    group: str
    title: str
    notes: int = 1
    authors_per_note: int = 0
    readers_per_note: int = 0
    rate: float = 5
    mode: str = "timed"
    warmup_ms: int = 3000
    measure_ms: int = 15000
    workers: int = 2
    connect_spread_ms: int = 0
    connect_concurrency: int = 16
    quiesce_timeout_ms: int = 10000
    processes: int = 1  # our server only: daphne processes sharing Redis
    # Clients per note that keep a full Y.Doc (the rest follow update metadata, see
    # bench/loadgen/client.js); None: all of them.
    full_clients_per_note: int | None = None
    prefill: dict | None = None
    fresh_server: bool = False  # restart (and warm up) the server first, for memory figures
    # Take the reference figures from this scenario of the same run instead of running the
    # reference again (it has one process either way).
    reference_from: str | None = None
    # Runs per server, interleaved with the other server's and pooled (bench/rounds.py).
    rounds: int = 1
    # How clients reach the server: "ws" (a WebSocket each) or "http" (the HTTP transport,
    # docs/protocol.md; only our server has it).
    transport: str = "ws"
    # The servers it runs against: "ours", "reference".
    servers: tuple[str, ...] = ("ours", "reference")
    # Run its rounds interleaved with those of this scenario, when the same run has it (so the
    # two are compared over the same stretch of time; bench/rounds.py).
    interleave_with: str | None = None
    # Open every client with ?acks=1, as the editor does, so it also gets our own messages
    # (saved, access, chat; docs/protocol.md). Our server only.
    acks: bool = False
    # Chat messages a second POSTed to the first note by the generator while the authors type
    # (bench/loadgen/chat.js); needs `acks`. Our server only.
    chat_per_second: float = 0
    extra: dict = field(default_factory=dict)

    @property
    def clients(self) -> int:
        return self.notes * (self.authors_per_note + self.readers_per_note)

    def loadgen_config(self, target: dict) -> dict:
        """The JSON the load generator reads."""
        config = {
            "name": self.key,
            "target": target,
            "workers": self.workers,
            "authorsPerNote": self.authors_per_note,
            "readersPerNote": self.readers_per_note,
            "rate": self.rate,
            "mode": self.mode,
            "warmupMs": self.warmup_ms,
            "measureMs": self.measure_ms,
            "connectSpreadMs": self.connect_spread_ms,
            "connectConcurrency": self.connect_concurrency,
            "quiesceTimeoutMs": self.quiesce_timeout_ms,
        }
        if self.full_clients_per_note is not None:
            config["fullClientsPerNote"] = self.full_clients_per_note
        if self.mode == "pingpong":
            config["pingPongAuthorIDs"] = [100000, 100001]
        if self.prefill:
            config["prefill"] = self.prefill
        if self.rounds > 1:
            config["keepLatencySamples"] = True
        if self.transport != "ws":
            config["transport"] = self.transport
        if self.acks:
            config["acks"] = True
        if self.chat_per_second:
            config["chatPerSecond"] = self.chat_per_second
        config.update(self.extra)
        return config

    def describe(self) -> dict:
        return asdict(self)


def typing(
    authors: int,
    *,
    measure_ms: int = 10000,
    group: str = "typing",
    full=None,
    processes=1,
    rounds: int = 1,
):
    return Scenario(
        key=f"{group}-{authors}",
        group=group,
        title=f"{authors} authors × 5 edits/s on one note",
        authors_per_note=authors,
        measure_ms=measure_ms,
        full_clients_per_note=full,
        processes=processes,
        reference_from=f"sweep-{authors}" if processes > 1 else None,
        rounds=rounds,
    )


PING_PONG = Scenario(
    key="pingpong-2",
    group="pingpong",
    title="2 authors, each answering the other's edit at once",
    authors_per_note=2,
    mode="pingpong",
    warmup_ms=2000,
    measure_ms=10000,
)


def broadcast(readers: int) -> Scenario:
    return Scenario(
        key=f"broadcast-{readers}",
        group="broadcast",
        title=f"1 author × 5 edits/s, {readers} readers",
        authors_per_note=1,
        readers_per_note=readers,
        warmup_ms=2000,
        measure_ms=10000,
        quiesce_timeout_ms=20000,
        connect_concurrency=32,
        full_clients_per_note=BROADCAST_FULL_CLIENTS,
    )


MANY_NOTES = Scenario(
    key="notes-200x3",
    group="many-notes",
    title="200 notes × 3 authors × 1 edit/s",
    notes=200,
    authors_per_note=3,
    rate=1,
    warmup_ms=3000,
    measure_ms=15000,
    quiesce_timeout_ms=20000,
    connect_concurrency=32,
)


def idle(sockets: int) -> Scenario:
    # No edits: connect, hold, and let the runner read the server's RSS during the hold.
    return Scenario(
        key=f"idle-{sockets}",
        group="idle",
        title=f"{sockets} idle sockets on 10 notes",
        notes=10,
        readers_per_note=sockets // 10,
        warmup_ms=2000,
        measure_ms=4000,
        connect_concurrency=32,
        fresh_server=True,
    )


def http_typing(authors: int, *, rounds: int = TYPING_ROUNDS) -> Scenario:
    """typing-N over the HTTP transport, on our server only (the reference has no such
    transport); its rounds interleave with typing-N's, whose WebSocket figures it is held to."""
    return replace(
        typing(authors, group="http-typing", rounds=rounds),
        title=f"{authors} authors × 5 edits/s on one note, over the HTTP transport",
        transport="http",
        servers=("ours",),
        interleave_with=f"typing-{authors}",
    )


def chat_typing(authors: int, *, rounds: int = TYPING_ROUNDS) -> Scenario:
    """typing-N with CHAT_PER_SECOND chat messages a second on the same note, on our server
    only (the reference has no chat); its rounds interleave with typing-N's, whose figures it is
    held to. Its clients open with ?acks=1, as the editor does: only such editors get chat."""
    return replace(
        typing(authors, group="chat-typing", rounds=rounds),
        title=f"{authors} authors × 5 edits/s on one note, {CHAT_PER_SECOND} chat messages/s",
        servers=("ours",),
        interleave_with=f"typing-{authors}",
        acks=True,
        chat_per_second=CHAT_PER_SECOND,
    )


def idle_http(sessions: int) -> Scenario:
    """idle-N over the HTTP transport: memory per idle HTTP session, beside per socket."""
    return replace(
        idle(sessions),
        key=f"idle-http-{sessions}",
        group="idle-http",
        title=f"{sessions} idle HTTP sessions on 10 notes",
        transport="http",
        servers=("ours",),
    )


def cross_process(authors: int) -> Scenario:
    """The typing sweep with our clients alternating over 2 daphne processes on Redis."""
    return typing(authors, group="cross-process", full=SWEEP_FULL_CLIENTS, processes=2)


# B4-sized: the automerge-perf LaTeX trace has 259,778 operations and leaves 104,852
# characters; bench/loadgen/trace.js replays a synthetic trace of that size.
B4_TRACE = {"ops": 260000, "chars": 100000}

JOIN_STORM = Scenario(
    key="join-storm-100",
    group="join-storm",
    title="100 clients join a B4-sized note (260,000 operations, ≈100,000 characters) in 1 s",
    readers_per_note=100,
    warmup_ms=0,
    measure_ms=1000,
    connect_spread_ms=1000,
    prefill={"trace": B4_TRACE},
    # A joiner's Yjs applies this note in about 33 ms on this machine, and even reading its
    # update metadata takes 8 ms: on two generator workers, 100 of either would measure the
    # generator (10 full replicas and 90 metadata readers cost it about 1 s of CPU within the
    # 1 s storm). 2 full replicas check the text; the rest only time the server's answer. The
    # replicas join last (see planClients in bench/loadgen/main.js).
    full_clients_per_note=2,
    extra={"otherClientsTrack": "arrival", "fullClientsLast": True},
)


# Run on a freshly started server before a memory measurement (not reported).
WARM_UP = Scenario(
    key="warm-up",
    group="warm-up",
    title="10 authors for 1 s",
    authors_per_note=10,
    warmup_ms=0,
    measure_ms=1000,
)


def quick() -> list[Scenario]:
    return [
        typing(TYPING_AUTHORS, rounds=TYPING_ROUNDS),
        http_typing(TYPING_AUTHORS),
        chat_typing(TYPING_AUTHORS),
        PING_PONG,
    ]


def full() -> list[Scenario]:
    sweep = [
        typing(
            n,
            group="sweep",
            full=SWEEP_FULL_CLIENTS,
            rounds=TYPING_ROUNDS if n == TYPING_AUTHORS else 1,
        )
        for n in SWEEP_AUTHORS
    ]
    return [
        *quick(),
        *sweep,
        *(broadcast(n) for n in BROADCAST_READERS),
        MANY_NOTES,
        *(idle(n) for n in IDLE_SOCKETS),
        *(idle_http(n) for n in IDLE_HTTP_SESSIONS),
        *(cross_process(n) for n in SWEEP_AUTHORS),
        JOIN_STORM,
    ]

"""The chat beside typing-20: its scenario, and how its rounds' chat figures are pooled."""

from bench import rounds, scenarios
from bench.report import chat_typing_section


def _chat_round(latencies, *, sent=20, acknowledged=20, clients=20, statuses=None):
    expected = acknowledged * clients
    return {
        "sent": sent,
        "acknowledged": acknowledged,
        "statuses": statuses or {"201": acknowledged},
        "errorSamples": [],
        "clients": clients,
        "expected": expected,
        "delivered": len(latencies),
        "clientsMissingAny": 0,
        "framesIn": expected,
        "latencySamplesMs": list(latencies),
        "postSamplesMs": [5.0] * acknowledged,
    }


def test_chat_typing_is_typing_20_with_acks_and_chat_on_our_server_interleaved_with_typing_20():
    typing = scenarios.typing(20, rounds=scenarios.TYPING_ROUNDS)
    chat = scenarios.chat_typing(20)
    assert chat.key == "chat-typing-20"
    assert (chat.authors_per_note, chat.notes, chat.rate) == (20, 1, 5)
    assert (chat.warmup_ms, chat.measure_ms, chat.rounds) == (
        typing.warmup_ms,
        typing.measure_ms,
        typing.rounds,
    )
    assert chat.servers == ("ours",) and chat.interleave_with == "typing-20"
    config = chat.loadgen_config({"kind": "ours", "urls": [["ws://h/ws/notes/x/"]]})
    assert config["acks"] is True and config["chatPerSecond"] == 2
    plain = typing.loadgen_config({"kind": "ours", "urls": [["ws://h/ws/notes/x/"]]})
    assert "acks" not in plain and "chatPerSecond" not in plain
    assert {k: v for k, v in config.items() if k not in ("name", "acks", "chatPerSecond")} == {
        k: v for k, v in plain.items() if k != "name"
    }
    assert "chat-typing-20" in [s.key for s in scenarios.quick()]


def test_chat_figures_pool_counts_and_every_rounds_latency_samples():
    quiet = [1.0] * 99 + [2.0]
    slow = [1.0] * 90 + [40.0] * 10
    pooled = rounds.pool_chat(
        [
            _chat_round(quiet, sent=5, acknowledged=5),
            _chat_round(slow, sent=6, acknowledged=5, statuses={"201": 5, "429": 1}),
        ]
    )
    assert (pooled["sent"], pooled["acknowledged"]) == (11, 10)
    assert pooled["statuses"] == {"201": 10, "429": 1}
    assert (pooled["expected"], pooled["delivered"]) == (200, 200)
    assert pooled["latencyMs"]["count"] == 200 and pooled["latencyMs"]["p99"] == 40.0
    assert pooled["postMs"]["count"] == 10
    assert [r["sent"] for r in pooled["rounds"]] == [5, 6]


def test_pooled_rounds_carry_pooled_chat_only_when_every_round_chatted():
    from tests.unit.test_bench_rounds import _run

    with_chat = [{**_run([1.0] * 10), "chat": _chat_round([1.0] * 400)} for _ in range(2)]
    assert rounds.pool(with_chat)["chat"]["sent"] == 40
    assert "chat" not in rounds.pool([_run([1.0] * 10), _run([1.0] * 10)])


def test_the_chat_section_shows_the_chat_beside_typing_alone():
    with_chat = {
        "latencyMs": {"p50": 1.0, "p95": 2.0, "p99": 3.3, "max": 9.0},
        "delivered": 100,
        "expected": 100,
        "deliveredRatio": 1.0,
        "chat": rounds.pool_chat([_chat_round([3.0] * 400)]),
        "counters": {"unknownIn": 1234},
    }
    alone = {"latencyMs": {"p50": 1.0, "p95": 2.0, "p99": 3.0, "max": 8.0}, "counters": {}}
    results = {
        "typing-20": {"stamp": "A", "ours": alone},
        "chat-typing-20": {"stamp": "A", "ours": with_chat},
    }
    text = "\n".join(chat_typing_section(results))
    assert text.startswith("## Typing beside a chat: 20 authors × 5 edits/s and 2 chat messages/s")
    assert "| latency p99 (ms) | 3.30 | 3.00 | 1.1× |" in text
    assert "| chat messages sent / answered 201 | 20 / 20 | | |" in text
    assert (
        "| chat frames delivered / expected (each message to each client) | 400 / 400 | | |" in text
    )
    assert "| clients that missed any message | 0 of 20 | | |" in text
    assert "from the same run" in text
    assert chat_typing_section({"typing-20": {"stamp": "A", "ours": alone}}) == []

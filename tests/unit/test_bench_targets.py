"""The benchmark report's targets table: each goal's verdict from the figures it reads."""

from bench.report import targets_section


def _typing(p99, *, delivered=100, expected=100):
    return {
        "latencyMs": {"p50": 1.0, "p95": 2.0, "p99": p99},
        "deliveredRatio": delivered / expected,
        "delivered": delivered,
        "expected": expected,
        "generator": {"warnings": []},
        "correctness": {"converged": True, "lateJoiners": 1, "lateJoinersMatching": 1},
    }


def _latest(ours_p99=3.0, ref_p99=2.5, *, knee_p95=(5, 20, 60), lost=0, commit_p99=5.0):
    results = {
        "typing-20": {"ours": _typing(ours_p99), "reference": _typing(ref_p99)},
        "sweep-20": {"ours": _typing(ours_p99), "reference": _typing(ref_p99)},
    }
    for authors, p95 in zip((50, 100, 150), knee_p95, strict=True):
        run = {**_typing(1.0, delivered=100 - lost), "latencyMs": {"p95": p95}}
        results[f"sweep-{authors}"] = {"ours": run, "reference": _typing(1.0)}
    idle = {"server": {"rssBeforeBytes": 80 * 2**20, "rssDuringBytes": 150 * 2**20}}
    results["idle-2000"] = {"ours": idle, "reference": idle}
    sync = {"connect": {"syncMs": {"p95": 40.0, "p99": 90.0, "max": 120.0}}}
    results["join-storm-100"] = {"ours": sync, "reference": sync}
    persistence = {"rows": [{"db": "sqlite", "p99_ms": commit_p99}]}
    return {"results": results, "persistence": persistence}


def _verdicts(latest) -> dict[str, str]:
    rows = [line for line in targets_section(latest) if line.startswith("| ") and "---" not in line]
    return {row.split(" | ")[0][2:]: row.rsplit(" | ", 1)[1].rstrip(" |") for row in rows[1:]}


def test_every_goal_is_met_by_good_figures():
    verdicts = _verdicts(_latest())
    assert len(verdicts) == 7
    assert set(verdicts.values()) == {"yes"}


def test_typing_p99_over_one_and_a_half_times_the_reference_is_not_met():
    verdicts = _verdicts(_latest(ours_p99=3.9, ref_p99=2.5))
    assert verdicts["typing p99, 20 authors ≤ 1.5× the reference"] == "**no**"


def test_a_knee_below_150_authors_is_not_met():
    verdicts = _verdicts(_latest(knee_p95=(5, 120, 60)))
    assert verdicts["knee ≥ 150 authors, one process"] == "**no**"


def test_one_lost_delivery_anywhere_fails_the_loss_goal():
    verdicts = _verdicts(_latest(lost=1))
    assert verdicts["0 lost deliveries, every scenario"] == "**no**"


def test_a_slow_commit_fails_its_goal_and_missing_figures_claim_nothing():
    verdicts = _verdicts(_latest(commit_p99=140.0))
    assert verdicts["edit-to-commit p99 ≤ 100 ms"] == "**no**"
    assert set(_verdicts({"results": {}}).values()) == {"–"}


def _with_http(http_p99, ws_p99, *, lost=0, same_run=True):
    from bench.report import http_target_rows

    results = {
        "typing-20": {"stamp": "A", "ours": _typing(ws_p99)},
        "http-typing-20": {
            "stamp": "A" if same_run else "B",
            "ours": _typing(http_p99, delivered=100 - lost),
        },
    }
    return http_target_rows(results)


def test_the_http_target_compares_with_our_websocket_typing_of_the_same_run():
    from bench.report import http_target_rows

    assert http_target_rows({"typing-20": {"stamp": "A", "ours": _typing(1.0)}}) == []
    (met,) = _with_http(8.0, 3.0)
    assert met.endswith("| yes |") and "(2.7×)" in met
    (slow,) = _with_http(10.0, 3.0)
    assert slow.endswith("| **no** |")
    (lossy,) = _with_http(4.0, 3.0, lost=1)
    assert lossy.endswith("| **no** |")
    (apart,) = _with_http(4.0, 3.0, same_run=False)
    assert apart.endswith("| – |") and "another run" in apart


def test_rounds_interleave_any_number_of_sides_swapping_ends_each_round():
    from bench.rounds import interleave

    order = [side for _, side in interleave(["ours", "ref", "http"], 3)]
    assert order == ["ours", "ref", "http", "http", "ref", "ours", "ours", "ref", "http"]
    assert [n for n, _ in interleave("ab", 2)] == [0, 0, 1, 1]


def _chat(*, sent=40, acknowledged=40, clients=20, missed=0):
    expected = acknowledged * clients
    return {
        "sent": sent,
        "acknowledged": acknowledged,
        "statuses": {
            "201": acknowledged,
            **({"429": sent - acknowledged} if sent > acknowledged else {}),
        },
        "clients": clients,
        "expected": expected,
        "delivered": expected - missed,
        "clientsMissingAny": min(missed, clients),
    }


def _with_chat(chat_p99, alone_p99, *, lost=0, same_run=True, chat=None):
    from bench.report import chat_target_rows

    with_chat = _typing(chat_p99, delivered=100 - lost)
    with_chat["chat"] = _chat() if chat is None else chat
    results = {
        "typing-20": {"stamp": "A", "ours": _typing(alone_p99)},
        "chat-typing-20": {"stamp": "A" if same_run else "B", "ours": with_chat},
    }
    return chat_target_rows(results)


def test_the_chat_target_compares_with_typing_alone_in_the_same_run():
    from bench.report import chat_target_rows

    assert chat_target_rows({"typing-20": {"stamp": "A", "ours": _typing(1.0)}}) == []
    (met,) = _with_chat(3.5, 3.0)
    assert met.startswith("| typing p99 with 2 chat messages/s ≤ 1.2× typing-20 alone, same run |")
    assert met.endswith("| yes |") and "(1.2×)" in met and "800 / 800 delivered" in met
    (slow,) = _with_chat(3.7, 3.0)
    assert slow.endswith("| **no** |")
    (apart,) = _with_chat(3.0, 3.0, same_run=False)
    assert apart.endswith("| – |") and "another run" in apart


def test_the_chat_target_fails_if_typing_or_chat_lost_anything():
    (lossy,) = _with_chat(3.0, 3.0, lost=1)
    assert lossy.endswith("| **no** |")
    (missed,) = _with_chat(3.0, 3.0, chat=_chat(missed=1))
    assert missed.endswith("| **no** |") and "799 / 800 delivered" in missed
    (refused,) = _with_chat(3.0, 3.0, chat=_chat(acknowledged=30))
    assert refused.endswith("| **no** |") and "30 of 40 answered 201" in refused


def test_the_chat_target_claims_nothing_when_no_chat_was_sent():
    (silent,) = _with_chat(3.0, 3.0, chat={})
    assert silent.endswith("| – |") and "no chat sent" in silent
    (zero,) = _with_chat(3.0, 3.0, chat=_chat(sent=0, acknowledged=0))
    assert zero.endswith("| – |")


def test_the_targets_table_carries_the_chat_row_once_the_chat_scenario_ran():
    latest = _latest()
    with_chat = {**_typing(3.3), "chat": _chat()}
    latest["results"]["chat-typing-20"] = {"ours": with_chat}
    verdicts = _verdicts(latest)
    assert verdicts["typing p99 with 2 chat messages/s ≤ 1.2× typing-20 alone, same run"] == "yes"
    assert len(verdicts) == 8

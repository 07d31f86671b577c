"""Interleaved benchmark rounds: their order and how their results are pooled."""

from bench import rounds


def _run(samples, *, delivered=None, converged=True, warnings=(), cpu=10.0, error=None):
    count = len(samples)
    return {
        "error": error,
        "latencySamplesMs": list(samples),
        "latencyMs": rounds.summarize(samples),
        "delivered": count if delivered is None else delivered,
        "expected": count,
        "edits": {
            "total": 12,
            "measured": 10,
            "achievedRatePerSecond": 100,
            "targetRatePerSecond": 100,
        },
        "correctness": {
            "converged": converged,
            "divergedNotes": [] if converged else [0],
            "lateJoiners": 1,
            "lateJoinersMatching": 1 if converged else 0,
            "lateJoinFailures": [],
        },
        "generator": {"workers": [{"cpuPercent": 20}], "warnings": list(warnings)},
        "server": {"cpuPercent": cpu, "otherCpuPercent": 1.0, "logProblems": 0, "logSamples": []},
    }


def test_each_server_runs_first_as_often_as_second():
    assert rounds.order(3) == [
        (0, "ours"),
        (0, "reference"),
        (1, "reference"),
        (1, "ours"),
        (2, "ours"),
        (2, "reference"),
    ]
    assert [kind for _, kind in rounds.order(4)].count("ours") == 4


def test_percentiles_are_nearest_rank_like_the_generator():
    summary = rounds.summarize([float(x) for x in range(1, 101)])
    assert (summary["p50"], summary["p95"], summary["p99"], summary["max"]) == (50, 95, 99, 100)
    assert rounds.summarize([])["p99"] is None


def test_pooled_tail_comes_from_every_round_not_the_average_of_rounds():
    quiet = [1.0] * 98 + [2.0] * 2
    noisy = [1.0] * 90 + [30.0] * 10
    pooled = rounds.pool([_run(quiet), _run(quiet), _run(noisy)])
    # 10 slow samples out of 300: above the 99th percentile of the pool, below the 95th.
    assert pooled["latencyMs"]["p99"] == 30.0
    assert pooled["latencyMs"]["p95"] == 1.0
    assert pooled["latencyMs"]["count"] == 300
    assert [r["latencyMs"]["p99"] for r in pooled["rounds"]] == [2.0, 2.0, 30.0]
    assert "latencySamplesMs" not in pooled


def test_pooling_sums_deliveries_and_keeps_every_problem():
    pooled = rounds.pool(
        [_run([1.0] * 10), _run([1.0] * 10, delivered=9, converged=False, warnings=["lag"])]
    )
    assert (pooled["delivered"], pooled["expected"]) == (19, 20)
    assert pooled["deliveredRatio"] == 0.95
    assert pooled["correctness"]["converged"] is False
    assert pooled["correctness"]["lateJoinersMatching"] == 1
    assert pooled["generator"]["warnings"] == ["lag"]
    assert pooled["edits"]["measured"] == 20


def test_a_failed_round_fails_the_pooled_result():
    failed = {"error": "load generator did not finish", "server": {}}
    pooled = rounds.pool([_run([1.0] * 10), failed])
    assert pooled["error"] == "load generator did not finish"
    assert [r["error"] for r in pooled["rounds"]] == [None, "load generator did not finish"]

"""The benchmark report's knee: the first sweep step whose p95 is over 100 ms or loses a
delivery, with runs where the load generator lagged treated as upper bounds."""

from bench.report import _knee

LAG = {"warnings": ["generator worker 0: edit timers late p99 40 ms"]}


def _run(p95, *, lagged=False, delivered=1.0):
    return {
        "latencyMs": {"p95": p95},
        "deliveredRatio": delivered,
        "generator": LAG if lagged else {"warnings": []},
    }


def _pairs(*runs):
    return [(f"{i}", run, run) for i, run in enumerate(runs, start=1)]


def test_the_first_step_over_the_limit_is_the_knee():
    assert _knee(_pairs(_run(5), _run(60), _run(140), _run(30)), "ours") == "**3**"


def test_a_lost_delivery_is_the_knee_whatever_the_latency():
    assert _knee(_pairs(_run(5), _run(6, delivered=0.99)), "ours") == "**2**"


def test_a_lagged_step_within_the_limit_counts_as_under_the_knee():
    knee = _knee(_pairs(_run(5), _run(85, lagged=True)), "ours")
    assert knee.startswith("**none up to 2**")
    assert "at 2 the generator lagged, and p95 was within the limit anyway" in knee


def test_a_lagged_step_over_the_limit_is_skipped_not_blamed_on_the_server():
    knee = _knee(_pairs(_run(5), _run(900, lagged=True), _run(120)), "ours")
    assert knee == "**3** (runs at 2 skipped: generator lagged)"


def test_a_skipped_last_step_is_not_claimed():
    knee = _knee(_pairs(_run(5), _run(60), _run(900, lagged=True)), "ours")
    assert knee == "**none up to 2** (runs at 3 skipped: generator lagged)"

"""
Interleaved rounds: one scenario run several times against each server, in an order that gives
neither server the machine's quieter moments, and the rounds' latency samples pooled into one
result.

On this shared 2-core machine a single 15 s run's p99 moves with whatever else the host is
doing: the reference's typing-20 p99 ranged from 4.5 to 20 ms within an hour, and two
consecutive runs of ours against it gave 1.13× and 1.66×. A tail figure compared between two
servers measured at different moments mostly compares the moments. Alternating the servers
(ours, reference, reference, ours, ours, reference, ...) and pooling every sample of every
round compares the servers over the same stretch of time.
"""

import math

ORDER = ("ours", "reference")


def order(rounds: int) -> list[tuple[int, str]]:
    """(round, server kind) in running order: ABBA, so each server runs first as often as
    second and drift over the run falls on both alike."""
    return interleave(ORDER, rounds)


def interleave(sides, rounds: int) -> list[tuple[int, object]]:
    """(round, side) in running order for any number of sides (a side is whatever the caller
    runs: a server, or a scenario on a server): in order, then reversed, and so on (ABC CBA
    ABC), so the first and the last swap places every round."""
    runs = []
    for n in range(rounds):
        these = tuple(sides) if n % 2 == 0 else tuple(reversed(sides))
        runs += [(n, side) for side in these]
    return runs


def summarize(samples: list[float]) -> dict:
    """The generator's summary (bench/loadgen/stats.js): nearest-rank percentiles, in ms."""
    ordered = sorted(samples)
    if not ordered:
        return {
            "count": 0,
            "mean": None,
            "min": None,
            "p50": None,
            "p95": None,
            "p99": None,
            "max": None,
        }

    def rank(p):
        return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]

    return {
        "count": len(ordered),
        "mean": round(sum(ordered) / len(ordered), 3),
        "min": round(ordered[0], 3),
        "p50": round(rank(50), 3),
        "p95": round(rank(95), 3),
        "p99": round(rank(99), 3),
        "max": round(ordered[-1], 3),
    }


def pool(runs: list[dict]) -> dict:
    """One result from the rounds of one server: latency over every round's samples, counts
    summed, correctness and warnings from all. A failed round fails the whole."""
    first = runs[0]
    failed = next((r for r in runs if r.get("error")), None)
    per_round = [_round_summary(n, r) for n, r in enumerate(runs)]
    if failed is not None:
        return {**_without_samples(failed), "rounds": per_round}
    pooled = {**_without_samples(first), "rounds": per_round}
    pooled["latencyMs"] = summarize([x for r in runs for x in r["latencySamplesMs"]])
    pooled["delivered"] = sum(r["delivered"] for r in runs)
    pooled["expected"] = sum(r["expected"] for r in runs)
    pooled["deliveredRatio"] = (
        round(pooled["delivered"] / pooled["expected"], 6) if pooled["expected"] else None
    )
    pooled["edits"] = {
        **first["edits"],
        "total": sum(r["edits"]["total"] for r in runs),
        "measured": sum(r["edits"]["measured"] for r in runs),
        "achievedRatePerSecond": round(
            sum(r["edits"]["achievedRatePerSecond"] for r in runs) / len(runs), 1
        ),
    }
    checks = [r["correctness"] for r in runs]
    pooled["correctness"] = {
        "converged": all(c["converged"] for c in checks),
        "divergedNotes": [n for c in checks for n in c["divergedNotes"]],
        "lateJoiners": sum(c["lateJoiners"] for c in checks),
        "lateJoinersMatching": sum(c["lateJoinersMatching"] for c in checks),
        "lateJoinFailures": [f for c in checks for f in c["lateJoinFailures"]],
    }
    pooled["generator"] = {
        "workers": [w for r in runs for w in r["generator"]["workers"]],
        "warnings": [w for r in runs for w in r["generator"]["warnings"]],
    }
    servers = [r["server"] for r in runs]
    pooled["server"] = {
        **servers[0],
        "cpuPercent": _mean(s.get("cpuPercent") for s in servers),
        "otherCpuPercent": max((s.get("otherCpuPercent") or 0.0) for s in servers),
        "logProblems": sum(s.get("logProblems", 0) for s in servers),
        "logSamples": [line for s in servers for line in s.get("logSamples", [])][:8],
    }
    pooled["wallSeconds"] = round(sum(r.get("wallSeconds", 0) for r in runs), 1)
    counters: dict[str, int] = {}
    for r in runs:
        for k, v in r.get("counters", {}).items():
            counters[k] = counters.get(k, 0) + v
    pooled["counters"] = counters
    if all(r.get("chat") for r in runs):
        pooled["chat"] = pool_chat([r["chat"] for r in runs])
    return pooled


def pool_chat(chats: list[dict]) -> dict:
    """The chat figures of several rounds (bench/loadgen/chat.js) as one: counts summed,
    delivery latency over every round's samples."""
    summed = ("sent", "acknowledged", "clients", "expected", "delivered", "clientsMissingAny")
    pooled = {k: sum(c[k] for c in chats) for k in (*summed, "framesIn")}
    statuses: dict[str, int] = {}
    for c in chats:
        for status, n in c["statuses"].items():
            statuses[status] = statuses.get(status, 0) + n
    pooled["statuses"] = statuses
    pooled["errorSamples"] = [e for c in chats for e in c.get("errorSamples", [])][:5]
    pooled["latencyMs"] = summarize([x for c in chats for x in c.get("latencySamplesMs", [])])
    pooled["postMs"] = summarize([x for c in chats for x in c.get("postSamplesMs", [])])
    pooled["rounds"] = [
        {k: c.get(k) for k in ("sent", "acknowledged", "expected", "delivered")} for c in chats
    ]
    return pooled


def _round_summary(n: int, r: dict) -> dict:
    return {
        "round": n,
        "error": r.get("error"),
        "latencyMs": r.get("latencyMs"),
        "delivered": r.get("delivered"),
        "expected": r.get("expected"),
        "cpuPercent": r.get("server", {}).get("cpuPercent"),
        "warnings": r.get("generator", {}).get("warnings", []),
    }


def _without_samples(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "latencySamplesMs"}


def _mean(values) -> float | None:
    known = [v for v in values if v is not None]
    return round(sum(known) / len(known), 1) if known else None

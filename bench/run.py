"""
Benchmark runner: `python -m bench.run --quick` (make bench) or `--full` (make bench-full).

Starts our server (daphne) and the reference Node server, runs every scenario with the same
load generator against each, stops both, saves raw JSON under bench/results/ and rewrites
docs/benchmarks.md. `--only KEY` runs chosen scenarios (e.g. --only typing-20).
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from bench import disk, report, rounds, scenarios
from bench.servers import BENCH, ROOT, OurServer, ReferenceServer, cpu_seconds, rss_bytes

RESULTS = BENCH / "results"
LATEST = RESULTS / "latest.json"
SAMPLE_EVERY_S = 0.2
OTHER_CPU_WARN_PERCENT = report.BUSY_PERCENT
# Before each run, wait up to QUIET_WAIT_S for the machine to be this idle (% of one core).
QUIET_BUSY_PERCENT = 20
QUIET_WAIT_S = 90
LOG_WORDS = ("ERROR", "Traceback", "WARNING", "Exception")
# Lines every run prints that say nothing about this run.
LOG_NOISE = ("REDIS_URL is unset",)


def ensure_node_deps() -> None:
    """Install the generator's npm packages from the lock file when they are missing or stale."""
    stamp = BENCH / "node_modules" / ".package-lock.json"
    lock = BENCH / "package-lock.json"
    if stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return
    print("installing bench/ npm packages (npm ci)", flush=True)
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=BENCH, check=True)


def ensure_plot_deps() -> None:
    """Install bench/requirements.txt (matplotlib, for the plot) into this venv when missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("installing bench/requirements.txt (pip)", flush=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "-r",
                str(BENCH / "requirements.txt"),
            ],
            check=False,
        )


def machine_busy_seconds() -> float:
    """CPU time all cores have spent busy since boot, from the first line of /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class Sampler:
    """Samples RSS and CPU time of the server processes while a scenario runs."""

    def __init__(self, pids: list[int]):
        self.pids = pids
        # (epoch ms, server rss bytes, server cpu s, machine busy cpu s)
        self.samples: list[tuple[float, int, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> tuple[float, int, float, float]:
        return (
            time.time() * 1000,
            sum(rss_bytes(p) for p in self.pids),
            sum(cpu_seconds(p) for p in self.pids),
            machine_busy_seconds(),
        )

    def _loop(self):
        while not self._stop.is_set():
            try:
                self.samples.append(self.sample())
            except OSError:
                return
            self._stop.wait(SAMPLE_EVERY_S)

    def __enter__(self):
        self.before = self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)

    def summary(self, window: dict | None) -> dict:
        """Server RSS before the run and during the measured window; CPU use in that window."""
        out = {"processes": len(self.pids), "rssBeforeBytes": self.before[1]}
        if self.samples:
            out["rssPeakBytes"] = max(s[1] for s in self.samples)
        if not window:
            return out
        inside = [
            s for s in self.samples if window["warmupUntil"] <= s[0] <= window["measureUntil"]
        ]
        if len(inside) >= 2:
            rss = sorted(s[1] for s in inside)
            out["rssDuringBytes"] = rss[len(rss) // 2]
            wall_s = (inside[-1][0] - inside[0][0]) / 1000
            if wall_s:
                out["cpuPercent"] = round(100 * (inside[-1][2] - inside[0][2]) / wall_s, 1)
                # Every process on the machine, in % of one core (100 × cores at most).
                out["machineCpuPercent"] = round(100 * (inside[-1][3] - inside[0][3]) / wall_s, 1)
        return out


def log_hits(server) -> list[str]:
    return [
        line
        for line in server.log_lines_matching(*LOG_WORDS)
        if not any(noise in line for noise in LOG_NOISE)
    ]


def wait_for_quiet_machine() -> float:
    """Wait (bounded) until other processes leave the cores alone; returns the last busy %."""
    deadline = time.monotonic() + QUIET_WAIT_S
    while True:
        before = machine_busy_seconds()
        time.sleep(1)
        busy = 100 * (machine_busy_seconds() - before)
        if busy <= QUIET_BUSY_PERCENT or time.monotonic() > deadline:
            if busy > QUIET_BUSY_PERCENT:
                print(f"   WARNING: machine still {busy:.0f}% busy; running anyway", flush=True)
            return round(busy, 1)


def warm_up(server, out_dir: Path, transport: str = "ws") -> None:
    """A few clients connect, edit and leave, so a fresh server has loaded everything it loads
    (over the transport the scenario uses: its first session should cost what every other does).
    """
    config = replace(scenarios.WARM_UP, transport=transport).loadgen_config(server.target(1))
    path = out_dir / f"warm-up-{server.kind}-{transport}.config.json"
    path.write_text(json.dumps(config))
    subprocess.run(
        ["node", str(BENCH / "loadgen" / "main.js"), str(path), "--out", os.devnull],
        cwd=BENCH,
        timeout=120,
        capture_output=True,
    )
    time.sleep(1)


def disturbance(result: dict) -> float:
    """How far a run was disturbed (0: clean): failures, generator lag, other processes' CPU."""
    if result.get("error"):
        return 1e9
    lag = len(result.get("generator", {}).get("warnings", []))
    other = max(0.0, result.get("server", {}).get("otherCpuPercent") or 0.0)
    return lag * 100 + (other if other > OTHER_CPU_WARN_PERCENT else 0)


def run_one(
    scenario: scenarios.Scenario, server, out_dir: Path, attempt: int = 1, round_: int | None = None
) -> dict:
    """Run one scenario against one server; returns the generator's result plus server figures."""
    name = (
        f"{scenario.key}-{server.kind}"
        + (f"-round{round_ + 1}" if round_ is not None else "")
        + (f"-try{attempt}" if attempt > 1 else "")
    )
    config_path = out_dir / f"{name}.config.json"
    result_path = out_dir / f"{name}.json"
    if server.deaths():
        print(
            f"   WARNING: {server.kind} server had exited (codes {server.deaths()}); restarting it"
        )
        server.restart()
    if scenario.fresh_server:
        server.restart()
        warm_up(server, out_dir, scenario.transport)
    # After any restart: our URLs name the current ports.
    config = scenario.loadgen_config(server.target(scenario.notes))
    config_path.write_text(json.dumps(config, indent=2))
    budget_s = (
        (scenario.warmup_ms + scenario.measure_ms + scenario.quiesce_timeout_ms) / 1000
        + scenario.clients / 10
        + 180
    )
    busy_before = wait_for_quiet_machine()
    hits_before = len(log_hits(server))
    of_rounds = f", round {round_ + 1} of {scenario.rounds}" if round_ is not None else ""
    over = " over HTTP" if scenario.transport == "http" else ""
    print(
        f"== {scenario.key} against {server.kind}{over} ({scenario.clients} clients{of_rounds})",
        flush=True,
    )
    started = time.monotonic()
    with Sampler(server.pids) as sampler:
        try:
            proc = subprocess.run(
                [
                    "node",
                    str(BENCH / "loadgen" / "main.js"),
                    str(config_path),
                    "--out",
                    str(result_path),
                ],
                cwd=BENCH,
                timeout=budget_s,
                capture_output=True,
                text=True,
            )
            failure = (
                None
                if proc.returncode == 0
                else (proc.stderr.strip()[-2000:] or f"exit {proc.returncode}")
            )
            stderr = proc.stderr
        except subprocess.TimeoutExpired as exc:
            failure, stderr = (
                f"load generator did not finish within {budget_s:.0f} s",
                str(exc.stderr or ""),
            )
    for line in stderr.splitlines():
        if line.startswith("WARNING"):
            print(f"   {line}", flush=True)
    result = (
        json.loads(result_path.read_text())
        if failure is None
        else {"name": scenario.key, "target": server.kind}
    )
    died = server.deaths()
    if died:
        # The figures stand if the generator finished cleanly (e.g. the reference server
        # crashes when thousands of clients leave at the end); otherwise the run failed.
        line = f"{server.kind} server process exited (codes {died}) during or after the run"
        print(f"   WARNING: {line}; restarting it", flush=True)
        result["serverDied"] = {"codes": died, "logTail": server.log_tail(15).splitlines()}
        if failure is None:
            result.setdefault("generator", {}).setdefault("warnings", []).append(line)
        else:
            failure = f"{line}; {failure}"
        server.restart()
    result["error"] = failure
    result["server"] = sampler.summary(result.get("window"))
    machine = result["server"].get("machineCpuPercent")
    if machine is not None and "generator" in result:
        generator = sum(w["cpuPercent"] for w in result["generator"]["workers"])
        other = round(machine - result["server"]["cpuPercent"] - generator, 1)
        result["server"]["otherCpuPercent"] = other
        if other > OTHER_CPU_WARN_PERCENT:
            line = f"other processes used {other}% of a core during the measurement"
            result["generator"]["warnings"].append(line)
            print(f"   WARNING: {line}", flush=True)
    hits = log_hits(server)[hits_before:]
    result["server"]["logProblems"] = len(hits)
    result["server"]["logSamples"] = hits[:8]
    result["server"]["machineBusyBeforePercent"] = busy_before
    result["wallSeconds"] = round(time.monotonic() - started, 1)
    result["scenarioInfo"] = scenario.describe()
    result_path.write_text(json.dumps(result, indent=2))
    print(f"   {report.one_line(result)}", flush=True)
    return result


def run_kept(scenario, server, out_dir, retry: bool, round_: int | None = None) -> dict:
    """run_one, and once more if that run was disturbed and `retry`; keeps the cleaner run."""
    result = run_one(scenario, server, out_dir, round_=round_)
    if retry and disturbance(result) > 0:
        # Other sessions share this machine: try once more, keep the cleaner run.
        print("   re-running: that run was disturbed", flush=True)
        again = run_one(scenario, server, out_dir, attempt=2, round_=round_)
        kept, dropped = sorted((result, again), key=disturbance)
        kept["otherAttempt"] = {
            "disturbance": disturbance(dropped),
            "latencyMs": dropped.get("latencyMs"),
            "error": dropped.get("error"),
        }
        result = kept
    return result


def run_against_both(batch, ours, reference, out_dir, results, retry: bool):
    """Run each scenario against its servers. One that interleaves with another scenario of the
    batch runs its rounds between that one's, in one sequence (bench/rounds.py)."""
    keys = {s.key for s in batch}
    partners: dict[str, list] = {}
    for scenario in batch:
        if scenario.interleave_with in keys:
            partners.setdefault(scenario.interleave_with, []).append(scenario)
    for scenario in batch:
        if scenario.interleave_with not in keys:
            group = [scenario, *partners.get(scenario.key, [])]
            run_group(group, {"ours": ours, "reference": reference}, out_dir, results, retry)


def run_group(group, by_kind, out_dir, results, retry: bool) -> None:
    """Every (scenario, server) of `group`, its rounds interleaved; results pooled per pair."""
    pairs: dict[str, dict] = {s.key: {} for s in group}
    for scenario in group:
        reused = results.get(scenario.reference_from or "", {}).get("reference")
        if reused is not None:
            pairs[scenario.key]["reference"] = {**reused, "reusedFrom": scenario.reference_from}
    sides = [(s, kind) for s in group for kind in s.servers if kind not in pairs[s.key]]
    count = max(s.rounds for s in group)
    if count > 1:
        runs: dict[tuple[str, str], list[dict]] = {}
        for n, (scenario, kind) in rounds.interleave(sides, count):
            if n < scenario.rounds:
                round_ = n if scenario.rounds > 1 else None
                runs.setdefault((scenario.key, kind), []).append(
                    run_kept(scenario, by_kind[kind], out_dir, retry, round_=round_)
                )
        for (key, kind), kept in runs.items():
            pairs[key][kind] = rounds.pool(kept) if len(kept) > 1 else kept[0]
            if len(kept) > 1:
                pooled = report.one_line(pairs[key][kind])
                print(f"   {key} {kind}, {len(kept)} rounds pooled: {pooled}", flush=True)
    else:
        for scenario, kind in sides:
            pairs[scenario.key][kind] = run_kept(scenario, by_kind[kind], out_dir, retry)
    for scenario in group:
        results[scenario.key] = {
            k: pairs[scenario.key][k] for k in ("ours", "reference") if k in pairs[scenario.key]
        }


def measure_disk(when: str) -> dict:
    """The disk's commit latency where our database lives (bench/disk.py), printed."""
    summary = disk.flush_latency()
    print(
        f"== disk {when}: a durable SQLite commit took p50 {summary['p50']} p99 {summary['p99']} "
        f"max {summary['max']} ms ({summary['count']} commits)",
        flush=True,
    )
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.split("\n\n")[0]
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="typing and ping-pong only (default)")
    size.add_argument("--full", action="store_true", help="every scenario (about 20 minutes)")
    parser.add_argument("--only", action="append", default=[], help="run only this scenario key")
    parser.add_argument(
        "--db", choices=["sqlite", "postgres"], default="sqlite", help="our database"
    )
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument(
        "--no-retry", action="store_true", help="do not re-run a run that was disturbed"
    )
    args = parser.parse_args(argv)

    chosen = scenarios.full() if args.full or args.only else scenarios.quick()
    if args.only:
        chosen = [s for s in chosen if s.key in args.only]
        if not chosen:
            parser.error(f"no scenario named {args.only}; see bench/scenarios.py")
    ensure_node_deps()
    if any(s.group == "sweep" for s in chosen):
        ensure_plot_deps()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = RESULTS / stamp
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    began = time.monotonic()
    flush = {"before": measure_disk("before")}

    by_processes: dict[int, list] = {}
    for s in chosen:
        by_processes.setdefault(s.processes, []).append(s)
    with ReferenceServer() as reference:
        for processes, batch in sorted(by_processes.items()):
            # Every attempt of every round, and every warm-up, takes fresh notes.
            notes = 2 * sum(s.rounds * (s.notes + 1) for s in batch)
            sessions = max(s.clients for s in batch) + 20
            with OurServer(notes=notes, sessions=sessions, processes=processes, db=args.db) as ours:
                try:
                    run_against_both(
                        batch, ours, reference, out_dir, results, retry=not args.no_retry
                    )
                finally:
                    ours.save_logs(out_dir)
        reference.save_logs(out_dir)
    flush["after"] = measure_disk("after")

    environment = report.environment()
    run_info = {
        "stamp": stamp,
        "mode": "full" if args.full else ("only" if args.only else "quick"),
        "db": args.db,
        "argv": ["python", "-m", "bench.run", *(argv if argv is not None else sys.argv[1:])],
        "seconds": round(time.monotonic() - began),
        "order": [s.key for s in chosen],
    }
    (out_dir / "summary.json").write_text(
        json.dumps({"run": run_info, "diskFlushMs": flush, "results": results}, indent=2)
    )
    latest = json.loads(LATEST.read_text()) if LATEST.exists() else {"results": {}}
    for key, pair in results.items():
        latest["results"][key] = {**pair, "stamp": stamp, "db": args.db}
    # Disk figures by run, kept for as long as a section comes from that run.
    kept = {pair["stamp"] for pair in latest["results"].values()}
    disks = {**latest.get("diskFlushMs", {}), stamp: flush}
    latest["diskFlushMs"] = {k: v for k, v in disks.items() if k in kept}
    latest["run"] = run_info
    latest["environment"] = environment
    LATEST.write_text(json.dumps(latest, indent=2))
    if not args.no_docs:
        report.write(
            latest, ROOT / "docs" / "benchmarks.md", plot_path=BENCH / "latency-vs-authors.png"
        )
        print(f"wrote docs/benchmarks.md; raw results in {out_dir.relative_to(ROOT)}", flush=True)
    print(f"done in {run_info['seconds']} s", flush=True)
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())

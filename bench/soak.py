"""Soak: a loopback testnet under steady load for minutes, watching memory.

Starts a testnet of `--nodes` masternodes (4), offers `--tps` (100) signed
transfers through `timecoin.node.loadgen` for `--minutes` (SOAK_MINUTES,
60), and every `--sample-seconds` (10) records each node's RSS and CPU
(from /proc) and tip height. Writes bench/results/soak.json and fails
(exit status 1) if any node's RSS grew more than 5 % from the reference
minute (10, or a third of the run when it is shorter) to the end, or if
the chain stalled (no new block on some node) for more than 3 block
intervals. Also reports the RSS slope (MB/min, least squares from the
reference minute), submission-to-commit latency and the load figures.

`--heap-profile` runs the nodes under tracemalloc (bench/heapdump), takes
a heap snapshot of node 0 at the reference minute and at the end, and
reports the 15 source lines whose live allocations grew most: how the
growth was found (slower: about 2x the CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

from benchlib import add_common_arguments
from timecoin.node.loadgen import LoadgenConfig, LoadGenerator, LoadgenReport, read_testnet
from timecoin.node.testnet import TestnetNode, TestnetRunner, init_testnet
from timecoin.rpc.client import RpcClient, RpcClientError

RESULTS = Path(__file__).parent / "results" / "soak.json"
HEAPDUMP_DIR = Path(__file__).parent / "heapdump"
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
MAX_RSS_GROWTH = 0.05
MAX_STALL_INTERVALS = 3
START_TIMEOUT_S = 60.0
HEAP_SNAPSHOT_TIMEOUT_S = 60.0


def rss_mb(pid: int) -> float:
    """Resident set size of process `pid` in MB (VmRSS from /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` (from /proc/PID/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_S


def tip_height(node: TestnetNode) -> int | None:
    """The node's tip height, or None when it does not answer."""
    try:
        client = RpcClient.from_cookie(node.datadir, node.rpc_url, timeout_s=5.0)
        return int(client.call("getblockcount", []))
    except (RpcClientError, OSError):
        return None


def wait_height(nodes: list[TestnetNode], height: int, timeout_s: float) -> None:
    """Wait until every node is at `height` or above."""
    deadline = time.monotonic() + timeout_s
    while any((tip_height(n) or -1) < height for n in nodes):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the testnet did not reach height {height} in {timeout_s} s")
        time.sleep(0.2)


def slope_per_min(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per minute."""
    if len(points) < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / len(points)
    mean_v = sum(v for _, v in points) / len(points)
    var = sum((t - mean_t) ** 2 for t, _ in points)
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return 0.0 if var == 0 else cov / var * 60


def heap_snapshot(pid: int, directory: Path, index: int) -> tracemalloc.Snapshot:
    """Ask node `pid` for its `index`-th heap snapshot (SIGUSR2) and load it."""
    os.kill(pid, signal.SIGUSR2)
    target = directory / f"heap-{pid}-{index}.snapshot"
    deadline = time.monotonic() + HEAP_SNAPSHOT_TIMEOUT_S
    while not target.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"node {pid} wrote no heap snapshot in {HEAP_SNAPSHOT_TIMEOUT_S} s")
        time.sleep(0.2)
    return tracemalloc.Snapshot.load(str(target))


def heap_growth(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> list[dict[str, Any]]:
    """The 15 source lines whose live allocations grew most between two snapshots."""
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    diff = after.filter_traces(ignore).compare_to(before.filter_traces(ignore), "lineno")
    return [
        {
            "where": f"{stat.traceback[0].filename}:{stat.traceback[0].lineno}",
            "size_kb": round(stat.size / 1024, 1),
            "growth_kb": round(stat.size_diff / 1024, 1),
            "count": stat.count,
        }
        for stat in diff[:15]
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", 60)))
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--tps", type=float, default=100.0)
    parser.add_argument("--block-interval-ms", type=int, default=1_000)
    parser.add_argument("--sample-seconds", type=float, default=10.0)
    parser.add_argument("--heap-profile", action="store_true")
    parser.add_argument("--output", type=Path, default=None, help=f"default: {RESULTS}")
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.output is None:
        args.output = args.results / RESULTS.name if args.smoke else RESULTS
    if args.smoke:
        args.minutes, args.tps, args.sample_seconds = 0.25, 10.0, 3.0

    duration_s = args.minutes * 60
    reference_s = min(600.0, duration_s / 3)
    interval_s = args.block_interval_ms / 1000

    with tempfile.TemporaryDirectory() as scratch:
        datadir = Path(scratch) / "testnet"
        if args.heap_profile:
            dumps = Path(scratch) / "heap"
            dumps.mkdir()
            os.environ["TIMECOIN_HEAP_DUMP_DIR"] = str(dumps)
            path = os.environ.get("PYTHONPATH")
            os.environ["PYTHONPATH"] = str(HEAPDUMP_DIR) + (os.pathsep + path if path else "")
        nodes = init_testnet(datadir, args.nodes, args.block_interval_ms)
        runner = TestnetRunner(datadir, nodes)
        samples: list[dict[str, Any]] = []
        snapshots: list[tracemalloc.Snapshot] = []
        report: list[LoadgenReport] = []
        failure: list[BaseException] = []
        try:
            runner.start()
            if args.heap_profile:  # the children have the environment: keep ours clean
                os.environ.pop("TIMECOIN_HEAP_DUMP_DIR")
            wait_height(nodes, 2, START_TIMEOUT_S)
            pids = [runner.processes[n.name].pid for n in nodes]
            generator = LoadGenerator(
                read_testnet(datadir),
                LoadgenConfig(tps=args.tps, duration_s=duration_s, drain_timeout_s=30.0),
            )

            def load() -> None:
                try:
                    report.append(generator.run())
                except BaseException as exc:
                    failure.append(exc)

            loader = threading.Thread(target=load, name="soak-load", daemon=True)
            started = time.monotonic()
            loader.start()
            last_cpu = [cpu_seconds(pid) for pid in pids]
            last_t = started
            last_height = [tip_height(n) for n in nodes]
            last_change = [started] * len(nodes)
            max_stall_s = 0.0
            next_sample = started
            while loader.is_alive() and time.monotonic() - started < duration_s + 120:
                now = time.monotonic()
                heights = [tip_height(n) for n in nodes]
                for i, height in enumerate(heights):
                    if height is not None and height != last_height[i]:
                        last_height[i] = height
                        last_change[i] = now
                    max_stall_s = max(max_stall_s, now - last_change[i])
                if now >= next_sample:
                    cpu = [cpu_seconds(pid) for pid in pids]
                    samples.append(
                        {
                            "t_s": round(now - started, 1),
                            "rss_mb": [round(rss_mb(pid), 1) for pid in pids],
                            "cpu_percent": [
                                round(100 * (c - c0) / max(now - last_t, 1e-9), 1)
                                for c, c0 in zip(cpu, last_cpu, strict=True)
                            ],
                            "heights": heights,
                        }
                    )
                    last_cpu, last_t = cpu, now
                    next_sample += args.sample_seconds
                    print(f"soak {samples[-1]}", flush=True)
                    if args.heap_profile and not snapshots and now - started >= reference_s:
                        snapshots.append(heap_snapshot(pids[0], dumps, 1))
                if args.heap_profile and len(snapshots) == 1 and now - started >= duration_s:
                    snapshots.append(heap_snapshot(pids[0], dumps, 2))
                time.sleep(min(1.0, interval_s / 2))
            loader.join(timeout=60)
            exited = runner.exited()
        finally:
            runner.stop()
    if failure:
        raise failure[0]

    per_node: list[dict[str, Any]] = []
    ok = True
    for i in range(args.nodes):
        series = [(s["t_s"], s["rss_mb"][i]) for s in samples]
        after_ref = [(t, v) for t, v in series if t >= reference_s]
        at_ref = after_ref[0][1] if after_ref else series[0][1]
        at_end = series[-1][1]
        growth = (at_end - at_ref) / at_ref if at_ref else 0.0
        ok = ok and growth <= MAX_RSS_GROWTH
        per_node.append(
            {
                "rss_at_reference_mb": at_ref,
                "rss_at_end_mb": at_end,
                "rss_max_mb": max(v for _, v in series),
                "growth_percent": round(100 * growth, 2),
                "slope_mb_per_min": round(slope_per_min(after_ref), 3),
            }
        )
    stalled = max_stall_s > MAX_STALL_INTERVALS * interval_s
    ok = ok and not stalled and not exited
    load_figures = report[0].to_json() if report else {}
    result = {
        "benchmark": "soak",
        "smoke": args.smoke,
        "config": {
            "nodes": args.nodes,
            "tps": args.tps,
            "minutes": args.minutes,
            "block_interval_ms": args.block_interval_ms,
            "sample_seconds": args.sample_seconds,
            "reference_minute": round(reference_s / 60, 2),
            "heap_profile": args.heap_profile,
        },
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "nodes": per_node,
        "max_stall_s": round(max_stall_s, 2),
        "exited_nodes": exited,
        "load": {
            key: load_figures.get(key)
            for key in (
                "submitted",
                "accepted",
                "rejected",
                "committed",
                "starved",
                "submit_rate_tps",
                "commit_rate_tps",
                "latency_ms",
            )
        },
        "heap_growth_top": heap_growth(*snapshots) if len(snapshots) == 2 else None,
        "samples": samples,
        "passed": ok,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for i, node in enumerate(per_node):
        print(f"node{i}: {node}")
    print(f"max stall {max_stall_s:.1f} s; load {result['load']}")
    if result["heap_growth_top"]:
        for row in result["heap_growth_top"]:
            print(f"heap +{row['growth_kb']} KiB at {row['where']} ({row['count']} blocks)")
    print("PASSED" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

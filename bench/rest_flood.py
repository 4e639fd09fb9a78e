"""REST flood benchmark: committed TPS with and without 500 requests/s on one node's REST port.

A 4-node loopback testnet (500 ms blocks, REST on every node with the
default limits: 50 requests/s per client, bursts of 100) runs the same
`loadgen` load twice: once alone, once while one client floods node 0's
REST port at FLOOD_RPS with a mix of cheap and costly paths (tip height,
a block, an address history scanning the recent blocks, the mempool). The
figures: committed TPS and commit latency p50 per phase, blocks per second,
and the flood's answers by status (200 served, 429 throttled). The claim
checked: the flood is throttled and committed TPS stays within
TARGET_RATIO of the quiet run. Writes JSON to bench/results/rest_flood.json.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import platform
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp

from benchlib import add_common_arguments, write_result
from network import wait_height, wait_rpc_ready
from timecoin.node.loadgen import LoadgenConfig, percentile, run_loadgen
from timecoin.node.testnet import TestnetNode, TestnetRunner, init_testnet
from timecoin.rpc.client import RpcClient

RESULTS = Path(__file__).resolve().parent / "results"
NODES = 4
BLOCK_INTERVAL_MS = 500
FLOOD_RPS = 500
TARGET_RATIO = 0.8
"""Committed TPS under the flood must stay above this share of the quiet run's."""


class Flood:
    """One client sending `rps` GETs a second to a REST base URL, in a thread."""

    def __init__(self, base: str, paths: list[str], rps: int) -> None:
        self.base = base
        self.paths = paths
        self.rps = rps
        self.statuses: collections.Counter[int] = collections.Counter()
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    async def _one(self, session: aiohttp.ClientSession, path: str) -> None:
        try:
            async with session.get(self.base + path) as response:
                await response.read()
                self.statuses[response.status] += 1
        except (aiohttp.ClientError, TimeoutError):
            self.statuses[0] += 1

    async def _run(self) -> None:
        connector = aiohttp.TCPConnector(limit=64)
        timeout = aiohttp.ClientTimeout(total=15)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            started = time.monotonic()
            pending: set[asyncio.Task[None]] = set()
            while not self._stop.is_set():
                due = int((time.monotonic() - started) * self.rps)
                while self.sent < due and len(pending) < 256:
                    path = self.paths[self.sent % len(self.paths)]
                    task = asyncio.create_task(self._one(session, path))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                    self.sent += 1
                await asyncio.sleep(0.005)
            if pending:
                await asyncio.wait(pending, timeout=15)


def _height(node: TestnetNode) -> int:
    client = RpcClient.from_cookie(node.datadir, node.rpc_url, timeout_s=10.0)
    return int(client.call("getblockcount"))


def run_phase(
    datadir: Path, nodes: list[TestnetNode], tps: float, duration_s: float, flood: Flood | None
) -> dict[str, Any]:
    """One loadgen run, with `flood` running alongside when given."""
    if flood is not None:
        flood.start()
    start_height, started = _height(nodes[0]), time.monotonic()
    try:
        report = run_loadgen(
            datadir, LoadgenConfig(tps=tps, duration_s=duration_s, drain_timeout_s=30.0)
        )
    finally:
        if flood is not None:
            flood.stop()
    elapsed = time.monotonic() - started
    blocks = _height(nodes[0]) - start_height
    result: dict[str, Any] = {
        "offered_tps": tps,
        "submitted": report.submitted,
        "accepted": report.accepted,
        "committed": report.committed,
        "committed_tps": round(report.commit_rate_tps, 1),
        "commit_latency_p50_ms": round(1000 * percentile(sorted(report.latencies_s), 50), 1)
        if report.latencies_s
        else None,
        "blocks_per_s": round(blocks / elapsed, 2),
    }
    if flood is not None:
        result["flood_sent"] = flood.sent
        result["flood_rps_sent"] = round(flood.sent / elapsed, 1)
        result["flood_statuses"] = {str(k): v for k, v in sorted(flood.statuses.items())}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tps", type=float, default=100.0, help="offered transfers per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.smoke:
        args.tps, args.duration = 10.0, 2.0

    with tempfile.TemporaryDirectory(prefix="timecoin-rest-flood-") as tmp:
        datadir = Path(tmp) / "net"
        nodes = init_testnet(datadir, NODES, BLOCK_INTERVAL_MS)
        runner = TestnetRunner(datadir, nodes)
        runner.start()
        try:
            wait_rpc_ready(nodes, time.monotonic(), 60.0)
            wait_height(nodes, 2, 60.0)
            base = nodes[0].rest_url
            assert base is not None, "the testnet serves no REST API"
            client = RpcClient.from_cookie(nodes[0].datadir, nodes[0].rpc_url, timeout_s=10.0)
            address = client.call("getnewaddress")
            block1 = client.call("getblockhash", [1])
            paths = ["/blocks/tip/height", f"/block/{block1}", f"/address/{address}", "/mempool"]
            quiet = run_phase(datadir, nodes, args.tps, args.duration, None)
            flooded = run_phase(
                datadir, nodes, args.tps, args.duration, Flood(base, paths, FLOOD_RPS)
            )
        finally:
            runner.stop()
    ratio = flooded["committed_tps"] / quiet["committed_tps"] if quiet["committed_tps"] else 0.0
    result = {
        "benchmark": "rest_flood",
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "nodes": NODES,
        "block_interval_ms": BLOCK_INTERVAL_MS,
        "flood_rps": FLOOD_RPS,
        "quiet": quiet,
        "flooded": flooded,
        "ratio_committed_tps": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "pass": ratio >= TARGET_RATIO and flooded.get("flood_statuses", {}).get("429", 0) > 0,
    }
    write_result(args, "rest_flood", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

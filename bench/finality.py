"""Finality benchmark: broadcast-to-final latency and finalized TPS on a 4-node loopback testnet.

Figures (all measured in this run):
- the baseline: validate-and-apply of 1-in transactions on two cores
  (bench/ledger.py's `bench_connect`, as bench/network.py), before the nodes
  start;
- saturation: the finalized TPS when the offered load exceeds what the
  nodes finalize (counted with node 0's `timecoin_finality_finalized_total`
  over a window after a warm-up);
- at 25 %, 50 % and 100 % of saturation: finalized TPS, and finality
  latency p50/p99 from probes: each probe thread submits a transfer
  (`sendrawtransaction`) and waits for it on the same node
  (`waittransactionfinality`, which answers as soon as the transaction is
  final), so a latency runs from the broadcast to the client seeing it final;
- signature verifications per finalized transaction: the sum over the nodes
  of `timecoin_signature_verifications_total` over the finalized count,
  per load level;
- the finality pause at an epoch change (devnet epochs are 20 blocks): a
  sampler reads node 0's height and finalized count every 25 ms; around each
  epoch boundary the pause is the longest stretch with no new final
  transaction, beside the longest stretch anywhere else under load.

Targets: p50 < 300 ms and p99 < 1 s at 50 % load; finalized TPS x nodes >=
25 % of the two-core validate-and-apply rate (every node validates every
transaction, and the 4 nodes share this machine's cores).

Load: the fan-out of each node's wallet into the bench's coins (final in
well under a second, spendable at once); transfers are signed at the
target rate, posted round-robin as JSON-RPC batches, and each transfer's
output is reused RECYCLE_S later (it is final long before under load below
saturation). Writes JSON to bench/results/finality.json.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import os
import platform
import queue
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchlib import (
    add_common_arguments,
    bench_connect,
    metric_samples,
    percentile,
    wait_height,
    wait_rpc_ready,
    write_result,
)
from timecoin.crypto import BatchVerifier, SigningKey
from timecoin.encoding import encode
from timecoin.node.loadgen import (
    LoadgenConfig,
    LoadgenNode,
    build_transfer,
    fund_node,
    read_testnet,
)
from timecoin.node.testnet import TestnetNode, TestnetRunner, init_testnet
from timecoin.params import COIN
from timecoin.rpc.client import RpcClientError

NODES = 4
TARGETS = {"p50_ms_at_50": 300.0, "p99_ms_at_50": 1_000.0, "ratio_tps_x_nodes_to_baseline": 0.25}
RECYCLE_S = 2.5
"""A transfer's output is spent again this long after its submission."""
PROBES_PER_NODE = 2
SAMPLE_INTERVAL_S = 0.025
TICK_S = 0.01
FINAL = ("final", "confirmed")
DRAINED_POOL = 50
"""At most this many pooled transactions (the probes' few): the backlog is drained."""


def node_metrics(node: TestnetNode) -> dict[str, float]:
    """The node's gauges and counters without labels: name -> value."""
    if node.metrics_url is None:
        raise RuntimeError(f"{node.name} serves no metrics")
    return {name: value for name, labels, value in metric_samples(node.metrics_url) if not labels}


def counters(nodes: list[TestnetNode]) -> tuple[float, float]:
    """(node 0's finalized count, signature verifications summed over the nodes)."""
    samples = [node_metrics(n) for n in nodes]
    finalized = samples[0].get("timecoin_finality_finalized_total", 0.0)
    verified = sum(s.get("timecoin_signature_verifications_total", 0.0) for s in samples)
    return finalized, verified


class Load:
    """Transfers at a settable rate over the funded coins, posted round-robin."""

    def __init__(self, nodes: list[LoadgenNode], coins: list[Any], params: Any) -> None:
        """Send from `coins` (the loadgen's coins) to `nodes`."""
        self.nodes = nodes
        self.params = params
        self.rate = 0.0
        self.free: collections.deque[tuple[float, Any]] = collections.deque((0.0, c) for c in coins)
        self.accepted = 0
        self.rejected = 0
        self.starved = 0
        self.rejections: dict[str, int] = {}
        self._queues: list[queue.Queue[str | None]] = [queue.Queue() for _ in nodes]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._send, args=(i,), daemon=True) for i in range(len(nodes))
        ]
        self._threads.append(threading.Thread(target=self._generate, daemon=True))

    def start(self) -> None:
        """Start the generator and the sender threads."""
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop sending and join the threads."""
        self._stop.set()
        for inbox in self._queues:
            inbox.put(None)
        for thread in self._threads:
            thread.join(10)

    def _generate(self) -> None:
        due = 0.0
        last = time.monotonic()
        turn = 0
        while not self._stop.is_set():
            time.sleep(TICK_S)
            now = time.monotonic()
            due = min(due + self.rate * (now - last), self.rate * 0.5 + 1)
            last = now
            while due >= 1:
                due -= 1
                if not self.free or self.free[0][0] > now:
                    self.starved += 1
                    continue
                _, coin = self.free.popleft()
                tx, new_coin = build_transfer(coin, self.params)
                self.free.append((now + RECYCLE_S, new_coin))
                self._queues[turn % len(self.nodes)].put(encode(tx).hex())
                turn += 1

    def _send(self, index: int) -> None:
        client = self.nodes[index].client()
        inbox = self._queues[index]
        while True:
            first = inbox.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < 500:
                try:
                    item = inbox.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    return
                batch.append(item)
            try:
                results: list[Any] = client.batch([("sendrawtransaction", [h]) for h in batch])
            except RpcClientError as exc:
                results = [exc] * len(batch)
            with self._lock:
                for result in results:
                    if isinstance(result, Exception):
                        self.rejected += 1
                        reason = str(result)[:60]
                        self.rejections[reason] = self.rejections.get(reason, 0) + 1
                    else:
                        self.accepted += 1


class Probes:
    """Threads that each submit a transfer and wait for it to be final, in a loop."""

    def __init__(self, nodes: list[LoadgenNode], coins: list[Any], params: Any) -> None:
        """One probe per coin, spread over `nodes`."""
        self.params = params
        self.samples: list[tuple[float, float]] = []
        """(submitted, final) monotonic times of each probe transfer."""
        self.failures = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(nodes[i % len(nodes)], coin), daemon=True)
            for i, coin in enumerate(coins)
        ]

    def start(self) -> None:
        """Start probing."""
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop probing and join the threads."""
        self._stop.set()
        for thread in self._threads:
            thread.join(15)

    def _run(self, node: LoadgenNode, coin: Any) -> None:
        client = node.client()
        while not self._stop.is_set():
            tx, new_coin = build_transfer(coin, self.params)
            txid = new_coin.outpoint.txid.hex()
            submitted = time.monotonic()
            try:
                client.call("sendrawtransaction", [encode(tx).hex()])
                status = client.call("waittransactionfinality", [txid, 10])
            except RpcClientError:
                with self._lock:
                    self.failures += 1
                time.sleep(0.2)
                continue
            final = time.monotonic()
            coin = new_coin
            if status.get("status") in FINAL:
                with self._lock:
                    self.samples.append((submitted, final))
            else:
                with self._lock:
                    self.failures += 1

    def latencies_ms(self, start: float, end: float) -> list[float]:
        """Sorted latencies of the probes submitted in [start, end)."""
        with self._lock:
            return sorted((f - s) * 1000 for s, f in self.samples if start <= s < end)


class Sampler:
    """Node 0's height and finalized count every SAMPLE_INTERVAL_S."""

    def __init__(self, node: TestnetNode) -> None:
        """Sample `node`."""
        self.node = node
        self.samples: list[tuple[float, int, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        """Start sampling."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                values = node_metrics(self.node)
            except OSError:
                continue
            self.samples.append(
                (
                    time.monotonic(),
                    int(values.get("timecoin_height", -1)),
                    values.get("timecoin_finality_finalized_total", 0.0),
                )
            )
            time.sleep(SAMPLE_INTERVAL_S)


def finality_gaps(
    samples: list[tuple[float, int, float]], epoch_length: int, start: float, end: float
) -> dict[str, Any]:
    """The longest stretch without a new final transaction around each epoch
    boundary crossed in [start, end], and the longest elsewhere."""
    window = [s for s in samples if start <= s[0] <= end]
    increases = [window[0][0]] if window else []
    for previous, current in itertools.pairwise(window):
        if current[2] > previous[2]:
            increases.append(current[0])
    gaps = [(b - a, a, b) for a, b in itertools.pairwise(increases)]
    boundaries: list[dict[str, Any]] = []
    near: set[int] = set()
    for previous, current in itertools.pairwise(window):
        crossed = [
            h for h in range(previous[1] + 1, current[1] + 1) if h > 0 and h % epoch_length == 0
        ]
        for height in crossed:
            # The epoch's last block (height - 1) is agreed with the reports,
            # then the first block of the new epoch: look 1.5 s either side.
            around = [
                i
                for i, (_, a, b) in enumerate(gaps)
                if b >= current[0] - 1.5 - 1.0 and a <= current[0] + 1.5
            ]
            near.update(around)
            longest = max((gaps[i][0] for i in around), default=0.0)
            boundaries.append(
                {"first_height_of_epoch": height, "pause_ms": round(longest * 1000, 1)}
            )
    elsewhere = [g for i, (g, _, _) in enumerate(gaps) if i not in near]
    return {
        "heights": [window[0][1], window[-1][1]] if window else None,
        "boundaries": boundaries,
        "max_pause_ms": max((b["pause_ms"] for b in boundaries), default=None),
        "longest_gap_elsewhere_ms": round(max(elsewhere, default=0.0) * 1000, 1),
        "median_gap_ms": round(statistics.median(elsewhere) * 1000, 1) if elsewhere else None,
    }


def wait_final(node: LoadgenNode, txids: list[bytes], timeout_s: float) -> float:
    """Wait until every txid is final on `node`; the seconds it took."""
    client = node.client()
    started = time.monotonic()
    left = [t.hex() for t in txids]
    while left:
        if time.monotonic() - started > timeout_s:
            raise RuntimeError(f"fan-outs not final after {timeout_s} s: {left}")
        left = [
            t for t in left if client.call("gettransactionfinality", [t])["status"] not in FINAL
        ]
        time.sleep(0.02)
    return time.monotonic() - started


def drain(nodes: list[TestnetNode], timeout_s: float) -> float:
    """Wait until node 0's pool is back to the probes' few transactions
    (every accepted transfer final and in a block); the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        pooled = node_metrics(nodes[0]).get("timecoin_mempool_transactions", 0.0)
        if pooled <= DRAINED_POOL:
            break
        time.sleep(0.5)
    return time.monotonic() - started


def run_phase(
    name: str,
    rate: float,
    seconds: float,
    warmup_s: float,
    load: Load,
    probes: Probes,
    nodes: list[TestnetNode],
) -> dict[str, Any]:
    """Offer `rate` TPS for `seconds`; figures over the window after `warmup_s`."""
    load.rate = rate
    accepted_before = load.accepted
    time.sleep(warmup_s)
    start = time.monotonic()
    finalized_0, verified_0 = counters(nodes)
    time.sleep(seconds - warmup_s)
    finalized_1, verified_1 = counters(nodes)
    end = time.monotonic()
    finalized = finalized_1 - finalized_0
    latencies = probes.latencies_ms(start, end)

    def pct(p: float) -> float | None:
        return round(percentile(latencies, p), 1) if latencies else None

    result = {
        "offered_tps": round(rate, 1),
        "window_s": round(end - start, 2),
        "accepted": load.accepted - accepted_before,
        "finalized_tps": round(finalized / (end - start), 1),
        "latency_ms": {"p50": pct(50), "p90": pct(90), "p99": pct(99), "max": pct(100)},
        "latency_samples": len(latencies),
        "signature_verifications_per_final_tx": round((verified_1 - verified_0) / finalized, 2)
        if finalized
        else None,
    }
    print(
        f"{name}: offered {rate:,.0f} TPS, finalized {result['finalized_tps']:,.0f} TPS, "
        f"latency p50 {result['latency_ms']['p50']} ms p99 {result['latency_ms']['p99']} ms "
        f"({len(latencies)} probes), {result['signature_verifications_per_final_tx']} "
        f"signature checks per final tx"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--block-interval-ms", type=int, default=1_000)
    parser.add_argument("--saturation-tps", type=float, default=1_600.0)
    parser.add_argument("--saturation-seconds", type=float, default=12.0)
    parser.add_argument("--phase-seconds", type=float, default=12.0)
    parser.add_argument("--warmup-seconds", type=float, default=2.0)
    parser.add_argument("--coins-per-node", type=int, default=999)
    parser.add_argument("--baseline-transactions", type=int, default=4_000)
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.smoke:
        args.saturation_tps, args.saturation_seconds, args.phase_seconds = 100.0, 3.0, 1.0
        args.warmup_seconds, args.coins_per_node, args.baseline_transactions = 0.5, 30, 100
    bench_started = time.monotonic()

    verifier = BatchVerifier(threads=2)
    with tempfile.TemporaryDirectory() as scratch:
        baseline = bench_connect(args.baseline_transactions, scratch, verifier)
    verifier.close()
    baseline_tps = baseline["tx_per_s"]
    print(f"baseline: validate-and-apply on two cores {baseline_tps:,.0f} tx/s")

    with tempfile.TemporaryDirectory() as scratch:
        datadir = Path(scratch) / "testnet"
        nodes = init_testnet(datadir, NODES, args.block_interval_ms)
        runner = TestnetRunner(datadir, nodes)
        load: Load | None = None
        probes: Probes | None = None
        sampler: Sampler | None = None
        try:
            runner.start()
            wait_rpc_ready(nodes, time.monotonic(), 60.0)
            wait_height(nodes, 2, 30.0, poll_s=0.1)
            targets = read_testnet(datadir)
            params = targets.params
            keys = [SigningKey(os.urandom(32)) for _ in range(64)]
            funding = LoadgenConfig(tps=1, duration_s=1, amount_per_coin=10 * COIN)
            fanouts: list[bytes] = []
            coins: list[Any] = []
            for node in targets.nodes:
                txid, node_coins = fund_node(node, args.coins_per_node, keys, funding, params)
                fanouts.append(txid)
                coins.extend(node_coins)
            fanout_s = wait_final(targets.nodes[0], fanouts, 30.0)
            print(f"funded {len(coins)} coins: {len(fanouts)} fan-outs final in {fanout_s:.2f} s")
            probe_count = PROBES_PER_NODE * NODES
            probes = Probes(list(targets.nodes), coins[:probe_count], params)
            load = Load(list(targets.nodes), coins[probe_count:], params)
            sampler = Sampler(nodes[0])
            sampler.start()
            run_started = time.monotonic()
            probes.start()
            load.start()
            saturation = run_phase(
                "saturation",
                args.saturation_tps,
                args.saturation_seconds,
                args.warmup_seconds + 2.0,
                load,
                probes,
                nodes,
            )
            saturation_tps = saturation["finalized_tps"]
            load.rate = 0.0
            drain_s = drain(nodes, 30.0)
            print(f"drained the saturation backlog in {drain_s:.1f} s")
            levels: dict[str, dict[str, Any]] = {}
            for percent in (25, 50, 100):
                levels[f"{percent}%"] = run_phase(
                    f"{percent}% of saturation",
                    saturation_tps * percent / 100,
                    args.phase_seconds,
                    args.warmup_seconds,
                    load,
                    probes,
                    nodes,
                )
            run_ended = time.monotonic()
            load.stop()
            probes.stop()
            sampler.stop()
            pause = finality_gaps(sampler.samples, params.epoch_length, run_started, run_ended)
            print(
                f"epoch change: finality pauses {[b['pause_ms'] for b in pause['boundaries']]} ms "
                f"(longest gap elsewhere under load {pause['longest_gap_elsewhere_ms']} ms, "
                f"median {pause['median_gap_ms']} ms)"
            )
            load_figures = {
                "accepted": load.accepted,
                "rejected": load.rejected,
                "rejections": load.rejections,
                "starved": load.starved,
                "probe_failures": probes.failures,
            }
        finally:
            for worker in (load, probes, sampler):
                if worker is not None:
                    worker.stop()
            runner.stop()

    at_50 = levels["50%"]["latency_ms"]
    ratio = saturation_tps * NODES / baseline_tps
    measured = {
        "p50_ms_at_50": at_50["p50"],
        "p99_ms_at_50": at_50["p99"],
        "ratio_tps_x_nodes_to_baseline": round(ratio, 3),
    }
    meets = {
        "p50_ms_at_50": at_50["p50"] is not None and at_50["p50"] < TARGETS["p50_ms_at_50"],
        "p99_ms_at_50": at_50["p99"] is not None and at_50["p99"] < TARGETS["p99_ms_at_50"],
        "ratio_tps_x_nodes_to_baseline": ratio >= TARGETS["ratio_tps_x_nodes_to_baseline"],
    }
    result: dict[str, Any] = {
        "benchmark": "finality",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "nodes": NODES,
        "block_interval_ms": args.block_interval_ms,
        "epoch_length_blocks": params.epoch_length,
        "baseline": {
            "what": "connect_block + 2-thread BatchVerifier + LMDB commit, 1-in transactions",
            "validate_apply_tx_per_s": round(baseline_tps, 1),
        },
        "fanout_final_s": round(fanout_s, 3),
        "saturation": saturation,
        "levels": levels,
        "epoch_change": pause,
        "load": load_figures,
        "targets": TARGETS,
        "measured": measured,
        "meets_target": meets,
        "bench_seconds": round(time.monotonic() - bench_started, 1),
    }
    path = write_result(args, "finality", result)

    print()
    print(f"{'figure':<40}{'target':>10}{'measured':>12}  ok")
    rows = [
        ("latency p50 at 50% load", "< 300 ms", f"{at_50['p50']} ms", "p50_ms_at_50"),
        ("latency p99 at 50% load", "< 1 s", f"{at_50['p99']} ms", "p99_ms_at_50"),
        (
            "finalized TPS x nodes / baseline",
            ">= 0.25",
            f"{ratio:.2f}",
            "ratio_tps_x_nodes_to_baseline",
        ),
    ]
    for name, target, value, key in rows:
        print(f"{name:<40}{target:>10}{value:>12}  {'yes' if meets[key] else 'NO'}")
    print(
        f"ratio: {saturation_tps:,.0f} finalized TPS x {NODES} nodes / {baseline_tps:,.0f} tx/s "
        f"two-core validate-and-apply = {ratio:.2f}"
    )
    print(f"results: {path} ({result['bench_seconds']} s)")


if __name__ == "__main__":
    main()

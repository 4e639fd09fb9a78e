"""Start-up benchmark: time to RPC-ready against chain height (ADR 0010).

Set-up (not timed): for each height H, `sync.build_chain` writes genesis and
H certified blocks of TXS 1-in/2-out transactions into a node's LMDB store
(committed with their chain state and indexes as the node commits them).

Timed, for each chain: `timecoin node` started on it, from the process
launch to the first RPC answer at the chain's tip (`getblockcount`), over
RUNS starts, and the node's own `Node.start` time from its
log line (without the interpreter's start and imports, which dominate on a
loaded machine); then `getrawtransaction` of a transaction of block 1 (found
through the tx index, at any depth). Reported too: the node's RSS once
ready (VmRSS from /proc), and the ratio of the longest chain's median
start-up to the shortest's (target under 1.2: start-up must not depend on
the chain's length).

Writes JSON to bench/results/startup.json and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import tempfile
import time
from pathlib import Path

from sync import block_count, build_chain, start_node, stop_node, write_config
from timecoin.node.testnet import find_free_ports
from timecoin.rpc.client import RpcClient
from timecoin.storage import ChainStore, LmdbStore
from timecoin.types import compute_txid

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_RATIO = 1.2
FANOUT_OUTPUTS = 1_000
READY_TIMEOUT_S = 300.0


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _logged_start_s(datadir: Path) -> float:
    """The duration of the last `node started at height N in X s` log line."""
    found = re.findall(
        r"node started at height \d+ in ([0-9.]+) s", (datadir / "node.log").read_text()
    )
    return float(found[-1]) if found else float("nan")


def _utxo_count(datadir: Path) -> int:
    with LmdbStore(datadir / "chain") as kv:
        return ChainStore(kv).utxo_count()


def _first_txid(datadir: Path) -> str:
    with LmdbStore(datadir / "chain") as kv:
        chain = ChainStore(kv)
        block_hash = chain.get_block_hash(1)
        block = None if block_hash is None else chain.get_block(block_hash)
        if block is None:
            raise RuntimeError("no block 1")
        return compute_txid(block.transactions[-1]).hex()


def measure(datadir: Path, height: int, port: int, runs: int) -> dict[str, object]:
    """Start the node on `datadir` `runs` times; its start-up figures."""
    starts: list[float] = []
    start_calls: list[float] = []
    rss: list[float] = []
    lookup_ms: list[float] = []
    txid = _first_txid(datadir)
    for _ in range(runs):
        launched = time.monotonic()
        proc = start_node(datadir)
        try:
            deadline = launched + READY_TIMEOUT_S
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"node exited: {(datadir / 'node.log').read_text()[-2000:]}")
                got = block_count(datadir, port)
                if got is not None and got >= height:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("node not ready")
                time.sleep(0.01)
            starts.append(time.monotonic() - launched)
            rss.append(_rss_mb(proc.pid))
            start_calls.append(_logged_start_s(datadir))
            client = RpcClient.from_cookie(datadir, f"http://127.0.0.1:{port}/", timeout_s=30.0)
            before = time.perf_counter()
            found = client.call("getrawtransaction", [txid, True])
            lookup_ms.append((time.perf_counter() - before) * 1000)
            if not isinstance(found, dict) or "blockhash" not in found:
                raise RuntimeError(f"transaction of block 1 not found: {found!r}")
        finally:
            stop_node(proc)
    return {
        "height": height,
        "startup_s": starts,
        "startup_median_s": statistics.median(starts),
        "node_start_call_s": start_calls,
        "node_start_call_median_s": statistics.median(start_calls[1:] or start_calls),
        "rss_mb_median": statistics.median(rss),
        "getrawtransaction_block1_ms_median": statistics.median(lookup_ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--heights", default="50,500", help="chain heights, comma-separated")
    parser.add_argument("--txs", type=int, default=10, help="transactions per block")
    parser.add_argument("--runs", type=int, default=3, help="starts per chain")
    parser.add_argument(
        "--coins",
        type=int,
        default=0,
        help="grow the UTXO set by about this many coins in the first blocks "
        "(fan-out transactions of 1,000 outputs)",
    )
    args = parser.parse_args()
    heights = [int(h) for h in args.heights.split(",")]
    results = []
    with tempfile.TemporaryDirectory(prefix="tc-bench-startup-") as tmp:
        for height in heights:
            datadir = Path(tmp) / f"h{height}"
            fanout_blocks = -(-args.coins // (args.txs * FANOUT_OUTPUTS))
            if fanout_blocks > height:
                raise SystemExit(f"--coins {args.coins} needs {fanout_blocks} blocks")
            built = build_chain(
                datadir,
                height,
                args.txs,
                fanout_outputs=FANOUT_OUTPUTS,
                fanout_blocks=fanout_blocks,
            )
            print(f"built {height} blocks ({built.transactions:,} txs) in {built.build_s:.1f} s")
            p2p, rpc = find_free_ports(2)
            write_config(datadir, built.params, p2p, rpc, ())
            figures = measure(datadir, height, rpc, args.runs)
            figures["build_s"] = built.build_s
            figures["transactions"] = built.transactions
            figures["utxo_count"] = _utxo_count(datadir)
            results.append(figures)
            print(
                f"height {height}, {figures['utxo_count']:,} coins: "
                f"start-up {figures['startup_median_s']:.2f} s, "
                f"Node.start {figures['node_start_call_median_s']:.3f} s, "
                f"RSS {figures['rss_mb_median']:.0f} MB, getrawtransaction(block 1) "
                f"{figures['getrawtransaction_block1_ms_median']:.1f} ms"
            )
    first, last = results[0], results[-1]
    ratio = float(str(last["startup_median_s"])) / float(str(first["startup_median_s"]))
    result = {
        "benchmark": "startup",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "txs_per_block": args.txs,
        "coins_requested": args.coins,
        "chains": results,
        "ratio_longest_to_shortest": ratio,
        "targets": {"ratio_longest_to_shortest": TARGET_RATIO},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "startup.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"start-up ratio height {last['height']} / {first['height']}: {ratio:.2f}")
    print(f"results: {RESULTS / 'startup.json'}")


if __name__ == "__main__":
    main()

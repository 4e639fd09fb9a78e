"""Chaos: SIGKILLs of random nodes of a loaded testnet, then agreement checks.

Starts a testnet of `--nodes` masternodes (4) under `--tps` (50) transfers
from `timecoin.node.loadgen` (which reads restarted nodes' new cookies),
and `--kills` times (CHAOS_KILLS, 10), at random moments from a seeded
generator (`--seed`, logged: rerun with it to replay), SIGKILLs one random
node, leaves it down for up to `--down-seconds`, and restarts it; one kill
in three lands during the restarted node's start-up (kill again at once,
restart again). Then it stops the load, waits until every node is at the
same height, and checks that all nodes agree on every block hash and on
the UTXO set (`gettxoutsetinfo` muhash at one height), and counts
transfers the load generator saw accepted that never reached a block.
Writes bench/results/chaos.json; exits 1 on any divergence or a node that
does not come back.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchlib import add_common_arguments
from timecoin.node.loadgen import LoadgenConfig, LoadGenerator, LoadgenReport, read_testnet
from timecoin.node.testnet import TestnetNode, TestnetRunner, init_testnet
from timecoin.rpc.client import RpcClient, RpcClientError

RESULTS = Path(__file__).parent / "results" / "chaos.json"
RECOVER_TIMEOUT_S = 120.0


def call(node: TestnetNode, method: str, *params: object) -> Any:
    """`method` on `node` (cookie read afresh: restarts write a new one)."""
    return RpcClient.from_cookie(node.datadir, node.rpc_url, timeout_s=10.0).call(
        method, list(params)
    )


def height(node: TestnetNode) -> int:
    """The node's tip height, -1 while it does not answer."""
    try:
        return int(call(node, "getblockcount"))
    except (RpcClientError, OSError):
        return -1


def wait_for(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.2)


class Processes:
    """The current process of each node (the runner's first, then restarts)."""

    def __init__(self, runner: TestnetRunner) -> None:
        self.current = dict(runner.processes)
        self.restarted: list[subprocess.Popen[bytes]] = []

    def kill(self, node: TestnetNode) -> None:
        process = self.current[node.name]
        process.kill()
        process.wait(30)
        (node.datadir / ".cookie").unlink(missing_ok=True)

    def start(self, node: TestnetNode) -> None:
        with (node.datadir / "node.log").open("ab") as log:
            process = subprocess.Popen(
                node.argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.current[node.name] = process
        self.restarted.append(process)

    def stop_restarted(self) -> None:
        for process in self.restarted:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def check_agreement(nodes: list[TestnetNode]) -> dict[str, Any]:
    """Wait until the nodes share one height; compare block hashes and UTXO sets."""
    wait_for(lambda: min(height(n) for n in nodes) >= 0, RECOVER_TIMEOUT_S, "every node up")
    top = max(height(n) for n in nodes)
    wait_for(lambda: min(height(n) for n in nodes) >= top, RECOVER_TIMEOUT_S, f"height {top}")
    divergent_heights = [
        h for h in range(top + 1) if len({call(n, "getblockhash", h) for n in nodes}) != 1
    ]
    utxo: dict[str, Any] = {}
    for _ in range(20):  # the chain moves on: take all sets at one height
        infos = [call(n, "gettxoutsetinfo") for n in nodes]
        if len({info["height"] for info in infos}) == 1:
            utxo = {
                "height": infos[0]["height"],
                "agree": len({info["muhash"] for info in infos}) == 1,
                "txouts": infos[0]["txouts"],
                "total_amount": infos[0]["total_amount"],
            }
            break
    return {"checked_height": top, "divergent_heights": divergent_heights, "utxo": utxo}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--kills", type=int, default=int(os.environ.get("CHAOS_KILLS", 10)))
    parser.add_argument("--tps", type=float, default=50.0)
    parser.add_argument("--block-interval-ms", type=int, default=1_000)
    parser.add_argument("--gap-seconds", type=float, default=8.0, help="most time between kills")
    parser.add_argument("--down-seconds", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--output", type=Path, default=None, help=f"default: {RESULTS}")
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.output is None:
        args.output = args.results / RESULTS.name if args.smoke else RESULTS
    if args.smoke:
        args.kills, args.tps, args.gap_seconds, args.down_seconds = 1, 5.0, 2.0, 1.0

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    rng = random.Random(seed)
    print(f"chaos seed {seed} (--seed {seed} replays the schedule)", flush=True)
    kills: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as scratch:
        datadir = Path(scratch) / "testnet"
        nodes = init_testnet(datadir, args.nodes, args.block_interval_ms)
        runner = TestnetRunner(datadir, nodes)
        processes: Processes | None = None
        try:
            runner.start()
            processes = Processes(runner)
            wait_for(lambda: min(height(n) for n in nodes) >= 2, 60.0, "height 2")
            duration_s = args.kills * args.gap_seconds + 30
            generator = LoadGenerator(
                read_testnet(datadir),
                LoadgenConfig(tps=args.tps, duration_s=duration_s, drain_timeout_s=60.0),
            )
            reports: list[LoadgenReport] = []
            loader = threading.Thread(target=lambda: reports.append(generator.run()), daemon=True)
            loader.start()
            started = time.monotonic()
            for number in range(args.kills):
                time.sleep(rng.uniform(0.5, args.gap_seconds))
                victim = nodes[rng.randrange(len(nodes))]
                during_startup = rng.random() < 1 / 3
                processes.kill(victim)
                time.sleep(rng.uniform(0.0, args.down_seconds))
                processes.start(victim)
                if during_startup:
                    time.sleep(rng.uniform(0.1, 1.5))
                    processes.kill(victim)
                    processes.start(victim)
                kills.append(
                    {
                        "at_s": round(time.monotonic() - started, 1),
                        "node": victim.name,
                        "during_startup": during_startup,
                    }
                )
                print(f"kill {number + 1}: {kills[-1]}", flush=True)
            loader.join(duration_s + 120)
            agreement = check_agreement(nodes)
        finally:
            if processes is not None:
                processes.stop_restarted()
            runner.stop()
    report = reports[0] if reports else None
    load = report.to_json() if report is not None else {}
    never_committed = None if report is None else report.accepted - report.committed
    ok = not agreement["divergent_heights"] and bool(agreement["utxo"].get("agree"))
    result = {
        "benchmark": "chaos",
        "smoke": args.smoke,
        "seed": seed,
        "config": vars(args) | {"output": str(args.output)},
        "kills": kills,
        "agreement": agreement,
        "accepted_never_committed": never_committed,
        "load": {k: load.get(k) for k in ("submitted", "accepted", "rejected", "committed")},
        "passed": ok,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    # amounts come back from RPC as Decimal: written as strings
    args.output.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "kills"}, indent=2, default=str))
    print("PASSED" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""What the benchmarks share: the common arguments (`--smoke`, `--results`),
the single-core raw Ed25519 baseline, the two-core validate-and-apply
baseline, percentiles, and waiting on nodes over RPC and metrics.

Every benchmark imports this module, never another benchmark, so each runs
on its own (`python bench/<name>.py`) and `--smoke` (a tiny size that only
proves it still runs end to end; tests/bench runs it in `make test`) cannot
break because a sibling changed.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import nacl.bindings
from prometheus_client.parser import text_string_to_metric_families

from timecoin.crypto import BatchVerifier, MuHash3072, SigningKey, address_from_public_key
from timecoin.encoding import decode, encode
from timecoin.ledger import connect_block, encode_utxo_element
from timecoin.node.loadgen import percentile
from timecoin.params import COIN, MINIMAL
from timecoin.rpc.client import RpcClient, RpcClientError
from timecoin.storage.chainstore import ChainStore
from timecoin.storage.kv import WriteBatch
from timecoin.storage.lmdb_store import LmdbStore
from timecoin.storage.schema import utxo_key
from timecoin.testing import signed_transaction
from timecoin.types import Coin, OutPoint, Transaction

__all__ = [
    "PARAMS",
    "RESULTS",
    "NodeHandle",
    "add_common_arguments",
    "bench_connect",
    "build_workload",
    "fund_store",
    "measure_raw_verify",
    "metric_samples",
    "percentile",
    "tip_height",
    "wait_height",
    "wait_rpc_ready",
    "write_result",
]

PARAMS = MINIMAL
"""The parameters of the ledger workloads (only the chain id and size limits matter)."""
RESULTS = Path(__file__).resolve().parent / "results"


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """`--smoke` and `--results`, which every benchmark takes."""
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="run at a tiny size, only to prove the benchmark still runs end to end",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="directory the JSON is written to (default: bench/results)",
    )


def write_result(args: argparse.Namespace, name: str, result: dict[str, Any]) -> Path:
    """Write `result` as ARGS.results/NAME.json (marked as a smoke run when it
    was one); the path written."""
    if args.smoke:
        result = {**result, "smoke": True}
    directory: Path = args.results
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


# ---------------------------------------------------------------- baselines


def measure_raw_verify(seconds: float) -> float:
    """Raw libsodium verifications per second on one thread."""
    key = SigningKey.from_seed(bytes(range(32)))
    msg = b"x" * 80
    smsg = key.sign(msg) + msg
    pk = key.public_key
    open_ = nacl.bindings.crypto_sign_open
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(200):
            open_(smsg, pk)
        n += 200
    return n / (time.perf_counter() - start)


def build_workload(
    n_tx: int, n_inputs: int, seed: int
) -> tuple[list[tuple[OutPoint, Coin]], list[bytes]]:
    """Funded coins and signed 2-output transactions (encoded) spending them."""
    keys = [
        SigningKey.from_seed(seed.to_bytes(4, "big") + i.to_bytes(28, "big")) for i in range(64)
    ]
    coins: list[tuple[OutPoint, Coin]] = []
    txs: list[bytes] = []
    for t in range(n_tx):
        key = keys[t % len(keys)]
        address = address_from_public_key(key.public_key)
        spends = []
        for i in range(n_inputs):
            outpoint = OutPoint(txid=(seed * 1_000_000 + t).to_bytes(32, "big"), index=i)
            coins.append((outpoint, Coin(amount=10 * COIN, address=address, height=0)))
            spends.append((outpoint, key))
        total = 10 * COIN * n_inputs - 100_000
        outputs = [(total // 2, address), (total - total // 2, address)]
        txs.append(encode(signed_transaction(spends, outputs, PARAMS.chain_id)))
    return coins, txs


def fund_store(store: ChainStore, coins: list[tuple[OutPoint, Coin]]) -> None:
    """Write coins straight into the UTXO table (benchmark set-up only)."""
    for start in range(0, len(coins), 5_000):
        batch = WriteBatch()
        for outpoint, coin in coins[start : start + 5_000]:
            batch.put(utxo_key(outpoint), encode(coin))
        store.kv.write(batch)


def bench_connect(n_tx: int, datadir: str, verifier: BatchVerifier) -> dict[str, float]:
    """Validate-and-apply of blocks of 1,000 1-in transactions with an atomic
    LMDB commit, signatures checked by `verifier`: the two-core baseline the
    network figures are ratios to."""
    coins, raw_txs = build_workload(n_tx, 1, seed=7)
    kv = LmdbStore(os.path.join(datadir, "connect"))
    store = ChainStore(kv)
    fund_store(store, coins)
    txs = [decode(d, Transaction, PARAMS.sizes.max_tx_bytes) for d in raw_txs]
    state = MuHash3072()
    state.insert_many(encode_utxo_element(o, c) for o, c in coins)
    state.normalize()
    start = time.perf_counter()
    for b in range(0, n_tx, 1_000):
        connected = connect_block(
            txs[b : b + 1_000], 1, store, state, PARAMS, verify_batch=verifier.verify_all
        )
        batch = WriteBatch()
        for outpoint in connected.delta.spent:
            batch.delete(utxo_key(outpoint))
        for outpoint, coin in connected.delta.created.items():
            batch.put(utxo_key(outpoint), encode(coin))
        kv.write(batch)
    elapsed = time.perf_counter() - start
    kv.close()
    return {"transactions": n_tx, "tx_per_s": n_tx / elapsed}


# ---------------------------------------------------------------- nodes


class NodeHandle(Protocol):
    """A node the benchmark talks to (`timecoin.node.testnet.TestnetNode` is one)."""

    @property
    def name(self) -> str:
        """A label for messages."""
        ...

    @property
    def datadir(self) -> Path:
        """The data directory holding the RPC cookie."""
        ...

    @property
    def rpc_url(self) -> str:
        """The JSON-RPC URL."""
        ...


def tip_height(node: NodeHandle) -> int | None:
    """The node's tip height over RPC, or None while it does not answer."""
    try:
        client = RpcClient.from_cookie(node.datadir, node.rpc_url, timeout_s=5.0)
        return int(client.call("getblockcount"))
    except (RpcClientError, OSError, ValueError):
        return None


def wait_height(
    nodes: Sequence[NodeHandle],
    height: int,
    timeout_s: float,
    check_alive: Callable[[], None] | None = None,
    poll_s: float = 0.02,
) -> float:
    """Poll until every node answers with a tip >= `height`; the monotonic time
    they all did. `check_alive` (e.g. raise when a node process exited) runs
    before each poll."""
    deadline = time.monotonic() + timeout_s
    waiting = list(nodes)
    while True:
        if check_alive is not None:
            check_alive()
        waiting = [n for n in waiting if (tip_height(n) or -1) < height]
        if not waiting:
            return time.monotonic()
        if time.monotonic() > deadline:
            names = [n.name for n in waiting]
            raise RuntimeError(f"not at height {height} after {timeout_s} s: {names}")
        time.sleep(poll_s)


def wait_rpc_ready(nodes: Sequence[NodeHandle], started: float, timeout_s: float) -> list[float]:
    """Seconds from `started` until each node answers getblockcount."""
    ready: dict[str, float] = {}
    deadline = started + timeout_s
    while len(ready) < len(nodes):
        if time.monotonic() > deadline:
            missing = [n.name for n in nodes if n.name not in ready]
            raise RuntimeError(f"nodes not RPC-ready after {timeout_s} s: {missing}")
        for node in nodes:
            if node.name not in ready and tip_height(node) is not None:
                ready[node.name] = time.monotonic() - started
        time.sleep(0.02)
    return [round(ready[n.name], 3) for n in nodes]


def metric_samples(url: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample a Prometheus endpoint serves: (name, labels, value)."""
    with urllib.request.urlopen(url, timeout=5.0) as response:
        text = response.read().decode("utf-8")
    return [
        (sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]

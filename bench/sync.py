"""Sync benchmark: a fresh node syncs a long chain from one peer on loopback.

Set-up (not timed): a devnet genesis with four Bronze masternodes and
allocations to a few funding keys, then BLOCKS blocks of TXS 1-in/2-out
transactions each (every transaction spends the first output of its
predecessor in the previous block), built and certified by the
masternodes' operator keys with `timecoin.testing.ChainBuilder` (each
epoch's last block carries their empty epoch reports, as the rule active
from height 1 requires), committed straight into the LMDB store of the
serving node's data directory.

Timed: the serving node (`timecoin node`, one masternode of four, so it
produces nothing new) serves the chain; a fresh node that is not a
masternode, seeded with the serving node only, syncs it. The time runs from
the fresh node's first RPC answer (its peers start after RPC) to its tip
reaching the chain's tip.

Figures, all measured in this run: blocks/s, signatures/s (transaction
input signatures plus certificate signatures, each counted once), and their
ratio to twice the single-core raw Ed25519 verify rate (the two-core ceiling
of signature checking; target >= 0.40).

Writes JSON to bench/results/sync.json and prints a summary.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchlib import add_common_arguments, measure_raw_verify, wait_height, write_result
from timecoin.chain import GenesisSpec, build_genesis, chain_state_from_genesis
from timecoin.crypto import BatchVerifier, SigningKey, address_from_public_key
from timecoin.encoding import encode
from timecoin.node.config import NodeConfig, P2PSection, RpcSection, render_config
from timecoin.node.keys import load_or_create_key
from timecoin.node.store import save_tip_certificate
from timecoin.node.testnet import find_free_ports, testnet_params
from timecoin.params import COIN, ChainParams
from timecoin.storage import ChainStore, LmdbStore
from timecoin.storage.chainstate import commit_applied, init_genesis_state
from timecoin.storage.indexes import SPENTINDEX, TXINDEX
from timecoin.testing import ChainBuilder, genesis_masternodes, signed_transaction
from timecoin.types import OutPoint, Transaction, compute_txid

BLOCK_INTERVAL_MS = 1_000
MASTERNODES = 4
FUNDING_KEYS = 16
FEE = 10_000
CHANGE = 1_000
"""The second output; the first carries the rest to the next block's spend."""
TARGET_RATIO = 0.40


@dataclass(frozen=True, slots=True)
class BuiltChain:
    """What the set-up produced."""

    params: ChainParams
    height: int
    transactions: int
    tx_signatures: int
    certificate_signatures: int
    build_s: float


def spend(
    outpoint: OutPoint,
    amount: int,
    key: SigningKey,
    address: bytes,
    chain_id: int,
    outputs_count: int = 2,
) -> Transaction:
    """A signed 1-in transaction paying `amount` less the fee back to
    `address`: CHANGE in each of the `outputs_count - 1` last outputs, the
    rest in the first (the fee grows with the size)."""
    left = amount - FEE * (1 + outputs_count // 100)
    outputs = [(left - CHANGE * (outputs_count - 1), address)]
    outputs += [(CHANGE, address) for _ in range(outputs_count - 1)]
    return signed_transaction([(outpoint, key)], outputs, chain_id)


def build_chain(
    server_dir: Path,
    blocks: int,
    txs_per_block: int,
    *,
    fanout_outputs: int = 2,
    fanout_blocks: int = 0,
) -> BuiltChain:
    """Write genesis and `blocks` certified blocks into `server_dir`'s store.
    The transactions of the first `fanout_blocks` blocks have
    `fanout_outputs` outputs (to grow the UTXO set), the others 2."""
    started = time.perf_counter()
    params = testnet_params(BLOCK_INTERVAL_MS)
    server_dir.mkdir(parents=True)
    operators = [load_or_create_key(server_dir / "operator.key")]
    operators += [SigningKey.generate() for _ in range(MASTERNODES - 1)]
    keys = {key.public_key: key for key in operators}
    funders = [SigningKey.generate() for _ in range(FUNDING_KEYS)]
    funder_addresses = [address_from_public_key(k.public_key) for k in funders]
    allocation = 1_000 * COIN
    genesis = build_genesis(
        GenesisSpec(
            params=params,
            timestamp_ms=int(time.time() * 1000) - (blocks + 30) * BLOCK_INTERVAL_MS,
            allocations=tuple(
                (funder_addresses[i % FUNDING_KEYS], allocation) for i in range(txs_per_block)
            ),
            masternodes=genesis_masternodes(operators),
        )
    )
    (server_dir / "genesis.block").write_bytes(encode(genesis))
    builder = ChainBuilder(genesis, params, keys)
    genesis_txid = compute_txid(genesis.transactions[0])
    lanes = [
        (OutPoint(genesis_txid, i), allocation, funders[i % FUNDING_KEYS])
        for i in range(txs_per_block)
    ]
    for outpoint, amount, _ in lanes:
        coin = builder.view.get_coin(outpoint)
        if coin is None or coin.amount != amount:
            raise RuntimeError("genesis allocations are not where the benchmark expects them")
    kv = LmdbStore(server_dir / "chain")
    chain = ChainStore(kv, max_block_bytes=params.sizes.max_block_bytes)
    chain.indexes = frozenset((TXINDEX, SPENTINDEX))  # what a node keeps by default
    genesis_state, genesis_delta = chain_state_from_genesis(genesis, params)
    init_genesis_state(chain, genesis, genesis_state, genesis_delta)
    verifier = BatchVerifier(threads=2)
    tx_signatures = 0
    certificate_signatures = 0
    try:
        for block_number in range(blocks):
            transactions = []
            next_lanes = []
            outputs_count = fanout_outputs if block_number < fanout_blocks else 2
            for outpoint, amount, key in lanes:
                address = address_from_public_key(key.public_key)
                tx = spend(outpoint, amount, key, address, params.chain_id, outputs_count)
                transactions.append(tx)
                next_lanes.append((OutPoint(compute_txid(tx), 0), tx.outputs[0].amount, key))
            lanes = next_lanes
            applied = builder.build(transactions, verify_batch=verifier.verify_all)
            certificate = builder.accept(applied)
            save_tip_certificate(kv, certificate)
            commit_applied(chain, applied)
            tx_signatures += len(transactions)
            certificate_signatures += len(certificate.signatures)
    finally:
        verifier.close()
        kv.close()
    return BuiltChain(
        params=params,
        height=blocks,
        transactions=blocks * txs_per_block,
        tx_signatures=tx_signatures,
        certificate_signatures=certificate_signatures,
        build_s=time.perf_counter() - started,
    )


def write_config(
    datadir: Path, params: ChainParams, p2p_port: int, rpc_port: int, seeds: tuple[str, ...]
) -> None:
    """A loopback node config in `datadir`."""
    config = NodeConfig(
        network=params.name,
        block_interval_ms=BLOCK_INTERVAL_MS,
        p2p=P2PSection(host="127.0.0.1", port=p2p_port, seeds=seeds, allow_local_addresses=True),
        rpc=RpcSection(host="127.0.0.1", port=rpc_port),
        log_level="info",
    )
    (datadir / "node.toml").write_text(render_config(config), encoding="utf-8")


def start_node(datadir: Path) -> subprocess.Popen[bytes]:
    """`timecoin node` on `datadir`, its output in DATADIR/node.log."""
    with (datadir / "node.log").open("ab") as log_file:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "timecoin.cli",
                "node",
                "--config",
                str(datadir / "node.toml"),
                "--datadir",
                str(datadir),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_node(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass(frozen=True, slots=True)
class LocalNode:
    """A `timecoin node` process of this benchmark."""

    name: str
    datadir: Path
    rpc_port: int

    @property
    def rpc_url(self) -> str:
        """The node's JSON-RPC URL."""
        return f"http://127.0.0.1:{self.rpc_port}/"


def alive(node: LocalNode, proc: subprocess.Popen[bytes]) -> Callable[[], None]:
    """A check that raises, with the log's tail, once `proc` has exited."""

    def check() -> None:
        if proc.poll() is not None:
            tail = (node.datadir / "node.log").read_text(errors="replace").splitlines()[-20:]
            raise RuntimeError(f"node in {node.datadir} exited:\n" + "\n".join(tail))

    return check


def main() -> None:
    """Build, serve, sync, report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--blocks", type=int, default=100)
    parser.add_argument("--txs", type=int, default=1_000, help="transactions per block")
    parser.add_argument("--seconds", type=float, default=2.0, help="raw verify sampling time")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep the data directories and logs here"
    )
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.smoke:
        # Across an epoch boundary (20 blocks), so its last block carries reports.
        args.blocks, args.txs, args.seconds = 22, 2, 0.05

    raw = measure_raw_verify(args.seconds)
    with contextlib.ExitStack() as stack:
        if args.workdir is None:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tc-bench-sync-")))
        else:
            root = args.workdir
            root.mkdir(parents=True, exist_ok=False)
        server_dir = root / "server"
        fresh_dir = root / "fresh"
        built = build_chain(server_dir, args.blocks, args.txs)
        print(
            f"built {built.height} blocks, {built.transactions:,} transactions "
            f"in {built.build_s:.1f} s"
        )
        s_p2p, s_rpc, f_p2p, f_rpc = find_free_ports(4)
        write_config(server_dir, built.params, s_p2p, s_rpc, ())
        fresh_dir.mkdir()
        (fresh_dir / "genesis.block").write_bytes((server_dir / "genesis.block").read_bytes())
        write_config(fresh_dir, built.params, f_p2p, f_rpc, (f"127.0.0.1:{s_p2p}",))
        server_node = LocalNode("server", server_dir, s_rpc)
        fresh_node = LocalNode("fresh", fresh_dir, f_rpc)
        server = start_node(server_dir)
        fresh: subprocess.Popen[bytes] | None = None
        try:
            loaded_at = time.monotonic()
            wait_height([server_node], built.height, 120.0, alive(server_node, server))
            server_load_s = time.monotonic() - loaded_at
            fresh = start_node(fresh_dir)
            fresh_alive = alive(fresh_node, fresh)
            started = wait_height([fresh_node], 0, 60.0, fresh_alive)
            done = wait_height([fresh_node], built.height, 180.0, fresh_alive)
        finally:
            if fresh is not None:
                stop_node(fresh)
            stop_node(server)
    raw_after = measure_raw_verify(args.seconds / 2)
    baseline = (raw + raw_after) / 2
    elapsed = done - started
    signatures = built.tx_signatures + built.certificate_signatures
    blocks_per_s = built.height / elapsed
    sigs_per_s = signatures / elapsed
    ratio = sigs_per_s / (2 * baseline)
    result: dict[str, object] = {
        "benchmark": "sync",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "raw_verify_per_s": baseline,
        "chain": {
            "blocks": built.height,
            "transactions": built.transactions,
            "tx_signatures": built.tx_signatures,
            "certificate_signatures": built.certificate_signatures,
            "build_s": built.build_s,
        },
        "server_start_s": server_load_s,
        "sync_s": elapsed,
        "blocks_per_s": blocks_per_s,
        "tx_per_s": built.transactions / elapsed,
        "sigs_per_s": sigs_per_s,
        "ratio_to_two_cores_raw": ratio,
        "targets": {"ratio_to_two_cores_raw": TARGET_RATIO},
    }
    path = write_result(args, "sync", result)
    print(f"raw Ed25519 verify (1 core): {baseline:,.0f}/s")
    print(f"serving node loaded the chain in {server_load_s:.1f} s")
    print(
        f"sync of {built.height} blocks ({built.transactions:,} txs) from one peer: "
        f"{elapsed:.2f} s, {blocks_per_s:.1f} blocks/s, {sigs_per_s:,.0f} sig/s "
        f"({ratio:.0%} of 2x raw single-core verify, target {TARGET_RATIO:.0%})"
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()

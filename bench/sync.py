"""Sync benchmark: a fresh node syncs a long chain from one peer on loopback.

Set-up (not timed): a devnet genesis with four Bronze masternodes and
allocations to a few funding keys, then BLOCKS blocks of TXS 1-in/2-out
transactions each (every transaction spends the first output of its
predecessor in the previous block), built with `chain.build_block` and
certified by the masternodes' operator keys, committed straight into the
LMDB store of the serving node's data directory.

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
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nacl.bindings

from timecoin.chain import (
    ChainState,
    GenesisMasternode,
    GenesisSpec,
    build_block,
    build_genesis,
    chain_state_from_genesis,
    compute_vote_signing_message,
    voting_set_at,
)
from timecoin.consensus.finality_votes import sign_epoch_report
from timecoin.crypto import BatchVerifier, SigningKey, address_from_public_key, verify
from timecoin.encoding import encode
from timecoin.ledger import MemoryUtxoSet, compute_input_signing_message
from timecoin.node.config import NodeConfig, P2PSection, RpcSection, render_config
from timecoin.node.keys import load_or_create_key
from timecoin.node.store import save_tip_certificate
from timecoin.node.testnet import find_free_ports, testnet_params
from timecoin.params import COIN, ChainParams, Tier
from timecoin.rpc.client import RpcClient, RpcClientError
from timecoin.storage import ChainStore, LmdbStore
from timecoin.storage.chainstate import commit_applied, init_genesis_state
from timecoin.storage.indexes import SPENTINDEX, TXINDEX
from timecoin.types import (
    TX_VERSION,
    Certificate,
    CommitSignature,
    OutPoint,
    Transaction,
    TxInput,
    TxOutput,
    VoteType,
    compute_txid,
)

RESULTS = Path(__file__).resolve().parent / "results"
BLOCK_INTERVAL_MS = 1_000
MASTERNODES = 4
FUNDING_KEYS = 16
FEE = 10_000
CHANGE = 1_000
"""The second output; the first carries the rest to the next block's spend."""
TARGET_RATIO = 0.40


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


@dataclass(frozen=True, slots=True)
class BuiltChain:
    """What the set-up produced."""

    params: ChainParams
    height: int
    transactions: int
    tx_signatures: int
    certificate_signatures: int
    build_s: float


def certify(state: ChainState, keys: dict[bytes, SigningKey], chain_id: int) -> Certificate:
    """Precommits of the whole voting set for `state`'s tip."""
    voting_set = voting_set_at(state, state.height)
    if voting_set is None:
        raise RuntimeError(f"no voting set at height {state.height}")
    message = compute_vote_signing_message(
        chain_id, VoteType.PRECOMMIT, state.height, 0, state.block_hash
    )
    return Certificate(
        height=state.height,
        round=0,
        block_hash=state.block_hash,
        signatures=[
            CommitSignature(i, keys[v.operator_key].sign(message))
            for i, v in enumerate(voting_set.voters)
        ],
    )


def spend(
    outpoint: OutPoint,
    amount: int,
    key: SigningKey,
    address: bytes,
    chain_id: int,
    outputs_count: int = 2,
) -> Transaction:
    """A signed 1-in/N-out transaction paying its amount less the fee (FEE for
    2 outputs, more for a fan-out) back to `address` (CHANGE in each output
    after the first, the rest in the first)."""
    inputs = [TxInput(prevout=outpoint, public_key=key.public_key)]
    left = amount - FEE * (1 + outputs_count // 100)  # the fee grows with the size
    outputs = [TxOutput(amount=left - CHANGE * (outputs_count - 1), address=address)]
    outputs += [TxOutput(amount=CHANGE, address=address) for _ in range(outputs_count - 1)]
    unsigned = Transaction(TX_VERSION, inputs, outputs, 0, None, [], None)
    signature = key.sign(compute_input_signing_message(chain_id, compute_txid(unsigned), 0))
    return Transaction(TX_VERSION, inputs, outputs, 0, None, [signature], None)


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
            masternodes=tuple(
                GenesisMasternode(
                    tier=Tier.BRONZE,
                    owner_key=key.public_key,
                    operator_key=key.public_key,
                    reward_address=address_from_public_key(key.public_key),
                    network_address=f"127.0.0.1:{24300 + i}".encode(),
                )
                for i, key in enumerate(operators)
            ),
        )
    )
    (server_dir / "genesis.block").write_bytes(encode(genesis))
    state, delta = chain_state_from_genesis(genesis, params)
    utxo = MemoryUtxoSet(dict(delta.created))
    genesis_txid = compute_txid(genesis.transactions[0])
    lanes = [
        (OutPoint(genesis_txid, i), allocation, funders[i % FUNDING_KEYS])
        for i in range(txs_per_block)
    ]
    for outpoint, amount, _ in lanes:
        coin = delta.created.get(outpoint)
        if coin is None or coin.amount != amount:
            raise RuntimeError("genesis allocations are not where the benchmark expects them")
    kv = LmdbStore(server_dir / "chain")
    chain = ChainStore(kv, max_block_bytes=params.sizes.max_block_bytes)
    chain.indexes = frozenset((TXINDEX, SPENTINDEX))  # what a node keeps by default
    init_genesis_state(chain, genesis, state, delta)
    verifier = BatchVerifier(threads=2)
    certificate: Certificate | None = None
    tx_signatures = 0
    certificate_signatures = 0
    try:
        for block_number in range(blocks):
            transactions = []
            next_lanes = []
            outputs_count = fanout_outputs if block_number < fanout_blocks else 2
            for outpoint, amount, key in lanes:
                tx = spend(
                    outpoint,
                    amount,
                    key,
                    address_from_public_key(key.public_key),
                    params.chain_id,
                    outputs_count,
                )
                transactions.append(tx)
                next_lanes.append((OutPoint(compute_txid(tx), 0), tx.outputs[0].amount, key))
            lanes = next_lanes
            voting_set = voting_set_at(state, state.height + 1)
            if voting_set is None:
                raise RuntimeError(f"no voting set for height {state.height + 1}")
            reports = []
            next_height = state.height + 1
            if params.activation.is_epoch_reports_active(next_height) and params.epoch_of(
                next_height + 1
            ) != params.epoch_of(next_height):
                # an epoch's last block carries the members' (empty) reports
                reports = [
                    sign_epoch_report(
                        keys[v.operator_key],
                        params.chain_id,
                        params.epoch_of(next_height),
                        state.block_hash,
                        [],
                    )
                    for v in voting_set.voters
                ]
            applied = build_block(
                state,
                utxo,
                transactions,
                timestamp_ms=state.header.timestamp_ms + BLOCK_INTERVAL_MS,
                proposer=voting_set.voters[
                    (state.height + 1) % len(voting_set.voters)
                ].operator_key,
                prev_certificate=certificate,
                verifier=verify,
                verify_batch=verifier.verify_all,
                reports=reports,
            )
            state = applied.state_after
            certificate = certify(state, keys, params.chain_id)
            save_tip_certificate(kv, certificate)
            commit_applied(chain, applied)
            utxo.apply_delta(applied.delta)
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


def block_count(datadir: Path, port: int) -> int | None:
    """The node's tip height over RPC, or None while it does not answer."""
    try:
        client = RpcClient.from_cookie(datadir, f"http://127.0.0.1:{port}/", timeout_s=5.0)
        return int(client.call("getblockcount"))
    except (RpcClientError, OSError, ValueError):
        return None


def wait_height(
    datadir: Path, port: int, height: int, timeout_s: float, proc: subprocess.Popen[bytes]
) -> float:
    """Poll until the node answers with a tip >= `height`; the monotonic time it did."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (datadir / "node.log").read_text(errors="replace").splitlines()[-20:]
            raise RuntimeError(f"node in {datadir} exited:\n" + "\n".join(tail))
        got = block_count(datadir, port)
        if got is not None and got >= height:
            return time.monotonic()
        time.sleep(0.02)
    raise RuntimeError(f"node in {datadir} not at height {height} after {timeout_s} s")


def main() -> None:
    """Build, serve, sync, report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--blocks", type=int, default=100)
    parser.add_argument("--txs", type=int, default=1_000, help="transactions per block")
    parser.add_argument("--seconds", type=float, default=2.0, help="raw verify sampling time")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep the data directories and logs here"
    )
    args = parser.parse_args()

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
        server = start_node(server_dir)
        fresh: subprocess.Popen[bytes] | None = None
        try:
            loaded_at = time.monotonic()
            wait_height(server_dir, s_rpc, built.height, 120.0, server)
            server_load_s = time.monotonic() - loaded_at
            fresh = start_node(fresh_dir)
            started = wait_height(fresh_dir, f_rpc, 0, 60.0, fresh)
            done = wait_height(fresh_dir, f_rpc, built.height, 180.0, fresh)
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
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sync.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"raw Ed25519 verify (1 core): {baseline:,.0f}/s")
    print(f"serving node loaded the chain in {server_load_s:.1f} s")
    print(
        f"sync of {built.height} blocks ({built.transactions:,} txs) from one peer: "
        f"{elapsed:.2f} s, {blocks_per_s:.1f} blocks/s, {sigs_per_s:,.0f} sig/s "
        f"({ratio:.0%} of 2x raw single-core verify, target {TARGET_RATIO:.0%})"
    )
    print(f"results: {RESULTS / 'sync.json'}")


if __name__ == "__main__":
    main()

"""Ledger benchmark: transaction validation throughput against a real LMDB store.

Figures (all measured in this run, so ratios are meaningful on a noisy machine):
- raw Ed25519 verifications per second on one core (libsodium binding);
- single-threaded validation (decode, check, validate with inline verify)
  for 1-in/2-out and 2-in/2-out transactions, in signatures per second and
  as a ratio to the raw rate (target >= 0.70);
- the thread-pool path (validate collecting signatures, then BatchVerifier
  over 2 threads) as a ratio to the single-threaded path (target >= 1.6);
- validate-and-apply of whole blocks (connect_block + atomic LMDB commit);
- the cost per element of the UTXO commitment update (MuHash3072).

Writes JSON to bench/results/ledger.json and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nacl.bindings

from timecoin.crypto import (
    BatchVerifier,
    MuHash3072,
    SigningKey,
    address_from_public_key,
    configure_parallel_verification,
)
from timecoin.encoding import decode, encode
from timecoin.ledger import (
    check_transaction,
    compute_input_signing_message,
    connect_block,
    encode_utxo_element,
    validate_transaction,
)
from timecoin.params import COIN, MINIMAL
from timecoin.storage.chainstore import ChainStore
from timecoin.storage.kv import WriteBatch
from timecoin.storage.lmdb_store import LmdbStore
from timecoin.storage.schema import utxo_key
from timecoin.types import (
    TX_VERSION,
    Coin,
    OutPoint,
    Transaction,
    TxInput,
    TxOutput,
    compute_txid,
)

PARAMS = MINIMAL
RESULTS = Path(__file__).resolve().parent / "results"


def measure_raw_verify(seconds: float) -> float:
    """Raw libsodium verifications per second on one thread."""
    key = SigningKey.from_seed(bytes(range(32)))
    msg = b"x" * 80
    sig = key.sign(msg)
    pk = key.public_key
    verify = nacl.bindings.crypto_sign_open
    smsg = sig + msg
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(200):
            verify(smsg, pk)
        n += 200
    return n / (time.perf_counter() - start)


def build_workload(
    n_tx: int, n_inputs: int, seed: int
) -> tuple[list[tuple[OutPoint, Coin]], list[bytes]]:
    """Funded coins and signed transactions (encoded) spending them."""
    keys = [
        SigningKey.from_seed(seed.to_bytes(4, "big") + i.to_bytes(28, "big")) for i in range(64)
    ]
    coins: list[tuple[OutPoint, Coin]] = []
    txs: list[bytes] = []
    for t in range(n_tx):
        key = keys[t % len(keys)]
        address = address_from_public_key(key.public_key)
        inputs = []
        for i in range(n_inputs):
            outpoint = OutPoint(txid=(seed * 1_000_000 + t).to_bytes(32, "big"), index=i)
            coins.append((outpoint, Coin(amount=10 * COIN, address=address, height=0)))
            inputs.append(TxInput(prevout=outpoint, public_key=key.public_key))
        total = 10 * COIN * n_inputs - 100_000
        outputs = [
            TxOutput(amount=total // 2, address=address),
            TxOutput(amount=total - total // 2, address=address),
        ]
        unsigned = Transaction(TX_VERSION, inputs, outputs, 0, None, [], None)
        txid = compute_txid(unsigned)
        sigs = [
            key.sign(compute_input_signing_message(PARAMS.chain_id, txid, i))
            for i in range(n_inputs)
        ]
        txs.append(encode(Transaction(TX_VERSION, inputs, outputs, 0, None, sigs, None)))
    return coins, txs


def fund_store(store: ChainStore, coins: list[tuple[OutPoint, Coin]]) -> None:
    """Write coins straight into the UTXO table (benchmark set-up only)."""
    for start in range(0, len(coins), 5_000):
        batch = WriteBatch()
        for outpoint, coin in coins[start : start + 5_000]:
            batch.put(utxo_key(outpoint), encode(coin))
        store.kv.write(batch)


def run_timed(fn: Callable[[], int]) -> tuple[int, float]:
    start = time.perf_counter()
    count = fn()
    return count, time.perf_counter() - start


def bench_shape(
    n_tx: int, n_inputs: int, datadir: str, verifier: BatchVerifier
) -> dict[str, float]:
    coins, raw_txs = build_workload(n_tx, n_inputs, seed=n_inputs)
    kv = LmdbStore(os.path.join(datadir, f"utxo-{n_inputs}"))
    store = ChainStore(kv)
    fund_store(store, coins)
    max_tx = PARAMS.sizes.max_tx_bytes

    def single() -> int:
        sigs = 0
        for data in raw_txs:
            tx = decode(data, Transaction, max_tx)
            check_transaction(tx, PARAMS, size_bytes=len(data))
            validate_transaction(tx, compute_txid(tx), store, PARAMS, 1, size_bytes=len(data))
            sigs += len(tx.inputs)
        return sigs

    def pooled() -> int:
        # Pipeline: the main thread decodes and validates chunk k+1 while the
        # pool verifies the signatures of chunk k (libsodium drops the GIL).
        sigs = 0
        chunk = 256
        pending = []
        for start in range(0, len(raw_txs), chunk):
            sink: list[tuple[bytes, bytes, bytes]] = []
            for data in raw_txs[start : start + chunk]:
                tx = decode(data, Transaction, max_tx)
                check_transaction(tx, PARAMS, size_bytes=len(data))
                validate_transaction(
                    tx, compute_txid(tx), store, PARAMS, 1, sink, size_bytes=len(data)
                )
            pending.append(verifier.submit(sink))
            sigs += len(sink)
        if not all(p.all_valid() for p in pending):
            raise RuntimeError("benchmark transaction failed verification")
        return sigs

    single()  # warm the page cache and decoder
    s_sigs, s_time = run_timed(single)
    p_sigs, p_time = run_timed(pooled)
    kv.close()
    return {
        "transactions": n_tx,
        "inputs": n_inputs,
        "single_sigs_per_s": s_sigs / s_time,
        "single_tx_per_s": n_tx / s_time,
        "pool_sigs_per_s": p_sigs / p_time,
        "pool_tx_per_s": n_tx / p_time,
    }


def bench_connect(n_tx: int, datadir: str, verifier: BatchVerifier) -> dict[str, float]:
    """Validate-and-apply of blocks of 1,000 transactions with an atomic LMDB commit."""
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


def bench_muhash(n: int) -> float:
    """Microseconds per element of a block-style update (insert_many + one normalize)."""
    elements = [i.to_bytes(36, "big") + b"coin-bytes-32-long-xxxxxxxxxxxxx" for i in range(n)]
    state = MuHash3072()
    start = time.perf_counter()
    state.insert_many(elements)
    state.normalize()
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transactions", type=int, default=4_000)
    parser.add_argument("--seconds", type=float, default=2.0, help="raw verify sampling time")
    args = parser.parse_args()
    configure_parallel_verification()

    verifier = BatchVerifier(threads=2, chunk_size=32)
    raw = measure_raw_verify(args.seconds)
    with tempfile.TemporaryDirectory() as datadir:
        shapes = [bench_shape(args.transactions, n, datadir, verifier) for n in (1, 2)]
        connect = bench_connect(args.transactions, datadir, verifier)
    raw_after = measure_raw_verify(args.seconds / 2)
    verifier.close()
    muhash_us = bench_muhash(20_000)
    baseline = (raw + raw_after) / 2
    result: dict[str, object] = {
        "benchmark": "ledger",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "raw_verify_per_s": baseline,
        "shapes": [
            {
                **s,
                "single_ratio_to_raw": s["single_sigs_per_s"] / baseline,
                "pool_ratio_to_single": s["pool_sigs_per_s"] / s["single_sigs_per_s"],
            }
            for s in shapes
        ],
        "connect_block": {**connect, "ratio_to_raw": connect["tx_per_s"] / baseline},
        "muhash_us_per_element": muhash_us,
        "targets": {"single_ratio_to_raw": 0.70, "pool_ratio_to_single": 1.6},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ledger.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"raw Ed25519 verify (1 core): {baseline:,.0f}/s")
    for s in result["shapes"]:  # type: ignore[attr-defined]
        print(
            f"{s['inputs']}-in/2-out: single {s['single_sigs_per_s']:,.0f} sig/s "
            f"({s['single_ratio_to_raw']:.0%} of raw, target 70%); "
            f"pool {s['pool_sigs_per_s']:,.0f} sig/s "
            f"({s['pool_ratio_to_single']:.2f}x single, target 1.6x)"
        )
    print(
        f"connect_block + LMDB commit (1-in, 2 threads): {connect['tx_per_s']:,.0f} tx/s "
        f"({connect['tx_per_s'] / baseline:.2f}x raw single-core verify)"
    )
    print(f"MuHash3072 update: {muhash_us:.2f} us/element")
    print(f"results: {RESULTS / 'ledger.json'}")


if __name__ == "__main__":
    main()

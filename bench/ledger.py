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
import os
import platform
import tempfile
import time
from collections.abc import Callable

from benchlib import (
    PARAMS,
    add_common_arguments,
    bench_connect,
    build_workload,
    fund_store,
    measure_raw_verify,
    write_result,
)
from timecoin.crypto import BatchVerifier, MuHash3072, configure_parallel_verification
from timecoin.encoding import decode
from timecoin.ledger import check_transaction, validate_transaction
from timecoin.storage.chainstore import ChainStore
from timecoin.storage.lmdb_store import LmdbStore
from timecoin.types import Transaction, compute_txid


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
    parser.add_argument("--muhash-elements", type=int, default=20_000)
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.smoke:
        args.transactions, args.seconds, args.muhash_elements = 100, 0.05, 200
    configure_parallel_verification()

    verifier = BatchVerifier(threads=2, chunk_size=32)
    raw = measure_raw_verify(args.seconds)
    with tempfile.TemporaryDirectory() as datadir:
        shapes = [bench_shape(args.transactions, n, datadir, verifier) for n in (1, 2)]
        connect = bench_connect(args.transactions, datadir, verifier)
    raw_after = measure_raw_verify(args.seconds / 2)
    verifier.close()
    muhash_us = bench_muhash(args.muhash_elements)
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
    path = write_result(args, "ledger", result)
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
    print(f"results: {path}")


if __name__ == "__main__":
    main()

"""Child process of the storage crash test: commits synthetic blocks until killed.

Usage: storage_crash_child.py DATADIR SEED

Opens (or reopens) an LMDB chain store at DATADIR with durable commits and a
small initial map, so that the map also grows while the parent kills it.
Resumes after the stored tip, prints `ready HEIGHT`, then commits block after
block of the `SyntheticChain` for SEED and prints each height after its
commit returns. Exit code 3 if the stored tip is not the chain's block.
"""

from __future__ import annotations

import sys

from storage_synth import SyntheticChain

from timecoin.storage import ChainStore, LmdbStore

INITIAL_MAP_SIZE_BYTES = 256 * 1024
MAX_BLOCKS = 1_000_000


def main() -> int:
    datadir, seed = sys.argv[1], int(sys.argv[2])
    kv = LmdbStore(datadir, map_size_bytes=INITIAL_MAP_SIZE_BYTES)
    store = ChainStore(kv)
    chain = SyntheticChain(seed)
    tip = store.get_tip()
    if tip is None:
        step = chain.next_block()
        store.init_genesis(step.block, step.block_hash, step.undo, step.created, step.utxo_state)
    else:
        chain.advance_to(tip.height)
        if chain.tip_hash != tip.block_hash:
            print(f"stored tip {tip} is not block {chain.height} of the chain", file=sys.stderr)
            return 3
    print(f"ready {chain.height}", flush=True)
    for _ in range(MAX_BLOCKS):
        step = chain.next_block()
        store.commit_block(
            step.block, step.block_hash, step.undo, step.created, step.spent, step.utxo_state
        )
        print(step.height, flush=True)
    kv.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

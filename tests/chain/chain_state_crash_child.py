"""Child process of the chain-state crash test: commits real blocks until killed.

Usage: chain_state_crash_child.py DATADIR

Opens (or reopens) an LMDB chain store at DATADIR with a small initial map
(so that the map also grows while the parent kills it), reads the chain
state of the stored tip (as a restarted node does), prints `ready HEIGHT`,
then commits the blocks of `build_crash_chain` after it with their chain
state and every index (`commit_applied`), printing each height after its commit returns.
After the last block it prints `done` and waits to be killed. Exit code 3
if the stored state is not the chain's.
"""

from __future__ import annotations

import sys

from chain_helpers import GENESIS, PARAMS
from chain_state_crash_chain import build_crash_chain

from timecoin.chain import chain_state_from_genesis
from timecoin.storage import ChainStore, LmdbStore
from timecoin.storage.chainstate import commit_applied, init_genesis_state, read_chain_state
from timecoin.storage.indexes import INDEX_NAMES

INITIAL_MAP_SIZE_BYTES = 256 * 1024


def main() -> int:
    kv = LmdbStore(sys.argv[1], map_size_bytes=INITIAL_MAP_SIZE_BYTES)
    store = ChainStore(kv)
    store.indexes = frozenset(INDEX_NAMES)
    blocks = build_crash_chain()
    if store.get_tip() is None:
        init_genesis_state(store, GENESIS, *chain_state_from_genesis(GENESIS, PARAMS))
    state = read_chain_state(store, PARAMS)
    if state.height > 0 and blocks[state.height - 1].block_hash != state.block_hash:
        print(f"stored tip {state.height} is not the chain's block", file=sys.stderr)
        return 3
    print(f"ready {state.height}", flush=True)
    for applied in blocks[state.height :]:
        commit_applied(store, applied)
        print(applied.block.header.height, flush=True)
    print("done", flush=True)
    sys.stdin.read()
    return 0


if __name__ == "__main__":
    sys.exit(main())

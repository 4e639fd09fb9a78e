"""Child process of the reindex crash test: runs (or resumes) a reindex.

Usage: chain_reindex_child.py DATADIR

Opens the LMDB chain store at DATADIR (holding the blocks of
`build_crash_chain`), requests a reindex unless one is in progress, prints
`ready`, then runs `reindex` printing each height once its state is
written, and `done` at the end; then waits to be killed.
"""

from __future__ import annotations

import sys

from chain_helpers import GENESIS, PARAMS

from timecoin.crypto import verify
from timecoin.storage import ChainStore, LmdbStore
from timecoin.storage.reindex import is_reindexing, reindex, request_reindex


def main() -> int:
    kv = LmdbStore(sys.argv[1])
    store = ChainStore(kv)
    if not is_reindexing(kv):
        request_reindex(store)
    print("ready", flush=True)
    reindex(store, GENESIS, PARAMS, verifier=verify, on_height=lambda h: print(h, flush=True))
    print("done", flush=True)
    sys.stdin.read()
    return 0


if __name__ == "__main__":
    sys.exit(main())

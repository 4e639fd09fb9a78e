"""The transaction pool: admission policy, eviction, per-peer limits, orphans,
and the view new transactions are validated against.

Pure and I/O-free, beside `timecoin.consensus` in the layers; the two do not
import each other: the node passes the finality machine's decisions to the
pool (`mark_voted`, `mark_final`, `remove_block`) and the pool's admitted
transactions to the machine. docs/spec/finality.md section 8.
"""

from timecoin.mempool.errors import (
    REJECT_DUST,
    REJECT_FEE_RATE,
    REJECT_MEMPOOL_CONFLICT,
    REJECT_MEMPOOL_FULL,
    REJECT_ORPHAN,
    REJECT_PEER_LIMIT,
    REJECT_TOO_LARGE,
    MempoolRejected,
)
from timecoin.mempool.pool import (
    ENTRY_OVERHEAD_BYTES,
    AddResult,
    Mempool,
    MempoolPolicy,
    PoolEntry,
    estimate_entry_memory_bytes,
)
from timecoin.mempool.view import FinalUtxoView

__all__ = [
    "ENTRY_OVERHEAD_BYTES",
    "REJECT_DUST",
    "REJECT_FEE_RATE",
    "REJECT_MEMPOOL_CONFLICT",
    "REJECT_MEMPOOL_FULL",
    "REJECT_ORPHAN",
    "REJECT_PEER_LIMIT",
    "REJECT_TOO_LARGE",
    "AddResult",
    "FinalUtxoView",
    "Mempool",
    "MempoolPolicy",
    "MempoolRejected",
    "PoolEntry",
    "estimate_entry_memory_bytes",
]

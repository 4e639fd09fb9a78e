"""Reject codes of the pool's own policy (consensus codes come from the ledger).

Every one of them is retryable: the transaction may be offered again later
(when the pool has room, or the peer is under its limit). None of them is a
verdict on the transaction's validity, and none stops a committee member
from voting for it once it is offered again: the pool delays, it never
refuses by consensus.
"""

from __future__ import annotations

from typing import Final

from timecoin.types import TimecoinError

__all__ = [
    "REJECT_DUST",
    "REJECT_FEE_RATE",
    "REJECT_MEMPOOL_CONFLICT",
    "REJECT_MEMPOOL_FULL",
    "REJECT_ORPHAN",
    "REJECT_PEER_LIMIT",
    "REJECT_TOO_LARGE",
    "MempoolRejected",
]

REJECT_MEMPOOL_CONFLICT: Final = "txn-mempool-conflict"
"""An input is already spent by a pooled transaction (first seen wins)."""
REJECT_MEMPOOL_FULL: Final = "mempool-full"
"""The memory cap is reached and nothing cheaper can be evicted."""
REJECT_PEER_LIMIT: Final = "peer-limit"
"""The sending peer holds its share of the pool already."""
REJECT_FEE_RATE: Final = "min-fee-rate"
"""Below this node's relay fee floor (only for a non-voting pool)."""
REJECT_DUST: Final = "dust"
"""An output below this node's relay dust floor (only for a non-voting pool)."""
REJECT_TOO_LARGE: Final = "tx-size-policy"
"""Larger than this node's relay size cap (only for a non-voting pool)."""
REJECT_ORPHAN: Final = "orphan"
"""An input is unknown (a parent not yet final): kept aside, offered again later."""


class MempoolRejected(TimecoinError):
    """A transaction the pool does not hold now, for a reason of the pool."""

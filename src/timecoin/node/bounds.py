"""Memory bounds of the node's per-transaction maps, derived from params.

A map keyed by transaction (or by signature) must hold what the node needs
for a bounded span of time at the chain's highest finality rate
(`ChainParams.max_final_tps`), not a fixed count: a fixed count of 200,000
txids took 33 minutes to fill at 100 TPS, during which the node's RSS grew
without visible bound (ADR 0011). Each bound below is entries; the
`*_ENTRY_BYTES` figures are measured with tracemalloc on CPython 3.11 and
give the bound in bytes (`describe_bounds`, docs/node.md).
"""

from __future__ import annotations

from typing import Any, Final

from timecoin.p2p import P2PConfig
from timecoin.params import ChainParams

RECENT_HISTORY_S: Final = 60.0
"""Seconds of committed transactions whose block and spends the finality
service remembers (the status "confirmed", `sendrawtransaction` of a
transaction already in a block, a late double spend's rival), at least
three block intervals."""
SIGNATURE_HISTORY_S: Final = 120.0
"""Seconds of verified signatures kept: a transaction's signatures are
checked when it arrives and again when a block carrying it is validated,
seconds to a few block intervals later."""
SIGNATURES_PER_TRANSACTION: Final = 2
"""Signatures cached per transaction at the highest rate (inputs, and
heartbeat and vote signatures besides)."""
RECENT_TX_ENTRY_BYTES: Final = 460
"""Bytes per remembered committed transaction (txid -> (height, block) and
outpoint -> txid)."""
SIGNATURE_ENTRY_BYTES: Final = 170
"""Bytes per cached signature (a 32-byte key in an ordered dict)."""
RELAY_HISTORY_S: Final = 30.0
"""Seconds of relayed transactions kept to answer peers' `GetData` (peers
ask within a round trip of the announcement, re-announcements come with
the votes)."""
RELAY_CACHE_BYTES: Final = 16_000_000
"""Encoded bytes the relay cache holds at most (decoded, about three times more)."""
RELAY_ENTRY_BYTES: Final = 1_200
"""Bytes per relayed transaction held (its decoded objects and the entry)."""
SEEN_HISTORY_S: Final = 120.0
"""Seconds of inventory hashes remembered as seen (not requested again)."""
SEEN_ITEMS_PER_TRANSACTION: Final = 2
"""Inventory items per transaction at the highest rate (the transaction,
and vote batches, heartbeats and evidence besides)."""
SEEN_ENTRY_BYTES: Final = 120
"""Bytes per seen hash (a 32-byte key in an ordered dict)."""


def compute_recent_txids(params: ChainParams) -> int:
    """Committed transactions remembered by the finality service."""
    seconds = max(RECENT_HISTORY_S, 3 * params.block_interval_ms / 1000)
    return max(1, int(params.max_final_tps * seconds))


def compute_signature_cache_entries(params: ChainParams) -> int:
    """Entries of the node's signature cache."""
    seconds = max(SIGNATURE_HISTORY_S, 3 * params.block_interval_ms / 1000)
    return max(1, int(params.max_final_tps * seconds * SIGNATURES_PER_TRANSACTION))


def compute_relay_cache_items(params: ChainParams) -> int:
    """Items of the p2p relay cache (`P2PConfig.relay_cache_items`)."""
    return max(1, int(params.max_final_tps * RELAY_HISTORY_S))


def compute_seen_cache_size(params: ChainParams) -> int:
    """Hashes of the p2p seen cache (`P2PConfig.seen_cache_size`)."""
    seconds = max(SEEN_HISTORY_S, 3 * params.block_interval_ms / 1000)
    return max(1, int(params.max_final_tps * seconds * SEEN_ITEMS_PER_TRANSACTION))


def bound_p2p_caches(params: ChainParams, **settings: Any) -> P2PConfig:
    """A `P2PConfig` of `settings` whose caches that grow with each
    transaction (seen inventory, relay) are bounded for `params`."""
    return P2PConfig(
        **settings,
        seen_cache_size=compute_seen_cache_size(params),
        relay_cache_items=compute_relay_cache_items(params),
        relay_cache_bytes=RELAY_CACHE_BYTES,
    )


def describe_bounds(params: ChainParams) -> dict[str, int]:
    """The bound in bytes of each map above, for `params`."""
    relay_items = compute_relay_cache_items(params)
    return {
        "recent_transactions_bytes": compute_recent_txids(params) * RECENT_TX_ENTRY_BYTES,
        "signature_cache_bytes": compute_signature_cache_entries(params) * SIGNATURE_ENTRY_BYTES,
        "relay_cache_bytes": min(relay_items * RELAY_ENTRY_BYTES, 3 * RELAY_CACHE_BYTES),
        "seen_cache_bytes": compute_seen_cache_size(params) * SEEN_ENTRY_BYTES,
    }

"""Per-peer limits on the sync requests a node serves.

Each peer has a token bucket of served items (a header or a body counts
one, a body also counts its encoded kilobytes): it refills at
`items_per_s` up to `burst_items`. A request that finds the bucket empty is
refused (not answered), so a peer cannot make the node read its whole
store in a loop. The clock is an input; the table of peers is bounded.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["ServeLimiter"]


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated_ms: int


class ServeLimiter:
    """Token buckets of served sync items, one per peer."""

    def __init__(self, items_per_s: float, burst_items: float, max_peers: int = 1_024) -> None:
        """Refill `items_per_s` up to `burst_items`; remember at most `max_peers`."""
        if items_per_s <= 0 or burst_items <= 0 or max_peers < 1:
            raise ValueError("serve limits must be positive")
        self.items_per_s = items_per_s
        self.burst_items = burst_items
        self.max_peers = max_peers
        self.refused = 0
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def allow(self, peer_id: str, cost: float, now_ms: int) -> bool:
        """Charge `cost` items to `peer_id` if it has them; False refuses the request.

        A request costing more than the whole burst passes when the bucket
        is full (and leaves it in debt), so a large answer is slow, not
        impossible.
        """
        bucket = self._buckets.get(peer_id)
        if bucket is None:
            bucket = _Bucket(self.burst_items, now_ms)
            self._buckets[peer_id] = bucket
            while len(self._buckets) > self.max_peers:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(peer_id)
            elapsed_s = max(0, now_ms - bucket.updated_ms) / 1000
            bucket.tokens = min(self.burst_items, bucket.tokens + elapsed_s * self.items_per_s)
            bucket.updated_ms = now_ms
        if bucket.tokens <= 0 or (cost > bucket.tokens and bucket.tokens < self.burst_items):
            self.refused += 1
            return False
        bucket.tokens -= cost
        return True

    def forget(self, peer_id: str) -> None:
        """Drop the bucket of a disconnected peer."""
        self._buckets.pop(peer_id, None)

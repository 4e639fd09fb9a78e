"""A simple catch-up: fetch missing committed blocks by height from a peer.

A node that learns of a higher height (a peer's vote, proposal or
certificate), or that has committed nothing for a while, asks one peer for
the blocks after its tip (`GetBlocks`); the peer answers from its store
with each block and the certificate that committed it (`Blocks`). The
driver checks each certificate and validates each block before it commits
it. Requests are rate-limited; answers are bounded by MAX_BLOCKS_PER_MSG.
The sync issue replaces this with headers-first sync.
"""

from __future__ import annotations

import random
import time
from typing import Final

from timecoin.node.store import get_certificate
from timecoin.p2p.messages import MAX_BLOCKS_PER_MSG, Blocks, CommittedBlock, GetBlocks
from timecoin.storage import ChainStore

REQUEST_INTERVAL_S: Final = 0.5
"""Least time between two catch-up requests of this node."""
MAX_SERVE_BYTES: Final = 8_000_000
"""Stop adding blocks to one answer beyond this many (encoded) bytes."""


def serve_get_blocks(chain: ChainStore, request: GetBlocks) -> Blocks:
    """The committed blocks from `request.from_height` on, with their certificates
    (consecutive; stops at the first block without a known certificate)."""
    blocks: list[CommittedBlock] = []
    count = min(request.count, MAX_BLOCKS_PER_MSG)
    for height in range(max(1, request.from_height), max(1, request.from_height) + count):
        block_hash = chain.get_block_hash(height)
        if block_hash is None:
            break
        block = chain.get_block(block_hash)
        certificate = get_certificate(chain, height)
        if block is None or certificate is None:
            break
        blocks.append(CommittedBlock(block=block, certificate=certificate))
    return Blocks(blocks=blocks)


class CatchUp:
    """When and whom to ask for blocks."""

    def __init__(self, stall_s: float, rng: random.Random | None = None) -> None:
        """Ask when nothing was committed for `stall_s` seconds, or a peer is ahead."""
        self.stall_s = stall_s
        self._rng = rng or random.Random()
        self._next_request_at = 0.0
        self.peer_heights: dict[str, int] = {}
        self.requests = 0
        self.target = ""
        """The peer of the last request returned by `choose`."""

    def note_height(self, peer_id: str, height: int) -> None:
        """`peer_id` is deciding (or has committed up to) `height`."""
        if height > self.peer_heights.get(peer_id, -1):
            self.peer_heights[peer_id] = height

    def forget(self, peer_id: str) -> None:
        """`peer_id` disconnected."""
        self.peer_heights.pop(peer_id, None)

    def best_peer_height(self) -> int:
        """The highest height a peer reported (-1 when none)."""
        return max(self.peer_heights.values(), default=-1)

    def choose(
        self, tip_height: int, last_commit_monotonic: float, peers: list[str]
    ) -> GetBlocks | None:
        """A request to send now, or None; `self.target` names the peer."""
        now = time.monotonic()
        if not peers or now < self._next_request_at:
            return None
        ahead = [p for p in peers if self.peer_heights.get(p, -1) > tip_height + 1]
        stalled = now - last_commit_monotonic >= self.stall_s
        if not ahead and not stalled:
            return None
        self.target = self._rng.choice(ahead or peers)
        self._next_request_at = now + REQUEST_INTERVAL_S
        self.requests += 1
        return GetBlocks(from_height=tip_height + 1, count=MAX_BLOCKS_PER_MSG)

"""Inventory relay: announcing items by hash, fetching what peers announce,
serving what was announced, and keeping each item out of the node twice.

Three bounded structures (docs/spec/p2p.md section 8):

- the seen-cache: hashes of items this node has (received, gossiped or
  marked seen); a body whose hash is in it is a duplicate and goes no
  further;
- the relay cache: the items this node announced, to serve `GetData`;
- the requests in flight: hash -> (peer asked, deadline), so an item
  announced by several peers is asked of one at a time; a request expires at
  its deadline, on `NotFound` from the peer asked, or when that peer leaves,
  and the next announcement asks another peer.

Sans-I/O: messages go out through `Peer.send` and the peers' inventory
queues; the time is passed in.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from timecoin.bounded import BoundedCache, BoundedSet
from timecoin.crypto import sha256
from timecoin.encoding import encode
from timecoin.p2p.config import P2PConfig
from timecoin.p2p.messages import (
    MAX_TXS_PER_MSG,
    BlockMsg,
    EvidenceMsg,
    GetData,
    Inv,
    InvKind,
    NotFound,
    Txs,
)
from timecoin.p2p.peer import Peer
from timecoin.p2p.stats import P2PStats
from timecoin.types import (
    Block,
    DuplicateProposalEvidence,
    DuplicateVoteEvidence,
    Transaction,
    TxVoteEquivocationEvidence,
    compute_block_hash,
    compute_txid,
)

__all__ = ["InventoryItem", "InventoryRelay", "compute_inventory_hash"]

InventoryItem = (
    Transaction
    | Block
    | DuplicateVoteEvidence
    | DuplicateProposalEvidence
    | TxVoteEquivocationEvidence
)
"""What `PeerManager.gossip` announces by hash and serves on `GetData`."""


def compute_inventory_hash(item: InventoryItem) -> tuple[InvKind, bytes]:
    """The inventory kind and hash of `item` (txid, block hash, evidence hash)."""
    if isinstance(item, Transaction):
        return InvKind.TX, compute_txid(item)
    if isinstance(item, Block):
        return InvKind.BLOCK, compute_block_hash(item.header)
    if isinstance(
        item, DuplicateVoteEvidence | DuplicateProposalEvidence | TxVoteEquivocationEvidence
    ):
        return InvKind.EVIDENCE, sha256(encode(item))
    raise TypeError(f"not an inventory item: {type(item).__name__}")


class InventoryRelay:
    """The seen-cache, the relay cache and the requests in flight of one node."""

    def __init__(self, config: P2PConfig, max_frame_bytes: int, stats: P2PStats) -> None:
        """Caches sized by `config`; `Txs` answers stay under half of `max_frame_bytes`."""
        self._config = config
        self._stats = stats
        self._tx_limit_bytes = max_frame_bytes // 2
        self.seen: BoundedSet[bytes] = BoundedSet(config.seen_cache_size)
        self.relay: BoundedCache[bytes, tuple[InvKind, InventoryItem, int]] = BoundedCache(
            config.relay_cache_items, config.relay_cache_bytes
        )
        self.inflight: OrderedDict[bytes, tuple[str, float]] = OrderedDict()
        """hash -> (peer id asked, deadline), in deadline order (the timeout is fixed)."""

    # -- announcing -------------------------------------------------------------

    def gossip(self, item: InventoryItem, peers: Iterable[Peer], exclude: str | None) -> bytes:
        """Announce `item` by hash to `peers` not known to have it (but `exclude`);
        keep it to serve `GetData`; its hash."""
        kind, item_hash = self._keep(item)
        for peer in peers:
            if peer.peer_id != exclude and peer.known_inventory.add(item_hash):
                peer.queue_inventory(kind, item_hash)
        return item_hash

    def push_transaction(
        self, tx: Transaction, peers: Iterable[Peer], exclude: str | None
    ) -> bytes:
        """Send `tx` in full to `peers` not known to have it (but `exclude`);
        keep it to serve `GetData`; its txid."""
        _, item_hash = self._keep(tx)
        for peer in peers:
            if peer.peer_id != exclude and peer.known_inventory.add(item_hash):
                peer.queue_transaction(tx)
        return item_hash

    def _keep(self, item: InventoryItem) -> tuple[InvKind, bytes]:
        kind, item_hash = compute_inventory_hash(item)
        self.seen.add(item_hash)
        size = len(encode(item))
        self.relay.put(item_hash, (kind, item, size), size)
        return kind, item_hash

    def has_seen(self, item_hash: bytes) -> bool:
        """Whether `item_hash` is in the seen-cache."""
        return item_hash in self.seen

    def mark_seen(self, item_hash: bytes) -> None:
        """Add a hash the node already has to the seen-cache."""
        self.seen.add(item_hash)

    # -- messages -----------------------------------------------------------------

    def on_inv(self, peer: Peer, message: Inv, now: float) -> None:
        """Ask `peer` for the announced items not seen and not asked of anyone."""
        expires_at = now + self._config.getdata_timeout_s
        wanted: list[bytes] = []
        for item_hash in message.hashes:
            peer.known_inventory.add(item_hash)
            if item_hash in self.seen or item_hash in self.inflight:
                continue
            if len(self.inflight) >= self._config.max_inflight_requests:
                break
            self.inflight[item_hash] = (peer.peer_id, expires_at)
            wanted.append(item_hash)
        if wanted:
            peer.send(GetData(kind=message.kind, hashes=wanted))

    def on_getdata(self, peer: Peer, message: GetData) -> GetData | None:
        """Send `peer` the requested items held in the relay cache (transactions
        in `Txs` batches within the frame limit); the request for the rest, for
        the reactors to serve, or None."""
        missing: list[bytes] = []
        txs: list[Transaction] = []
        tx_bytes = 0
        for item_hash in message.hashes:
            cached = self.relay.get(item_hash)
            if cached is None or cached[0] is not message.kind:
                missing.append(item_hash)
                continue
            peer.known_inventory.add(item_hash)
            item, size = cached[1], cached[2]
            if isinstance(item, Transaction):
                if txs and (len(txs) >= MAX_TXS_PER_MSG or tx_bytes + size > self._tx_limit_bytes):
                    peer.send(Txs(transactions=txs))
                    txs, tx_bytes = [], 0
                txs.append(item)
                tx_bytes += size
            elif isinstance(item, Block):
                peer.send(BlockMsg(block=item))
            else:
                peer.send(EvidenceMsg(evidence=item))
        if txs:
            peer.send(Txs(transactions=txs))
        if missing:
            return GetData(kind=message.kind, hashes=missing)
        return None

    def on_notfound(self, peer: Peer, message: NotFound) -> None:
        """Drop the requests `peer` cannot serve, so another peer is asked."""
        for item_hash in message.hashes:
            entry = self.inflight.get(item_hash)
            if entry is not None and entry[0] == peer.peer_id:
                del self.inflight[item_hash]

    def on_txs(self, peer: Peer, message: Txs) -> Txs | None:
        """The message with only the transactions new to the node, or None."""
        fresh = [tx for tx in message.transactions if self._receive(peer, compute_txid(tx))]
        if not fresh:
            return None
        if len(fresh) == len(message.transactions):
            return message
        return Txs(transactions=fresh)

    def on_block(self, peer: Peer, message: BlockMsg) -> BlockMsg | None:
        """The message if its block is new to the node, else None."""
        if self._receive(peer, compute_block_hash(message.block.header)):
            return message
        return None

    def on_evidence(self, peer: Peer, message: EvidenceMsg) -> EvidenceMsg | None:
        """The message if its evidence is new to the node, else None."""
        if self._receive(peer, sha256(encode(message.evidence))):
            return message
        return None

    def _receive(self, peer: Peer, item_hash: bytes) -> bool:
        """Record a received body; whether it is new."""
        self.inflight.pop(item_hash, None)
        peer.known_inventory.add(item_hash)
        if self.seen.add(item_hash):
            return True
        self._stats.gossip_duplicates += 1
        return False

    # -- upkeep -------------------------------------------------------------------

    def expire(self, now: float) -> None:
        """Drop the requests past their deadline."""
        inflight = self.inflight
        while inflight:
            item_hash, (_, expires_at) = next(iter(inflight.items()))
            if expires_at > now:
                break
            del inflight[item_hash]

    def forget_requests_to(self, peer_id: str) -> None:
        """Drop the requests to a peer that is gone, so others are asked."""
        stale = [h for h, (asked, _) in self.inflight.items() if asked == peer_id]
        for item_hash in stale:
            del self.inflight[item_hash]

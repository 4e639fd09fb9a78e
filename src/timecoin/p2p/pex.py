"""Peer exchange: what enters the address book, `GetAddr` and `Addr`, asking a
random peer for addresses now and then, and saving the book
(docs/spec/p2p.md section 9).

Sans-I/O: messages go out through `Peer.send`; times are passed in; the book
is saved through the injected `AddressStore`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence

from timecoin.bounded import BoundedSet
from timecoin.p2p.addrbook import (
    AddressBook,
    AddressStore,
    is_acceptable_address,
    pack_ip,
    unpack_ip,
)
from timecoin.p2p.config import P2PConfig
from timecoin.p2p.messages import MAX_ADDRESSES_PER_MSG, Addr, GetAddr, NetAddress
from timecoin.p2p.peer import Direction, Peer
from timecoin.p2p.ratelimit import TokenBucket
from timecoin.p2p.stats import P2PStats

__all__ = ["PeerExchange"]

log = logging.getLogger(__name__)

_MAX_SELF_ADDRESSES = 64


class PeerExchange:
    """The address book's sources and upkeep."""

    def __init__(
        self,
        config: P2PConfig,
        address_book: AddressBook,
        stats: P2PStats,
        rng: random.Random,
        store: AddressStore | None,
    ) -> None:
        """Exchange addresses into `address_book`, persisted in `store` (if any)."""
        self._config = config
        self.address_book = address_book
        self._stats = stats
        self._rng = rng
        self._store = store
        self.self_addresses: BoundedSet[tuple[str, int]] = BoundedSet(_MAX_SELF_ADDRESSES)
        """Addresses that turned out to be this node (never dialed again)."""
        self._next_pex_at = 0.0
        self._next_persist_at = 0.0

    def start(self, now: float) -> None:
        """Load the book from the store; the first exchange and save are one
        interval from `now`."""
        if self._store is not None:
            self.address_book.load(self._store.load())
            self.address_book.dirty = False
        self._next_pex_at = now + self._config.pex_interval_s
        self._next_persist_at = now + self._config.persist_interval_s

    def is_bookable(self, host: str, port: int) -> bool:
        """Whether (host, port) may enter the book (`is_acceptable_address`)."""
        return is_acceptable_address(host, port, allow_local=self._config.allow_local_addresses)

    def on_peer_registered(self, peer: Peer, now: float, wall_ms: int) -> None:
        """Give a new peer its `Addr` token bucket and book its address: an
        outbound dial as a success, an inbound peer's listening address as seen."""
        config = self._config
        peer.addr_bucket = TokenBucket(config.addr_rate_per_s, float(config.addr_burst), now)
        if peer.direction is Direction.OUTBOUND and peer.dial_address is not None:
            host, port = peer.dial_address
            if self.is_bookable(host, port):
                self.address_book.mark_success(host, port, wall_ms)
        else:
            address = peer.listen_address
            if address is not None and self.is_bookable(*address):
                self.address_book.add(address[0], address[1], wall_ms)

    def on_self_connection(self, address: tuple[str, int]) -> None:
        """`address` is this node: never book or dial it again."""
        self.self_addresses.add(address)
        self.address_book.remove(*address)

    def on_getaddr(self, peer: Peer, now: float) -> None:
        """Answer with a sample of the book, at most once per interval per peer."""
        last = peer.last_getaddr_answered_at
        if last is not None and now - last < self._config.getaddr_min_interval_s:
            return
        peer.last_getaddr_answered_at = now
        own = peer.listen_address
        count = min(self._config.addr_response_max, MAX_ADDRESSES_PER_MSG)
        addresses: list[NetAddress] = []
        for entry in self.address_book.sample(count + 1, self._rng):
            if (entry.host, entry.port) == own or len(addresses) >= count:
                continue
            addresses.append(
                NetAddress(ip=pack_ip(entry.host), port=entry.port, last_seen_ms=entry.last_seen_ms)
            )
        peer.send(Addr(addresses=addresses))

    def on_addr(self, peer: Peer, message: Addr, now: float, wall_ms: int) -> None:
        """Book the addresses the peer's token bucket admits and the rules allow."""
        bucket = peer.addr_bucket
        for address in message.addresses:
            if bucket is None or not bucket.has_tokens(now):
                self._stats.addresses_dropped += 1
                continue
            bucket.charge(1)
            host = unpack_ip(address.ip)
            if (
                host is None
                or not self.is_bookable(host, address.port)
                or (host, address.port) in self.self_addresses
            ):
                self._stats.addresses_dropped += 1
                continue
            self.address_book.add(host, address.port, min(address.last_seen_ms, wall_ms))
            self._stats.addresses_accepted += 1

    def tick(self, now: float, peers: Sequence[Peer]) -> None:
        """Ask a random peer for addresses and save the book, each when due."""
        if now >= self._next_pex_at:
            self._next_pex_at = now + self._config.pex_interval_s
            if peers:
                self._rng.choice(list(peers)).send(GetAddr())
        if now >= self._next_persist_at:
            self._next_persist_at = now + self._config.persist_interval_s
            self.persist()

    def persist(self) -> None:
        """Save the book if it changed (a failure is logged, not raised)."""
        if self._store is None or not self.address_book.dirty:
            return
        try:
            self._store.save(self.address_book.entries())
            self.address_book.dirty = False
        except Exception:
            log.exception("saving the address book failed")

"""The peer manager: listening, dialing, bans, liveness, inventory gossip, PEX.

Subsystems plug in as `Reactor`s (the shape of CometBFT's reactors): they
learn of peers coming and going and receive every message the manager does
not consume itself. They send with `PeerManager.send`, `broadcast`,
`gossip` or `Peer.send`.

The manager consumes the control traffic (`Ping`, `Pong`, `GetAddr`,
`Addr`), inventory announcements (`Inv`, `NotFound`) and the `GetData`
requests it can serve from its relay cache; inventory bodies (`Txs`,
`BlockMsg`, `EvidenceMsg`) reach reactors only if their hashes are new to
the seen-cache. All times come from the injected `now` (monotonic seconds)
and `wall_clock_ms`; all randomness but key material from the injected
`random.Random`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from timecoin.crypto import SigningKey, sha256
from timecoin.encoding import encode
from timecoin.p2p.addrbook import (
    AddressBook,
    AddressStore,
    is_acceptable_address,
    normalize_host,
    pack_ip,
    unpack_ip,
)
from timecoin.p2p.bans import BanEntry, BanKind, BanList
from timecoin.p2p.caches import BoundedCache, BoundedSet
from timecoin.p2p.config import P2PConfig, parse_peer_address
from timecoin.p2p.errors import REJECT_SELF_CONNECTION, PeerProtocolError
from timecoin.p2p.handshake import HandshakeIdentity
from timecoin.p2p.messages import (
    MAX_ADDRESSES_PER_MSG,
    MAX_TXS_PER_MSG,
    Addr,
    BlockMsg,
    EvidenceMsg,
    GetAddr,
    GetData,
    Inv,
    InvKind,
    Message,
    NetAddress,
    NotFound,
    Ping,
    Pong,
    Txs,
    class_of,
    encode_message,
)
from timecoin.p2p.peer import Direction, Peer, PeerInfo, PeerSettings, PeerState
from timecoin.p2p.ratelimit import TokenBucket
from timecoin.p2p.stats import P2PStats
from timecoin.params import ChainParams
from timecoin.types import (
    Block,
    DuplicateProposalEvidence,
    DuplicateVoteEvidence,
    ProtocolError,
    Transaction,
    TxVoteEquivocationEvidence,
    compute_block_hash,
    compute_txid,
)

__all__ = [
    "InventoryItem",
    "PeerManager",
    "Reactor",
    "compute_inventory_hash",
]

log = logging.getLogger(__name__)

InventoryItem = (
    Transaction
    | Block
    | DuplicateVoteEvidence
    | DuplicateProposalEvidence
    | TxVoteEquivocationEvidence
)
"""What `PeerManager.gossip` announces by hash and serves on `GetData`."""

_MAX_SELF_ADDRESSES = 64


class Reactor(Protocol):
    """A subsystem attached to the network (mempool, consensus, sync, ...)."""

    def on_peer_connected(self, peer: Peer) -> None:
        """A peer completed the handshake and was accepted."""
        ...

    def on_peer_disconnected(self, peer: Peer) -> None:
        """A peer reported by `on_peer_connected` is gone."""
        ...

    async def on_message(self, peer: Peer, message: Message) -> None:
        """A message from `peer`; messages of one peer arrive in order.

        Raising `timecoin.types.ProtocolError` disconnects and bans the peer;
        any other exception is logged and counted, and the connection stays.
        While this coroutine runs, the peer's next messages wait (bounded;
        reading pauses when the queue is full).
        """
        ...


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


@dataclass(slots=True)
class _DialState:
    attempts: int = 0
    next_at: float = 0.0


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class PeerManager:
    """All connections of one node."""

    def __init__(
        self,
        params: ChainParams,
        node_key: SigningKey,
        config: P2PConfig | None = None,
        *,
        address_store: AddressStore | None = None,
        rng: random.Random | None = None,
        now: Callable[[], float] = time.monotonic,
        wall_clock_ms: Callable[[], int] = _wall_clock_ms,
    ) -> None:
        """A manager for the chain of `params` (which must name its genesis hash).

        Raises ValueError for a config out of range, a bad seed or persistent
        peer address, or params without a genesis hash.
        """
        if params.genesis_hash is None:
            raise ValueError("params must be bound to a genesis hash (ChainParams.with_genesis)")
        self.config = config or P2PConfig()
        self.config.check()
        self.params = params
        self.node_key = node_key
        self.stats = P2PStats()
        self.bans = BanList(self.config.max_bans)
        self.address_book = AddressBook(
            self.config.address_book_size, max_failures=self.config.max_address_failures
        )
        self._store = address_store
        self._rng = rng if rng is not None else random.Random()
        self._now = now
        self._wall_clock_ms = wall_clock_ms
        self._genesis_hash = params.genesis_hash
        self._max_frame_bytes = self.config.resolve_max_frame_bytes(params)
        self._rates = self.config.resolve_rates(params)
        port = params.default_p2p_port
        self._persistent = [parse_peer_address(a, port) for a in self.config.persistent_peers]
        self._seeds = [parse_peer_address(a, port) for a in self.config.seeds]
        self._reactors: list[Reactor] = []
        self._connections: set[Peer] = set()
        self._peers: dict[str, Peer] = {}
        self._dialing: dict[tuple[str, int], asyncio.Task[None]] = {}
        self._dial_state: dict[tuple[str, int], _DialState] = {}
        self._self_addresses: BoundedSet[tuple[str, int]] = BoundedSet(_MAX_SELF_ADDRESSES)
        self._seen: BoundedSet[bytes] = BoundedSet(self.config.seen_cache_size)
        self._relay: BoundedCache[bytes, tuple[InvKind, InventoryItem, int]] = BoundedCache(
            self.config.relay_cache_items, self.config.relay_cache_bytes
        )
        self._inflight: OrderedDict[bytes, tuple[str, float]] = OrderedDict()
        self._server: asyncio.AbstractServer | None = None
        self._listen_address: tuple[str, int] | None = None
        self._settings: PeerSettings | None = None
        self._tick_task: asyncio.Task[None] | None = None
        self._running = False
        self._next_pex_at = 0.0
        self._next_persist_at = 0.0

    # -- life cycle -----------------------------------------------------------

    def add_reactor(self, reactor: Reactor) -> None:
        """Attach a subsystem; reactors see events in the order they were added."""
        self._reactors.append(reactor)

    async def start(self) -> None:
        """Load the address book, listen (if configured) and start maintenance."""
        if self._running:
            return
        if self._store is not None:
            self.address_book.load(self._store.load())
            self.address_book.dirty = False
        loop = asyncio.get_running_loop()
        config = self.config
        advertised = config.advertised_port or 0
        if config.listen:
            self._server = await loop.create_server(
                lambda: self._new_peer(Direction.INBOUND, None),
                config.listen_host,
                config.resolve_listen_port(self.params),
            )
            sockname = self._server.sockets[0].getsockname()
            self._listen_address = (str(sockname[0]), int(sockname[1]))
            advertised = config.advertised_port or self._listen_address[1]
        self._settings = self._build_settings(advertised)
        now = self._now()
        self._next_pex_at = now + config.pex_interval_s
        self._next_persist_at = now + config.persist_interval_s
        self._running = True
        self._tick_task = loop.create_task(self._maintenance_loop())
        log.info("p2p started: listening on %s", self._listen_address)

    async def stop(self) -> None:
        """Close every connection, stop listening, save the address book."""
        if not self._running:
            return
        self._running = False
        tasks: list[asyncio.Task[None]] = list(self._dialing.values())
        if self._tick_task is not None:
            tasks.append(self._tick_task)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._dialing.clear()
        if self._server is not None:
            self._server.close()
        peers = list(self._connections)
        for peer in peers:
            peer.close("shutdown")
        if peers:
            await asyncio.wait(
                [asyncio.ensure_future(p.closed) for p in peers],
                timeout=self.config.close_timeout_s + 1.0,
            )
        for peer in peers:
            peer.abort("shutdown")
        await asyncio.gather(*(p.stop_dispatcher() for p in peers), return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None
        self._persist()
        log.info("p2p stopped")

    @property
    def listen_address(self) -> tuple[str, int] | None:
        """The bound (host, port), once started with listening enabled."""
        return self._listen_address

    @property
    def peer_id(self) -> str:
        """Our own peer id: the hex of our node key."""
        return self.node_key.public_key.hex()

    # -- what reactors and the node call ----------------------------------------------

    def peers(self) -> list[Peer]:
        """The connected, authenticated peers."""
        return list(self._peers.values())

    def peer(self, peer_id: str) -> Peer | None:
        """The connected peer with `peer_id`, or None."""
        return self._peers.get(peer_id)

    def peer_infos(self) -> list[PeerInfo]:
        """Snapshots of the connected peers."""
        return [p.info() for p in self._peers.values()]

    def send(self, peer_id: str, message: Message) -> bool:
        """Queue `message` for one peer; False if it is not connected or overflowed."""
        peer = self._peers.get(peer_id)
        return peer is not None and peer.send(message)

    def broadcast(self, message: Message, *, exclude: str | None = None) -> int:
        """Queue `message` for every peer but `exclude`; return how many took it.

        The message is encoded once. Raises ValueError if it exceeds the
        frame limit.
        """
        payload = encode_message(message)
        cls = class_of(message)
        sent = 0
        for peer in list(self._peers.values()):
            if peer.peer_id != exclude and peer.send_payload(payload, cls):
                sent += 1
        return sent

    def gossip(self, item: InventoryItem, *, exclude: str | None = None) -> bytes:
        """Announce `item` by hash to every peer not known to have it; return the hash.

        The item is kept in the bounded relay cache to serve `GetData`, and
        its hash enters the seen-cache. Calling again re-announces to peers
        that joined since. Announcements are batched into one `Inv` per
        kind per peer and event-loop iteration.
        """
        kind, item_hash = compute_inventory_hash(item)
        self._seen.add(item_hash)
        size = len(encode(item))
        self._relay.put(item_hash, (kind, item, size), size)
        for peer in list(self._peers.values()):
            if peer.peer_id == exclude:
                continue
            if peer.known_inventory.add(item_hash):
                peer.queue_inventory(kind, item_hash)
        return item_hash

    def push_transaction(self, tx: Transaction, *, exclude: str | None = None) -> bytes:
        """Send `tx` in full to every peer not known to have it; return its txid.

        For a transaction this node is the first to relay (a client's):
        pushing saves the announcement pacing and the request round trip
        that `gossip` costs, on the path to finality. It is kept in the
        relay cache as `gossip` keeps it; peers relay it on by `gossip`.
        """
        kind, item_hash = compute_inventory_hash(tx)
        self._seen.add(item_hash)
        size = len(encode(tx))
        self._relay.put(item_hash, (kind, tx, size), size)
        for peer in list(self._peers.values()):
            if peer.peer_id == exclude:
                continue
            if peer.known_inventory.add(item_hash):
                peer.queue_transaction(tx)
        return item_hash

    def has_seen(self, item_hash: bytes) -> bool:
        """Whether `item_hash` is in the seen-cache."""
        return item_hash in self._seen

    def mark_seen(self, item_hash: bytes) -> None:
        """Add an inventory hash the node already has (say, from a synced block)
        to the seen-cache, so announcements of it are not fetched."""
        self._seen.add(item_hash)

    def ban(self, peer_id: str, reason: str, seconds: float) -> None:
        """Ban a node key (and the host of its live connection) and disconnect it."""
        until = self._now() + seconds
        self.bans.ban(BanKind.NODE, peer_id, until, reason)
        peer = self._peers.get(peer_id)
        host = peer.remote_host if peer is not None else None
        if host:
            self.bans.ban(BanKind.HOST, host, until, reason)
        self._count_ban(reason)
        self._disconnect_banned(host, peer_id, reason)

    def ban_host(self, host: str, reason: str, seconds: float) -> None:
        """Ban an IP address and disconnect its connections."""
        canonical = normalize_host(host) or host
        self.bans.ban(BanKind.HOST, canonical, self._now() + seconds, reason)
        self._count_ban(reason)
        self._disconnect_banned(canonical, None, reason)

    def unban(self, kind: BanKind, value: str) -> bool:
        """Lift a ban; return whether there was one."""
        return self.bans.unban(kind, value)

    def banned(self) -> list[BanEntry]:
        """The current bans, soonest expiry first."""
        self.bans.prune(self._now())
        return self.bans.entries()

    def connect(self, address: str) -> None:
        """Dial "host:port" now, once (RPC `addnode ... onetry`).

        Raises ValueError for a bad address, RuntimeError if not started.
        """
        if not self._running:
            raise RuntimeError("the peer manager is not running")
        target = parse_peer_address(address, self.params.default_p2p_port)
        if target not in self._busy_addresses():
            self._dial(target)

    def add_persistent_peer(self, address: str) -> bool:
        """Keep "host:port" connected from now on (redialed with backoff);
        return False if it was kept already.

        Raises ValueError for a bad address.
        """
        target = parse_peer_address(address, self.params.default_p2p_port)
        if target in self._persistent:
            return False
        self._persistent.append(target)
        return True

    def remove_persistent_peer(self, address: str) -> bool:
        """Stop keeping "host:port" connected (its live connection stays);
        return whether it was kept. Raises ValueError for a bad address."""
        target = parse_peer_address(address, self.params.default_p2p_port)
        if target not in self._persistent:
            return False
        self._persistent.remove(target)
        return True

    def disconnect(self, host: str, port: int) -> int:
        """Close the connections with `host`:`port` (remote or advertised
        listen address); return how many."""
        closed = 0
        for peer in list(self._connections):
            remote = (peer.remote_host, peer.remote_port)
            if remote == (host, port) or peer.listen_address == (host, port):
                peer.close("disconnected by the operator")
                closed += 1
        return closed

    # -- PeerOwner: callbacks from connections ---------------------------------

    def on_connection_made(self, peer: Peer) -> bool:
        """Admit or refuse a new TCP connection (bans and inbound limits)."""
        if not self._running:
            return False
        now = self._now()
        if self.bans.is_banned(BanKind.HOST, peer.remote_host, now):
            self.stats.connections_refused += 1
            return False
        if peer.direction is Direction.INBOUND:
            inbound = 0
            same_host = 0
            for other in self._connections:
                if other.direction is Direction.INBOUND:
                    inbound += 1
                    same_host += other.remote_host == peer.remote_host
            if inbound >= self.config.max_inbound or same_host >= self.config.max_inbound_per_host:
                self.stats.connections_refused += 1
                return False
        self._connections.add(peer)
        return True

    def on_handshake_done(self, peer: Peer) -> None:
        """Register an authenticated peer, or close it (banned key, duplicate)."""
        now = self._now()
        self.stats.handshakes_completed += 1
        if not self._running:
            peer.close("shutdown")
            return
        if self.bans.is_banned(BanKind.NODE, peer.peer_id, now):
            peer.abort("banned")
            return
        existing = self._peers.get(peer.peer_id)
        if existing is not None:
            self.stats.duplicate_connections += 1
            if not self._prefer_new_connection(peer, existing):
                peer.close("duplicate connection")
                return
            self._unregister(existing)
            existing.close("duplicate connection")
        self._peers[peer.peer_id] = peer
        peer.registered = True
        peer.addr_bucket = TokenBucket(
            self.config.addr_rate_per_s, float(self.config.addr_burst), now
        )
        wall_ms = self._wall_clock_ms()
        if peer.direction is Direction.OUTBOUND and peer.dial_address is not None:
            self._dial_state.pop(peer.dial_address, None)
            host, port = peer.dial_address
            if self._is_bookable(host, port):
                self.address_book.mark_success(host, port, wall_ms)
        else:
            address = peer.listen_address
            if address is not None and self._is_bookable(*address):
                self.address_book.add(address[0], address[1], wall_ms)
        log.info("peer %s connected (%s)", peer.peer_id[:16], peer.direction.value)
        for reactor in list(self._reactors):
            try:
                reactor.on_peer_connected(peer)
            except Exception:
                self.stats.reactor_errors += 1
                log.exception("reactor %r failed in on_peer_connected", reactor)
        if peer.direction is Direction.OUTBOUND and peer.is_open:
            peer.send(GetAddr())

    def on_protocol_error(self, peer: Peer, error: PeerProtocolError) -> None:
        """Close a peer that broke the protocol; ban it if it misbehaved."""
        if peer.state is not PeerState.OPEN:
            self.stats.handshakes_failed += 1
        if error.reject_code == REJECT_SELF_CONNECTION and peer.dial_address is not None:
            self._self_addresses.add(peer.dial_address)
            self.address_book.remove(*peer.dial_address)
        if error.ban:
            self._punish(peer, error.reject_code, error.message)
        else:
            log.info("closing %r: %s", peer, error)
            peer.abort(error.reject_code)

    def on_connection_lost(self, peer: Peer) -> None:
        """Forget a closed connection and schedule a redial if it was outbound."""
        if peer not in self._connections:
            return
        self._connections.discard(peer)
        self.stats.disconnects += 1
        if peer.registered:
            self._unregister(peer)
            self._forget_requests_to(peer.peer_id)
        log.debug("connection %r closed: %s", peer, peer.close_reason)
        if peer.direction is Direction.OUTBOUND and peer.dial_address is not None:
            if peer.opened_at is None:
                self._record_dial_failure(peer.dial_address)
            else:
                state = self._dial_state.setdefault(peer.dial_address, _DialState())
                state.attempts = 1
                state.next_at = self._now() + self._backoff_s(1)

    async def dispatch(self, peer: Peer, message: Message) -> None:
        """Consume control and inventory messages; hand the rest to the reactors."""
        forward: Message | None = message
        try:
            handler = self._handlers.get(type(message))
            if handler is not None:
                forward = handler(self, peer, message)
        except Exception:
            self.stats.reactor_errors += 1
            log.exception("handling %s from %r failed", type(message).__name__, peer)
            return
        if forward is None:
            return
        for reactor in self._reactors:
            if not peer.is_open:
                return
            try:
                await reactor.on_message(peer, forward)
            except ProtocolError as exc:
                self._punish(peer, exc.reject_code, exc.message)
                return
            except Exception:
                self.stats.reactor_errors += 1
                log.exception("reactor %r failed on %s", reactor, type(forward).__name__)

    # -- message handlers -------------------------------------------------------

    def _on_ping(self, peer: Peer, message: Message) -> Message | None:
        if isinstance(message, Ping):
            peer.send(Pong(nonce=message.nonce))
        return None

    def _on_pong(self, peer: Peer, message: Message) -> Message | None:
        if isinstance(message, Pong) and message.nonce == peer.ping_nonce:
            peer.ping_rtt_s = self._now() - peer.ping_sent_at
            peer.ping_nonce = None
        return None

    def _on_getaddr(self, peer: Peer, message: Message) -> Message | None:
        now = self._now()
        last = peer.last_getaddr_answered_at
        if last is not None and now - last < self.config.getaddr_min_interval_s:
            return None
        peer.last_getaddr_answered_at = now
        own = peer.listen_address
        count = min(self.config.addr_response_max, MAX_ADDRESSES_PER_MSG)
        addresses: list[NetAddress] = []
        for entry in self.address_book.sample(count + 1, self._rng):
            if (entry.host, entry.port) == own or len(addresses) >= count:
                continue
            addresses.append(
                NetAddress(ip=pack_ip(entry.host), port=entry.port, last_seen_ms=entry.last_seen_ms)
            )
        peer.send(Addr(addresses=addresses))
        return None

    def _on_addr(self, peer: Peer, message: Message) -> Message | None:
        if not isinstance(message, Addr):
            return None
        bucket = peer.addr_bucket
        now = self._now()
        wall_ms = self._wall_clock_ms()
        for address in message.addresses:
            if bucket is None or not bucket.has_tokens(now):
                self.stats.addresses_dropped += 1
                continue
            bucket.charge(1)
            host = unpack_ip(address.ip)
            if (
                host is None
                or not self._is_bookable(host, address.port)
                or (host, address.port) in self._self_addresses
            ):
                self.stats.addresses_dropped += 1
                continue
            self.address_book.add(host, address.port, min(address.last_seen_ms, wall_ms))
            self.stats.addresses_accepted += 1
        return None

    def _on_inv(self, peer: Peer, message: Message) -> Message | None:
        if not isinstance(message, Inv):
            return None
        expires_at = self._now() + self.config.getdata_timeout_s
        wanted: list[bytes] = []
        for item_hash in message.hashes:
            peer.known_inventory.add(item_hash)
            if item_hash in self._seen or item_hash in self._inflight:
                continue
            if len(self._inflight) >= self.config.max_inflight_requests:
                break
            self._inflight[item_hash] = (peer.peer_id, expires_at)
            wanted.append(item_hash)
        if wanted:
            peer.send(GetData(kind=message.kind, hashes=wanted))
        return None

    def _on_getdata(self, peer: Peer, message: Message) -> Message | None:
        if not isinstance(message, GetData):
            return None
        missing: list[bytes] = []
        txs: list[Transaction] = []
        tx_bytes = 0
        tx_limit_bytes = self._max_frame_bytes // 2
        for item_hash in message.hashes:
            cached = self._relay.get(item_hash)
            if cached is None or cached[0] is not message.kind:
                missing.append(item_hash)
                continue
            peer.known_inventory.add(item_hash)
            item, size = cached[1], cached[2]
            if isinstance(item, Transaction):
                if txs and (len(txs) >= MAX_TXS_PER_MSG or tx_bytes + size > tx_limit_bytes):
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

    def _on_notfound(self, peer: Peer, message: Message) -> Message | None:
        if isinstance(message, NotFound):
            for item_hash in message.hashes:
                entry = self._inflight.get(item_hash)
                if entry is not None and entry[0] == peer.peer_id:
                    del self._inflight[item_hash]
        return None

    def _receive_item(self, peer: Peer, item_hash: bytes) -> bool:
        """Record a received inventory body; return whether it is new."""
        self._inflight.pop(item_hash, None)
        peer.known_inventory.add(item_hash)
        if self._seen.add(item_hash):
            return True
        self.stats.gossip_duplicates += 1
        return False

    def _on_txs(self, peer: Peer, message: Message) -> Message | None:
        if not isinstance(message, Txs):
            return None
        fresh = [tx for tx in message.transactions if self._receive_item(peer, compute_txid(tx))]
        if not fresh:
            return None
        if len(fresh) == len(message.transactions):
            return message
        return Txs(transactions=fresh)

    def _on_block(self, peer: Peer, message: Message) -> Message | None:
        if isinstance(message, BlockMsg) and self._receive_item(
            peer, compute_block_hash(message.block.header)
        ):
            return message
        return None

    def _on_evidence(self, peer: Peer, message: Message) -> Message | None:
        if isinstance(message, EvidenceMsg) and self._receive_item(
            peer, sha256(encode(message.evidence))
        ):
            return message
        return None

    _handlers: dict[type, Callable[[PeerManager, Peer, Message], Message | None]] = {
        Ping: _on_ping,
        Pong: _on_pong,
        GetAddr: _on_getaddr,
        Addr: _on_addr,
        Inv: _on_inv,
        GetData: _on_getdata,
        NotFound: _on_notfound,
        Txs: _on_txs,
        BlockMsg: _on_block,
        EvidenceMsg: _on_evidence,
    }

    # -- maintenance ---------------------------------------------------------------

    async def _maintenance_loop(self) -> None:
        while self._running:
            try:
                self.tick()
            except Exception:
                log.exception("p2p maintenance failed")
            await asyncio.sleep(self.config.tick_interval_s)

    def tick(self) -> None:
        """One maintenance pass (run every `tick_interval_s` while started).

        Enforces handshake, idle and pong timeouts, sends pings, drops
        expired bans and requests, dials to fill outbound slots, asks a peer
        for addresses and saves the address book when due.
        """
        if not self._running:
            return
        now = self._now()
        for peer in list(self._connections):
            self._check_liveness(peer, now)
        self.bans.prune(now)
        self._expire_inflight(now)
        self._fill_outbound(now)
        if now >= self._next_pex_at:
            self._next_pex_at = now + self.config.pex_interval_s
            if self._peers:
                target = self._rng.choice(list(self._peers.values()))
                target.send(GetAddr())
        if now >= self._next_persist_at:
            self._next_persist_at = now + self.config.persist_interval_s
            self._persist()

    def _check_liveness(self, peer: Peer, now: float) -> None:
        config = self.config
        if peer.state in (PeerState.HELLO, PeerState.AUTH):
            if now - peer.created_at > config.handshake_timeout_s:
                self.stats.handshakes_failed += 1
                peer.abort("handshake timeout")
            return
        if peer.state is not PeerState.OPEN:
            return
        if now - peer.last_recv_at > config.idle_timeout_s:
            peer.close("idle timeout")
        elif peer.ping_nonce is not None:
            if now - peer.ping_sent_at > config.pong_timeout_s:
                peer.close("pong timeout")
        elif now - peer.last_ping_at >= config.ping_interval_s:
            nonce = self._rng.getrandbits(63)
            peer.ping_nonce = nonce
            peer.ping_sent_at = now
            peer.last_ping_at = now
            peer.send(Ping(nonce=nonce))

    def _expire_inflight(self, now: float) -> None:
        inflight = self._inflight
        while inflight:
            item_hash, (_, expires_at) = next(iter(inflight.items()))
            if expires_at > now:
                break
            del inflight[item_hash]

    def _forget_requests_to(self, peer_id: str) -> None:
        """Drop the pending requests to a peer that is gone, so others are asked."""
        stale = [h for h, (asked, _) in self._inflight.items() if asked == peer_id]
        for item_hash in stale:
            del self._inflight[item_hash]

    def _outbound_count(self) -> int:
        connected = sum(
            1
            for p in self._connections
            if p.direction is Direction.OUTBOUND and p.state is not PeerState.CLOSED
        )
        return connected + len(self._dialing)

    def _busy_addresses(self) -> set[tuple[str, int]]:
        busy = set(self._dialing)
        busy.update(self._self_addresses)
        for peer in self._connections:
            address = peer.listen_address
            if address is not None:
                busy.add(address)
        return busy

    def _is_due(self, address: tuple[str, int], now: float) -> bool:
        state = self._dial_state.get(address)
        return state is None or state.next_at <= now

    def _fill_outbound(self, now: float) -> None:
        busy = self._busy_addresses()
        for address in self._persistent:
            if address not in busy and self._is_due(address, now) and self._may_dial(address, now):
                self._dial(address)
                busy.add(address)
        slots = self.config.max_outbound - self._outbound_count()
        if slots <= 0:
            return
        candidates = [
            (e.host, e.port)
            for e in self.address_book.entries()
            if (e.host, e.port) not in busy
            and self._is_due((e.host, e.port), now)
            and self._may_dial((e.host, e.port), now)
        ]
        if not candidates:
            candidates = [
                a
                for a in self._seeds
                if a not in busy and self._is_due(a, now) and self._may_dial(a, now)
            ]
        if len(candidates) > slots:
            candidates = self._rng.sample(candidates, slots)
        for address in candidates:
            self._dial(address)
        self._prune_dial_state()

    def _may_dial(self, address: tuple[str, int], now: float) -> bool:
        return not self.bans.is_banned(BanKind.HOST, address[0], now)

    def _dial(self, address: tuple[str, int]) -> None:
        self.stats.dials += 1
        task = asyncio.get_running_loop().create_task(self._dial_task(address))
        self._dialing[address] = task

    async def _dial_task(self, address: tuple[str, int]) -> None:
        loop = asyncio.get_running_loop()
        host, port = address
        local_addr = (self.config.bind_host, 0) if self.config.bind_host else None
        try:
            await asyncio.wait_for(
                loop.create_connection(
                    lambda: self._new_peer(Direction.OUTBOUND, address),
                    host,
                    port,
                    local_addr=local_addr,
                ),
                self.config.connect_timeout_s,
            )
        except (TimeoutError, OSError) as exc:
            self.stats.dial_failures += 1
            log.debug("dial %s:%d failed: %s", host, port, exc)
            self._record_dial_failure(address)
        finally:
            self._dialing.pop(address, None)

    def _record_dial_failure(self, address: tuple[str, int]) -> None:
        state = self._dial_state.setdefault(address, _DialState())
        state.attempts += 1
        state.next_at = self._now() + self._backoff_s(state.attempts)
        self.address_book.mark_failure(*address)

    def _backoff_s(self, attempts: int) -> float:
        """Exponential backoff with jitter: base * 2**(attempts-1), capped, times U[0.5, 1)."""
        config = self.config
        exponent = min(max(attempts - 1, 0), 32)
        delay = min(config.backoff_max_s, config.backoff_base_s * 2.0**exponent)
        return delay * (0.5 + 0.5 * self._rng.random())

    def _prune_dial_state(self) -> None:
        limit = 2 * (self.config.address_book_size + len(self._persistent) + len(self._seeds))
        if len(self._dial_state) <= limit:
            return
        keep = set(self._persistent) | set(self._seeds)
        for address in list(self._dial_state):
            if address not in keep and address not in self.address_book:
                del self._dial_state[address]

    def _persist(self) -> None:
        if self._store is None or not self.address_book.dirty:
            return
        try:
            self._store.save(self.address_book.entries())
            self.address_book.dirty = False
        except Exception:
            log.exception("saving the address book failed")

    # -- helpers ----------------------------------------------------------------

    def _build_settings(self, advertised_port: int) -> PeerSettings:
        config = self.config
        max_frame = self._max_frame_bytes
        return PeerSettings(
            identity=HandshakeIdentity(
                chain_id=self.params.chain_id,
                genesis_hash=self._genesis_hash,
                node_key=self.node_key,
                listen_port=advertised_port,
                user_agent=config.user_agent,
                max_clock_skew_ms=config.max_clock_skew_ms,
            ),
            max_frame_bytes=max_frame,
            rates=self._rates,
            max_send_queue_bytes=config.max_send_queue_bytes or max_frame + 1_000_000,
            max_send_queue_messages=config.max_send_queue_messages,
            max_inbound_queue_messages=config.max_inbound_queue_messages,
            max_inbound_queue_bytes=config.max_inbound_queue_bytes or max_frame,
            known_inventory_size=config.known_inventory_size,
            inv_interval_s=config.inv_interval_s,
            close_timeout_s=config.close_timeout_s,
            now=self._now,
            wall_clock_ms=self._wall_clock_ms,
        )

    def _new_peer(self, direction: Direction, dial_address: tuple[str, int] | None) -> Peer:
        if self._settings is None:
            raise RuntimeError("the peer manager is not started")
        return Peer(self, self._settings, direction, dial_address)

    def _is_bookable(self, host: str, port: int) -> bool:
        return is_acceptable_address(host, port, allow_local=self.config.allow_local_addresses)

    def _prefer_new_connection(self, new: Peer, existing: Peer) -> bool:
        """Keep the connection opened by the node with the smaller key.

        Both ends compute the same answer, so of two crossing dials exactly
        one connection survives.
        """
        ours = self.node_key.public_key

        def initiator(peer: Peer) -> bytes:
            return ours if peer.direction is Direction.OUTBOUND else peer.node_key

        new_initiator = initiator(new)
        existing_initiator = initiator(existing)
        return new_initiator != existing_initiator and new_initiator < existing_initiator

    def _unregister(self, peer: Peer) -> None:
        if self._peers.get(peer.peer_id) is peer:
            del self._peers[peer.peer_id]
        if not peer.registered:
            return
        peer.registered = False
        log.info("peer %s disconnected: %s", peer.peer_id[:16], peer.close_reason)
        for reactor in list(self._reactors):
            try:
                reactor.on_peer_disconnected(peer)
            except Exception:
                self.stats.reactor_errors += 1
                log.exception("reactor %r failed in on_peer_disconnected", reactor)

    def _count_ban(self, reason: str) -> None:
        self.stats.bans += 1
        self.stats.bans_by_reason[reason] = self.stats.bans_by_reason.get(reason, 0) + 1

    def _punish(self, peer: Peer, reject_code: str, detail: str) -> None:
        """Disconnect and ban a misbehaving peer: its host and, if known, its node key."""
        log.warning("banning %r: %s: %s", peer, reject_code, detail)
        until = self._now() + self.config.ban_duration_s
        if peer.remote_host:
            self.bans.ban(BanKind.HOST, peer.remote_host, until, reject_code)
        if peer.peer_id:
            self.bans.ban(BanKind.NODE, peer.peer_id, until, reject_code)
        self._count_ban(reject_code)
        peer.abort(reject_code)
        self._disconnect_banned(peer.remote_host or None, peer.peer_id or None, reject_code)

    def _disconnect_banned(self, host: str | None, peer_id: str | None, reason: str) -> None:
        for other in list(self._connections):
            if (host is not None and other.remote_host == host) or (
                peer_id is not None and other.peer_id == peer_id
            ):
                other.abort(reason)

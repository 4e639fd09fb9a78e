"""The peer manager: listening, connections, bans and liveness; inventory
relay (`inventory.py`), peer exchange (`pex.py`) and dialing (`dialer.py`)
are its parts.

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
from collections.abc import Callable
from typing import Protocol

from timecoin.crypto import SigningKey
from timecoin.p2p.addrbook import AddressBook, AddressStore, normalize_host
from timecoin.p2p.bans import BanEntry, BanKind, BanList
from timecoin.p2p.config import P2PConfig, parse_peer_address
from timecoin.p2p.dialer import Dialer
from timecoin.p2p.errors import REJECT_SELF_CONNECTION, PeerProtocolError
from timecoin.p2p.handshake import HandshakeIdentity
from timecoin.p2p.inventory import InventoryItem, InventoryRelay
from timecoin.p2p.messages import (
    Addr,
    BlockMsg,
    EvidenceMsg,
    GetAddr,
    GetData,
    Inv,
    Message,
    NotFound,
    Ping,
    Pong,
    Txs,
    class_of,
    encode_message,
)
from timecoin.p2p.peer import Direction, Peer, PeerInfo, PeerSettings, PeerState
from timecoin.p2p.pex import PeerExchange
from timecoin.p2p.stats import P2PStats
from timecoin.params import ChainParams
from timecoin.types import ProtocolError, Transaction

__all__ = ["PeerManager", "Reactor"]

log = logging.getLogger(__name__)


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
        self._rng = rng if rng is not None else random.Random()
        self._now = now
        self._wall_clock_ms = wall_clock_ms
        self._genesis_hash = params.genesis_hash
        self._max_frame_bytes = self.config.resolve_max_frame_bytes(params)
        self._rates = self.config.resolve_rates(params)
        port = params.default_p2p_port
        self.inventory = InventoryRelay(self.config, self._max_frame_bytes, self.stats)
        self.pex = PeerExchange(
            self.config, self.address_book, self.stats, self._rng, address_store
        )
        self.dialer = Dialer(
            self.config,
            [parse_peer_address(a, port) for a in self.config.persistent_peers],
            [parse_peer_address(a, port) for a in self.config.seeds],
            self.address_book,
            self.bans,
            self.stats,
            self._rng,
            now,
            lambda address: self._new_peer(Direction.OUTBOUND, address),
        )
        self._reactors: list[Reactor] = []
        self._connections: set[Peer] = set()
        self._peers: dict[str, Peer] = {}
        self._server: asyncio.AbstractServer | None = None
        self._listen_address: tuple[str, int] | None = None
        self._settings: PeerSettings | None = None
        self._tick_task: asyncio.Task[None] | None = None
        self._running = False

    # -- life cycle -----------------------------------------------------------

    def add_reactor(self, reactor: Reactor) -> None:
        """Attach a subsystem; reactors see events in the order they were added."""
        self._reactors.append(reactor)

    async def start(self) -> None:
        """Load the address book, listen (if configured) and start maintenance."""
        if self._running:
            return
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
        self.pex.start(self._now())
        self._running = True
        self._tick_task = loop.create_task(self._maintenance_loop())
        log.info("p2p started: listening on %s", self._listen_address)

    async def stop(self) -> None:
        """Close every connection, stop listening, save the address book."""
        if not self._running:
            return
        self._running = False
        if self._tick_task is not None:
            self._tick_task.cancel()
            await asyncio.gather(self._tick_task, return_exceptions=True)
        await self.dialer.stop()
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
        self.pex.persist()
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
        return self.inventory.gossip(item, list(self._peers.values()), exclude)

    def push_transaction(self, tx: Transaction, *, exclude: str | None = None) -> bytes:
        """Send `tx` in full to every peer not known to have it; return its txid.

        For a transaction this node is the first to relay (a client's):
        pushing saves the announcement pacing and the request round trip
        that `gossip` costs, on the path to finality. It is kept in the
        relay cache as `gossip` keeps it; peers relay it on by `gossip`.
        """
        return self.inventory.push_transaction(tx, list(self._peers.values()), exclude)

    def has_seen(self, item_hash: bytes) -> bool:
        """Whether `item_hash` is in the seen-cache."""
        return self.inventory.has_seen(item_hash)

    def mark_seen(self, item_hash: bytes) -> None:
        """Add an inventory hash the node already has (say, from a synced block)
        to the seen-cache, so announcements of it are not fetched."""
        self.inventory.mark_seen(item_hash)

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
            self.dialer.dial(target)

    def add_persistent_peer(self, address: str) -> bool:
        """Keep "host:port" connected from now on (redialed with backoff);
        return False if it was kept already.

        Raises ValueError for a bad address.
        """
        return self.dialer.add_persistent(parse_peer_address(address, self.params.default_p2p_port))

    def remove_persistent_peer(self, address: str) -> bool:
        """Stop keeping "host:port" connected (its live connection stays);
        return whether it was kept. Raises ValueError for a bad address."""
        return self.dialer.remove_persistent(
            parse_peer_address(address, self.params.default_p2p_port)
        )

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
        if peer.direction is Direction.OUTBOUND and peer.dial_address is not None:
            self.dialer.on_connected(peer.dial_address)
        self.pex.on_peer_registered(peer, now, self._wall_clock_ms())
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
            self.pex.on_self_connection(peer.dial_address)
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
            self.inventory.forget_requests_to(peer.peer_id)
        log.debug("connection %r closed: %s", peer, peer.close_reason)
        if peer.direction is Direction.OUTBOUND and peer.dial_address is not None:
            self.dialer.on_closed(peer.dial_address, was_open=peer.opened_at is not None)

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
        self.pex.on_getaddr(peer, self._now())
        return None

    def _on_addr(self, peer: Peer, message: Message) -> Message | None:
        if isinstance(message, Addr):
            self.pex.on_addr(peer, message, self._now(), self._wall_clock_ms())
        return None

    def _on_inv(self, peer: Peer, message: Message) -> Message | None:
        if isinstance(message, Inv):
            self.inventory.on_inv(peer, message, self._now())
        return None

    def _on_getdata(self, peer: Peer, message: Message) -> Message | None:
        if isinstance(message, GetData):
            return self.inventory.on_getdata(peer, message)
        return None

    def _on_notfound(self, peer: Peer, message: Message) -> Message | None:
        if isinstance(message, NotFound):
            self.inventory.on_notfound(peer, message)
        return None

    def _on_txs(self, peer: Peer, message: Message) -> Message | None:
        if isinstance(message, Txs):
            return self.inventory.on_txs(peer, message)
        return None

    def _on_block(self, peer: Peer, message: Message) -> Message | None:
        if isinstance(message, BlockMsg):
            return self.inventory.on_block(peer, message)
        return None

    def _on_evidence(self, peer: Peer, message: Message) -> Message | None:
        if isinstance(message, EvidenceMsg):
            return self.inventory.on_evidence(peer, message)
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
        self.inventory.expire(now)
        self.dialer.fill_outbound(now, self._busy_addresses(), self._outbound_connected())
        self.pex.tick(now, list(self._peers.values()))

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

    def _outbound_connected(self) -> int:
        return sum(
            1
            for p in self._connections
            if p.direction is Direction.OUTBOUND and p.state is not PeerState.CLOSED
        )

    def _busy_addresses(self) -> set[tuple[str, int]]:
        busy = set(self.dialer.dialing)
        busy.update(self.pex.self_addresses)
        for peer in self._connections:
            address = peer.listen_address
            if address is not None:
                busy.add(address)
        return busy

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

"""One connection to one peer: handshake, sealed frames, limits, coalesced writes.

A `Peer` is an `asyncio.Protocol`. Received bytes are cut into frames as
they arrive (`data_received`); each frame is opened, rate-limited by class,
decoded and queued for the peer's dispatcher task, which hands messages to
the `PeerManager` in order. The queue is bounded: when full, reading pauses
and TCP flow control pushes back on the peer.

Sending never blocks: `send` seals the frame at once (so sequence numbers
follow call order) and appends it to a pending list that is flushed in one
transport write per event-loop iteration, so a burst of messages costs one
system call. Bytes waiting (pending plus the transport's buffer) are
bounded; a peer that does not read them is disconnected.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, cast

from timecoin.bounded import BoundedSet
from timecoin.encoding import DecodeError
from timecoin.p2p.addrbook import normalize_host
from timecoin.p2p.channel import FRAME_OVERHEAD_BYTES, FrameBuffer, SecureChannel, encode_frame
from timecoin.p2p.errors import (
    REJECT_FLOOD,
    REJECT_MALFORMED,
    PeerProtocolError,
    protocol_violation,
)
from timecoin.p2p.handshake import (
    AUTH_MAX_BYTES,
    HELLO_MAX_BYTES,
    PROTOCOL_VERSION,
    Handshake,
    HandshakeIdentity,
    Hello,
)
from timecoin.p2p.messages import (
    MAX_INV_HASHES,
    MAX_TXS_PER_MSG,
    MESSAGE_CLASS_BY_TAG,
    Inv,
    InvKind,
    Message,
    MessageClass,
    Txs,
    class_of,
    decode_message,
    encode_message,
    peek_message_tag,
)
from timecoin.p2p.ratelimit import ClassRate, PeerRateLimiter, RateVerdict, TokenBucket
from timecoin.p2p.stats import ClassCounters, P2PStats
from timecoin.types import Transaction

__all__ = [
    "Direction",
    "Peer",
    "PeerInfo",
    "PeerOwner",
    "PeerSettings",
    "PeerState",
]

log = logging.getLogger(__name__)

_MAX_PENDING_INV = 4 * MAX_INV_HASHES
"""Hashes queued for announcement before they are turned into frames early."""


class Direction(enum.Enum):
    """Who opened the connection."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


class PeerState(enum.Enum):
    """Where a connection is in its life."""

    HELLO = "hello"
    """Our hello is sent; waiting for the peer's."""
    AUTH = "auth"
    """Keys derived, our signature sent; waiting for the peer's."""
    OPEN = "open"
    """Authenticated: messages flow."""
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class PeerSettings:
    """What every connection of one manager shares (built by `PeerManager`)."""

    identity: HandshakeIdentity
    max_frame_bytes: int
    rates: dict[MessageClass, ClassRate]
    max_send_queue_bytes: int
    max_send_queue_messages: int
    max_inbound_queue_messages: int
    max_inbound_queue_bytes: int
    known_inventory_size: int
    inv_interval_s: float
    close_timeout_s: float
    now: Callable[[], float]
    wall_clock_ms: Callable[[], int]

    @property
    def max_payload_bytes(self) -> int:
        """The largest message payload a frame can carry."""
        return self.max_frame_bytes - (FRAME_OVERHEAD_BYTES - 4)


class PeerOwner(Protocol):
    """The callbacks a connection makes into its manager."""

    stats: P2PStats

    def on_connection_made(self, peer: Peer) -> bool:
        """A TCP connection is up; return False to refuse it at once."""
        ...

    def on_handshake_done(self, peer: Peer) -> None:
        """The handshake completed; the peer may be kept or closed."""
        ...

    def on_protocol_error(self, peer: Peer, error: PeerProtocolError) -> None:
        """The peer broke the protocol; the owner closes (and maybe bans) it."""
        ...

    def on_connection_lost(self, peer: Peer) -> None:
        """The connection is gone (called exactly once per connection made)."""
        ...

    async def dispatch(self, peer: Peer, message: Message) -> None:
        """Handle one received message, in arrival order."""
        ...


@dataclass(frozen=True, slots=True)
class PeerInfo:
    """A snapshot of one connection (for RPC `getpeerinfo` and logs)."""

    peer_id: str
    direction: Direction
    state: PeerState
    remote_host: str
    remote_port: int
    listen_address: tuple[str, int] | None
    user_agent: str
    protocol_version: int
    connected_for_s: float
    ping_rtt_s: float | None
    messages_in: int
    bytes_in: int
    messages_out: int
    bytes_out: int
    throttled: int
    idle_recv_s: float = 0.0
    """Seconds since the last bytes arrived from the peer."""
    idle_send_s: float = 0.0
    """Seconds since the last bytes were written to the peer."""


class Peer(asyncio.Protocol):
    """One connection. Reactors use `peer_id`, `node_key`, `send` and `info`.

    `peer_id` is the hex of the peer's Ed25519 node key, known once the
    handshake is done (empty before).
    """

    def __init__(
        self,
        owner: PeerOwner,
        settings: PeerSettings,
        direction: Direction,
        dial_address: tuple[str, int] | None = None,
    ) -> None:
        """A connection not yet made; `dial_address` is what was dialed (outbound)."""
        self._owner = owner
        self._settings = settings
        self._stats = owner.stats
        self._loop = asyncio.get_running_loop()
        self.direction = direction
        self.dial_address = dial_address
        self.state = PeerState.HELLO
        self.peer_id = ""
        self.node_key = b""
        self.hello: Hello | None = None
        """The peer's hello (authenticated once the state is OPEN)."""
        self.protocol_version = 0
        self.remote_host = ""
        self.remote_port = 0
        self.close_reason: str | None = None
        now = settings.now()
        self.created_at = now
        self.opened_at: float | None = None
        self.last_recv_at = now
        self.last_send_at = now
        self.counters = ClassCounters()
        self.known_inventory: BoundedSet[bytes] = BoundedSet(settings.known_inventory_size)
        self.closed: asyncio.Future[None] = self._loop.create_future()
        # State the manager keeps per peer (liveness, PEX, registration).
        self.registered = False
        self.ping_nonce: int | None = None
        self.ping_sent_at = 0.0
        self.last_ping_at = now
        self.ping_rtt_s: float | None = None
        self.last_getaddr_answered_at: float | None = None
        self.addr_bucket: TokenBucket | None = None

        self._transport: asyncio.Transport | None = None
        self._handshake: Handshake | None = None
        self._channel: SecureChannel | None = None
        self._frames = FrameBuffer()
        limiter = PeerRateLimiter(settings.rates, now)
        self._routes = {
            tag: (cls, limiter.buckets(cls), self._stats.classes[cls])
            for tag, cls in MESSAGE_CLASS_BY_TAG.items()
        }
        """Per message tag: its class, this peer's buckets and the class counters."""
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._buffered_at_flush = 0
        self._pending_inv: dict[InvKind, list[bytes]] = {}
        self._pending_inv_count = 0
        self._pending_txs: list[Transaction] = []
        self._inv_handle: asyncio.TimerHandle | None = None
        self._last_inv_at = -float("inf")
        """Loop time of the last `Inv` flush (pacing, `inv_interval_s`)."""
        self._flush_handle: asyncio.Handle | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._inbound: collections.deque[tuple[Message, int]] = collections.deque()
        self._inbound_bytes = 0
        self._inbound_ready = asyncio.Event()
        self._reading_paused = False
        self._dispatcher: asyncio.Task[None] | None = None

    # -- public ---------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """Whether the handshake is done and the connection not closed."""
        return self.state is PeerState.OPEN

    @property
    def is_closed(self) -> bool:
        """Whether the connection is closed or closing."""
        return self.state is PeerState.CLOSED

    @property
    def listen_address(self) -> tuple[str, int] | None:
        """Where this peer accepts connections, if known."""
        if self.direction is Direction.OUTBOUND:
            return self.dial_address
        if self.hello is not None and self.hello.listen_port:
            return (self.remote_host, self.hello.listen_port)
        return None

    @property
    def user_agent(self) -> str:
        """The user agent of the peer's hello ("" before it)."""
        return self.hello.user_agent if self.hello is not None else ""

    def send(self, message: Message) -> bool:
        """Queue `message`; return False if the connection is not open or overflowed.

        Raises ValueError if the encoded message exceeds the frame limit.
        """
        return self.send_payload(encode_message(message), class_of(message))

    def send_payload(self, payload: bytes, cls: MessageClass) -> bool:
        """Queue an already encoded message of class `cls` (see `send`)."""
        if self.state is not PeerState.OPEN or self._channel is None:
            return False
        if len(payload) > self._settings.max_payload_bytes:
            raise ValueError(
                f"message of {len(payload)} bytes exceeds the limit "
                f"{self._settings.max_payload_bytes}"
            )
        frame = self._channel.seal(payload)
        self._pending.append(frame)
        self._pending_bytes += len(frame)
        counters = self._stats.classes[cls]
        counters.messages_out += 1
        counters.bytes_out += len(payload)
        self.counters.messages_out += 1
        self.counters.bytes_out += len(payload)
        if self._send_queue_overflows():
            self.abort("send queue overflow")
            return False
        if self._flush_handle is None:
            self._flush_handle = self._loop.call_soon(self._flush)
        return True

    def queue_inventory(self, kind: InvKind, item_hash: bytes) -> None:
        """Announce `item_hash` in the next `Inv` of this kind.

        `Inv`s leave at most every `inv_interval_s` (at once when the last
        left longer ago), carrying everything queued meanwhile; a backlog
        of `_MAX_PENDING_INV` hashes leaves at once.
        """
        if self.state is not PeerState.OPEN:
            return
        self._pending_inv.setdefault(kind, []).append(item_hash)
        self._pending_inv_count += 1
        if self._pending_inv_count >= _MAX_PENDING_INV:
            self._send_inventory()
        else:
            self._arm_inventory_flush()

    def _arm_inventory_flush(self) -> None:
        if self._inv_handle is None:
            delay_s = self._last_inv_at + self._settings.inv_interval_s - self._loop.time()
            self._inv_handle = self._loop.call_later(max(0.0, delay_s), self._send_inventory)

    def queue_transaction(self, tx: Transaction) -> None:
        """Push `tx` in full, paced with the announcements: it leaves in one
        `Txs` with the others queued when the next `Inv` flush is due
        (`queue_inventory`), so pushing adds at most one message per
        `inv_interval_s` to this peer; it saves the request round trip."""
        if self.state is not PeerState.OPEN:
            return
        self._pending_txs.append(tx)
        if len(self._pending_txs) >= MAX_TXS_PER_MSG:
            self._send_inventory()
        else:
            self._arm_inventory_flush()

    def close(self, reason: str) -> None:
        """Flush what is queued and close; abort if it does not drain in time."""
        if self.state is PeerState.CLOSED or self._transport is None:
            return
        if self.state is PeerState.OPEN:
            self._flush()
            if self.is_closed:
                return
        self._mark_closed(reason)
        self._transport.close()
        self._close_timer = self._loop.call_later(
            self._settings.close_timeout_s, self._transport.abort
        )

    def abort(self, reason: str) -> None:
        """Drop the connection at once, discarding anything unsent."""
        if self._transport is None:
            return
        if self.state is not PeerState.CLOSED:
            self._mark_closed(reason)
        self._transport.abort()

    async def stop_dispatcher(self) -> None:
        """Cancel the dispatcher task if a reactor still holds it (shutdown)."""
        task = self._dispatcher
        if task is None or task.done():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    def info(self) -> PeerInfo:
        """A snapshot of this connection."""
        opened = self.opened_at if self.opened_at is not None else self.created_at
        return PeerInfo(
            peer_id=self.peer_id,
            direction=self.direction,
            state=self.state,
            remote_host=self.remote_host,
            remote_port=self.remote_port,
            listen_address=self.listen_address,
            user_agent=self.user_agent,
            protocol_version=self.protocol_version,
            connected_for_s=max(0.0, self._settings.now() - opened),
            ping_rtt_s=self.ping_rtt_s,
            messages_in=self.counters.messages_in,
            bytes_in=self.counters.bytes_in,
            messages_out=self.counters.messages_out,
            bytes_out=self.counters.bytes_out,
            throttled=self.counters.throttled,
            idle_recv_s=max(0.0, self._settings.now() - self.last_recv_at),
            idle_send_s=max(0.0, self._settings.now() - self.last_send_at),
        )

    def __repr__(self) -> str:
        who = self.peer_id[:16] or "?"
        return f"Peer({who} {self.direction.value} {self.remote_host}:{self.remote_port})"

    # -- asyncio.Protocol -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Send our hello, unless the owner refuses the connection."""
        self._transport = cast(asyncio.Transport, transport)
        peername = transport.get_extra_info("peername")
        if isinstance(peername, tuple) and len(peername) >= 2:
            self.remote_host = normalize_host(str(peername[0])) or str(peername[0])
            self.remote_port = int(peername[1])
        if not self._owner.on_connection_made(self):
            self._mark_closed("refused")
            self._transport.abort()
            return
        self._handshake = Handshake(
            self._settings.identity,
            initiator=self.direction is Direction.OUTBOUND,
            timestamp_ms=self._settings.wall_clock_ms(),
        )
        self._transport.write(encode_frame(self._handshake.hello_bytes))

    def data_received(self, data: bytes) -> None:
        """Cut frames out of the stream and handle each."""
        if self.state is PeerState.CLOSED:
            return
        self.last_recv_at = self._settings.now()
        self._frames.feed(data)
        self._process_frames()

    def eof_received(self) -> bool | None:
        """The peer closed its side: close ours too."""
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        """Release everything and tell the owner."""
        if self.state is not PeerState.CLOSED:
            self._mark_closed("connection lost" if exc is None else f"connection lost: {exc}")
        if self._close_timer is not None:
            self._close_timer.cancel()
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._pending.clear()
        self._pending_inv.clear()
        self._pending_txs.clear()
        self._inbound.clear()
        self._inbound_ready.set()
        try:
            self._owner.on_connection_lost(self)
        finally:
            if not self.closed.done():
                self.closed.set_result(None)

    # -- receiving ----------------------------------------------------------------

    def _frame_limit(self) -> int:
        if self.state is PeerState.HELLO:
            return HELLO_MAX_BYTES
        if self.state is PeerState.AUTH:
            return AUTH_MAX_BYTES
        return self._settings.max_frame_bytes

    def _process_frames(self) -> None:
        try:
            while self.state is not PeerState.CLOSED and not self._reading_paused:
                body = self._frames.next_frame(self._frame_limit())
                if body is None:
                    return
                self._on_frame(body)
        except PeerProtocolError as exc:
            if self.state is not PeerState.CLOSED:
                self._owner.on_protocol_error(self, exc)

    def _on_frame(self, body: bytes) -> None:
        if self.state is PeerState.OPEN:
            self._on_message_frame(body)
            return
        handshake = self._handshake
        if handshake is None:
            raise protocol_violation(REJECT_MALFORMED, "frame outside the handshake")
        if self.state is PeerState.HELLO:
            auth = handshake.on_peer_hello(body, self._settings.wall_clock_ms())
            hello = handshake.peer_hello
            if hello is None:
                raise protocol_violation(REJECT_MALFORMED, "hello not accepted")
            self.hello = hello
            self.node_key = hello.node_key
            self.peer_id = hello.node_key.hex()
            self.protocol_version = min(PROTOCOL_VERSION, hello.protocol_version)
            self._channel = handshake.channel
            self.state = PeerState.AUTH
            if self._transport is not None:
                self._transport.write(self._channel.seal(auth))
            return
        channel = handshake.channel
        handshake.on_peer_auth(channel.open(body))
        self._handshake = None
        self.state = PeerState.OPEN
        self.opened_at = self._settings.now()
        self.last_ping_at = self.opened_at
        self._owner.on_handshake_done(self)
        if self.state is PeerState.OPEN:
            self._dispatcher = self._loop.create_task(self._dispatch_loop())

    def _on_message_frame(self, body: bytes) -> None:
        channel = self._channel
        if channel is None:
            raise protocol_violation(REJECT_MALFORMED, "no channel")
        payload = channel.open(body)
        try:
            tag = peek_message_tag(payload)
        except DecodeError as exc:
            raise protocol_violation(REJECT_MALFORMED, exc.message) from None
        route = self._routes.get(tag)
        if route is None:
            raise protocol_violation(REJECT_MALFORMED, f"unknown message tag {tag}")
        cls, buckets, counters = route
        size = len(payload)
        verdict = buckets.check(size, self._settings.now())
        if verdict is RateVerdict.BAN:
            raise protocol_violation(
                REJECT_FLOOD, f"{cls.value} messages beyond the ban multiple of the rate"
            )
        if verdict is RateVerdict.THROTTLE:
            counters.throttled += 1
            self.counters.throttled += 1
            return
        try:
            message = decode_message(payload, self._settings.max_payload_bytes)
        except DecodeError as exc:
            raise protocol_violation(exc.reject_code, exc.message) from None
        counters.messages_in += 1
        counters.bytes_in += size
        self.counters.messages_in += 1
        self.counters.bytes_in += size
        self._inbound.append((message, size))
        self._inbound_bytes += size
        if (
            len(self._inbound) >= self._settings.max_inbound_queue_messages
            or self._inbound_bytes >= self._settings.max_inbound_queue_bytes
        ):
            self._reading_paused = True
            if self._transport is not None:
                self._transport.pause_reading()
        self._inbound_ready.set()

    async def _dispatch_loop(self) -> None:
        inbound = self._inbound
        settings = self._settings
        while self.state is PeerState.OPEN:
            if not inbound:
                self._inbound_ready.clear()
                await self._inbound_ready.wait()
                continue
            message, size = inbound.popleft()
            self._inbound_bytes -= size
            if (
                self._reading_paused
                and len(inbound) <= settings.max_inbound_queue_messages // 2
                and self._inbound_bytes <= settings.max_inbound_queue_bytes // 2
            ):
                self._resume_reading()
            await self._owner.dispatch(self, message)

    def _resume_reading(self) -> None:
        self._reading_paused = False
        if self._transport is not None and self.state is not PeerState.CLOSED:
            self._transport.resume_reading()
        self._process_frames()

    # -- sending --------------------------------------------------------------

    def _send_queue_overflows(self) -> bool:
        settings = self._settings
        if len(self._pending) > settings.max_send_queue_messages:
            return True
        if self._pending_bytes + self._buffered_at_flush <= settings.max_send_queue_bytes:
            return False
        if self._transport is not None:
            self._buffered_at_flush = self._transport.get_write_buffer_size()
        return self._pending_bytes + self._buffered_at_flush > settings.max_send_queue_bytes

    def _send_inventory(self) -> None:
        """Send the queued announcements now (the flush writes them)."""
        if self._inv_handle is not None:
            self._inv_handle.cancel()
            self._inv_handle = None
        self._last_inv_at = self._loop.time()
        self._drain_inventory()

    def _drain_inventory(self) -> None:
        transactions = self._pending_txs
        self._pending_txs = []
        for start in range(0, len(transactions), MAX_TXS_PER_MSG):
            if not self.send(Txs(transactions=transactions[start : start + MAX_TXS_PER_MSG])):
                return
        pending = self._pending_inv
        self._pending_inv = {}
        self._pending_inv_count = 0
        for kind, hashes in pending.items():
            for start in range(0, len(hashes), MAX_INV_HASHES):
                if not self.send(Inv(kind=kind, hashes=hashes[start : start + MAX_INV_HASHES])):
                    return

    def _flush(self) -> None:
        self._flush_handle = None
        if self.state is not PeerState.OPEN or self._transport is None:
            return
        if not self._pending:
            return
        pending = self._pending
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        self._pending = []
        self._pending_bytes = 0
        self._transport.write(data)
        self.last_send_at = self._settings.now()
        self._buffered_at_flush = self._transport.get_write_buffer_size()
        if self._buffered_at_flush > self._settings.max_send_queue_bytes:
            self.abort("send queue overflow")

    def _mark_closed(self, reason: str) -> None:
        self.state = PeerState.CLOSED
        self.close_reason = reason
        if self._inv_handle is not None:
            self._inv_handle.cancel()
            self._inv_handle = None
        self._inbound_ready.set()

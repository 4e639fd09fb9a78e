"""Shared pieces of the p2p tests: managers on loopback, a recording reactor,
and `RawPeer`, a test peer that speaks the wire protocol from its parts and
can send crafted or invalid frames.

Every manager and raw peer uses its own loopback address (127.0.0.x; Linux
routes all of 127/8 to the loopback interface), because bans name hosts: a
banned raw peer must not take the other test nodes down with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import random
import struct
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from timecoin.crypto import SigningKey, sha256
from timecoin.p2p import (
    MessageClass,
    P2PConfig,
    Peer,
    PeerManager,
    decode_message,
    encode_message,
)
from timecoin.p2p.channel import FrameBuffer, SecureChannel, encode_frame
from timecoin.p2p.handshake import HELLO_MAX_BYTES, Handshake, HandshakeIdentity
from timecoin.p2p.messages import Message, Ping, Pong
from timecoin.p2p.ratelimit import ClassRate
from timecoin.params import MINIMAL, ChainParams
from timecoin.types import ZERO_HASH, Transaction, TxInput, TxOutput, Vote, VoteType
from timecoin.types.transaction import OutPoint

M = TypeVar("M")

GENESIS = sha256(b"p2p test genesis")
PARAMS = MINIMAL.with_genesis(GENESIS)


def host(n: int) -> str:
    """The n-th loopback address used by the tests."""
    return f"127.0.0.{n}"


def key(n: int) -> SigningKey:
    """A deterministic node key."""
    return SigningKey(sha256(b"p2p test node %d" % n))


def config(n: int, **overrides: Any) -> P2PConfig:
    """A fast config for a node listening on host(n)."""
    base = P2PConfig(
        listen_host=host(n),
        listen_port=0,
        bind_host=host(n),
        tick_interval_s=0.02,
        allow_local_addresses=True,
        backoff_base_s=0.05,
        backoff_max_s=0.4,
        handshake_timeout_s=2.0,
        connect_timeout_s=1.0,
        pex_interval_s=3600.0,
        persist_interval_s=3600.0,
    )
    return dataclasses.replace(base, **overrides)


class RecordingReactor:
    """Records everything a manager reports."""

    def __init__(self, on_message: Callable[[Peer, Message], None] | None = None) -> None:
        self.connected: list[str] = []
        self.disconnected: list[str] = []
        self.messages: list[tuple[str, Message]] = []
        self._hook = on_message

    def on_peer_connected(self, peer: Peer) -> None:
        self.connected.append(peer.peer_id)

    def on_peer_disconnected(self, peer: Peer) -> None:
        self.disconnected.append(peer.peer_id)

    async def on_message(self, peer: Peer, message: Message) -> None:
        self.messages.append((peer.peer_id, message))
        if self._hook is not None:
            self._hook(peer, message)

    def of_type(self, type_: type[M]) -> list[M]:
        return [m for _, m in self.messages if isinstance(m, type_)]


@dataclasses.dataclass
class Node:
    """A started manager with its reactor."""

    manager: PeerManager
    reactor: RecordingReactor
    n: int

    @property
    def address(self) -> str:
        listen = self.manager.listen_address
        assert listen is not None
        return f"{listen[0]}:{listen[1]}"

    @property
    def port(self) -> int:
        listen = self.manager.listen_address
        assert listen is not None
        return listen[1]


async def start_node(
    n: int,
    *,
    params: ChainParams = PARAMS,
    node_key: SigningKey | None = None,
    seed: int = 0,
    reactor: RecordingReactor | None = None,
    **overrides: Any,
) -> Node:
    """Start a manager on host(n) with the fast config and `overrides`."""
    store = overrides.pop("address_store", None)
    now = overrides.pop("now", time.monotonic)
    manager = PeerManager(
        params,
        node_key or key(n),
        config(n, **overrides),
        address_store=store,
        rng=random.Random(seed * 1000 + n),
        now=now,
    )
    reactor = reactor or RecordingReactor()
    manager.add_reactor(reactor)
    await manager.start()
    return Node(manager, reactor, n)


@contextlib.asynccontextmanager
async def running(*nodes: Node) -> AsyncIterator[None]:
    """Stop the nodes on exit."""
    try:
        yield
    finally:
        for node in nodes:
            await node.manager.stop()


async def wait_until(predicate: Callable[[], object], timeout: float = 5.0, what: str = "") -> None:
    """Poll `predicate` until true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.01)


def fast_rates(messages_per_s: float = 1e9, bytes_per_s: float = 1e12) -> tuple[Any, ...]:
    """Per-class overrides that effectively disable rate limiting."""
    rate = ClassRate(messages_per_s=messages_per_s, bytes_per_s=bytes_per_s)
    return tuple((cls, rate) for cls in MessageClass)


def make_tx(i: int) -> Transaction:
    """A distinct, structurally valid transaction (not validated by p2p)."""
    return Transaction(
        version=1,
        inputs=[TxInput(prevout=OutPoint(txid=sha256(b"%d" % i), index=0), public_key=bytes(32))],
        outputs=[TxOutput(amount=1_000 + i, address=bytes(20))],
        lock_time=0,
        payload=None,
        signatures=[bytes(64)],
        owner_signature=None,
    )


def make_vote(i: int) -> Vote:
    """A small consensus message."""
    return Vote(
        vote_type=int(VoteType.PREVOTE),
        height=i,
        round=0,
        block_hash=ZERO_HASH,
        voter=bytes(32),
        signature=bytes(64),
    )


class PeerClosed(Exception):
    """The node closed the raw peer's connection."""


class RawPeer:
    """A wire-protocol peer built from the handshake and channel parts."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        handshake: Handshake,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.handshake = handshake
        self.frames = FrameBuffer()
        self.channel: SecureChannel | None = None
        self.sent_frames: list[bytes] = []

    @classmethod
    async def connect(
        cls,
        target: Node,
        local_host: str,
        *,
        node_key: SigningKey | None = None,
        params: ChainParams = PARAMS,
        timestamp_ms: int | None = None,
    ) -> RawPeer:
        """Open a TCP connection to `target` from `local_host` (no handshake yet)."""
        reader, writer = await asyncio.open_connection(
            host(target.n), target.port, local_addr=(local_host, 0)
        )
        identity = HandshakeIdentity(
            chain_id=params.chain_id,
            genesis_hash=params.genesis_hash or GENESIS,
            node_key=node_key or SigningKey(os.urandom(32)),
            listen_port=0,
            user_agent="raw-test-peer",
            max_clock_skew_ms=10**12,
        )
        ts = timestamp_ms if timestamp_ms is not None else time.time_ns() // 1_000_000
        return cls(reader, writer, Handshake(identity, initiator=True, timestamp_ms=ts))

    async def read_frame(self, limit: int = 20_000_000, timeout: float = 3.0) -> bytes:
        """The next frame body from the node."""
        while True:
            body = self.frames.next_frame(limit)
            if body is not None:
                return body
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                raise PeerClosed()
            self.frames.feed(data)

    async def do_handshake(self) -> None:
        """Complete the handshake as the initiator."""
        self.writer.write(encode_frame(self.handshake.hello_bytes))
        peer_hello = await self.read_frame(HELLO_MAX_BYTES)
        auth = self.handshake.on_peer_hello(peer_hello, time.time_ns() // 1_000_000)
        self.channel = self.handshake.channel
        self.writer.write(self.channel.seal(auth))
        await self.writer.drain()
        self.handshake.on_peer_auth(self.channel.open(await self.read_frame()))

    def seal(self, message: Message) -> bytes:
        """A valid frame carrying `message` (consumes a sequence number)."""
        assert self.channel is not None
        frame = self.channel.seal(encode_message(message))
        self.sent_frames.append(frame)
        return frame

    async def send(self, message: Message) -> None:
        """Send one message."""
        self.writer.write(self.seal(message))
        await self.writer.drain()

    async def send_raw(self, data: bytes) -> None:
        """Send bytes as they are."""
        self.writer.write(data)
        await self.writer.drain()

    async def receive(self, timeout: float = 3.0) -> Message:
        """The next message from the node."""
        assert self.channel is not None
        payload = self.channel.open(await self.read_frame(timeout=timeout))
        return decode_message(payload, 20_000_000)

    async def ping(self, nonce: int = 7) -> list[Message]:
        """Round-trip a ping; return the other messages received meanwhile.

        The node handles messages in order, so its pong means it has handled
        everything sent before the ping. The node's own pings are answered.
        """
        await self.send(Ping(nonce=nonce))
        others: list[Message] = []
        while True:
            message = await self.receive()
            if isinstance(message, Pong) and message.nonce == nonce:
                return others
            if isinstance(message, Ping):
                await self.send(Pong(nonce=message.nonce))
            else:
                others.append(message)

    async def wait_closed(self, timeout: float = 3.0) -> None:
        """Wait until the node closes the connection (fails on timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("the node did not close the connection")
            try:
                data = await asyncio.wait_for(self.reader.read(65536), remaining)
            except (ConnectionResetError, BrokenPipeError):
                return
            except TimeoutError:
                raise AssertionError("the node did not close the connection") from None
            if not data:
                return

    def close(self) -> None:
        self.writer.close()


def u32(value: int) -> bytes:
    return struct.pack(">I", value)

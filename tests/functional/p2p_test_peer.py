"""A Python peer that speaks TimeCoin's wire protocol to a real node process.

In the manner of Bitcoin Core's `P2PInterface` (test/functional): the test
opens a TCP connection to a node of the testnet, from a loopback source
address of its choice, and drives the protocol of docs/spec/p2p.md step by
step with the node's own sans-I/O parts (`Handshake`, `SecureChannel`,
`FrameBuffer`, `encode_message`), so it can also send what an honest node
never would: corrupted frames, replays, oversized lengths, a hello of
another chain, garbage, floods.

The node bans a misbehaving peer by IP address and node key, so each
scenario uses its own source address (`127.0.0.x`: Linux routes all of
127/8 to the loopback interface) and a fresh node key.

Before the handshake everything runs on the caller's thread. Once the
handshake completes, a reader thread opens the node's frames, answers its
pings and records every message; the caller waits on `wait_for_message`,
`ping` or `wait_closed`. Sends are serialized by a lock, so sequence
numbers follow the order of the bytes on the wire.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Final, TypeVar

from timecoin.crypto import SigningKey
from timecoin.encoding import decode
from timecoin.p2p import Message, Ping, Pong, decode_message, encode_message
from timecoin.p2p.channel import FrameBuffer, SecureChannel, encode_frame
from timecoin.p2p.handshake import (
    AUTH_MAX_BYTES,
    HELLO_MAX_BYTES,
    Handshake,
    HandshakeIdentity,
    Hello,
)

M = TypeVar("M")

DEFAULT_TIMEOUT_S: Final = 5.0
MAX_FRAME_BYTES: Final = 16_000_000
USER_AGENT: Final = "/p2p-test-peer:0.1/"
_READ_BYTES: Final = 65_536
_POLL_S: Final = 0.05


class PeerClosedError(Exception):
    """The node closed the connection."""


@dataclass(frozen=True, slots=True)
class ChainIdentity:
    """What a hello must name: the chain id and the genesis block hash."""

    chain_id: int
    genesis_hash: bytes


@dataclass(frozen=True, slots=True)
class FloodResult:
    """What `P2PTestPeer.flood` did."""

    sent: int
    """Frames written before the node closed the connection or the time ran out."""
    elapsed_s: float
    closed: bool
    """Whether the node closed the connection during the flood."""


def u32(value: int) -> bytes:
    """A frame length prefix (big-endian u32)."""
    return struct.pack(">I", value)


def now_ms() -> int:
    """Wall-clock milliseconds, as hellos carry them."""
    return time.time_ns() // 1_000_000


class P2PTestPeer:
    """One connection from the test to a node, at the level of frames and messages."""

    def __init__(
        self,
        address: tuple[str, int],
        chain: ChainIdentity,
        *,
        local_host: str,
        node_key: SigningKey | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        """A peer of the node at `address` for `chain` (not connected yet).

        `local_host` is the source address of the connection; `node_key`
        defaults to a fresh random key.
        """
        self.address = address
        self.local_host = local_host
        self.timeout_s = timeout_s
        self.node_key = node_key or SigningKey(os.urandom(32))
        self.handshake = Handshake(
            HandshakeIdentity(
                chain_id=chain.chain_id,
                genesis_hash=chain.genesis_hash,
                node_key=self.node_key,
                listen_port=0,
                user_agent=USER_AGENT,
                max_clock_skew_ms=10**12,
            ),
            initiator=True,
            timestamp_ms=now_ms(),
        )
        self.node_hello: Hello | None = None
        self.channel: SecureChannel | None = None
        self.messages: list[Message] = []
        self.bytes_received = 0
        self._sock: socket.socket | None = None
        self._frames = FrameBuffer()
        self._send_lock = threading.RLock()
        self._cond = threading.Condition()
        self._closed = threading.Event()
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None
        self._reader_error: BaseException | None = None

    # ------------------------------------------------------------ lifecycle

    def connect(self) -> P2PTestPeer:
        """Open the TCP connection from `local_host`; return self."""
        self._sock = socket.create_connection(
            self.address, timeout=self.timeout_s, source_address=(self.local_host, 0)
        )
        return self

    def close(self) -> None:
        """Close the connection and stop the reader thread (idempotent)."""
        self._stop.set()
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        reader = self._reader
        if reader is not None and reader is not threading.current_thread():
            reader.join(self.timeout_s)

    def __enter__(self) -> P2PTestPeer:
        """Connect on entry."""
        return self.connect()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close on exit."""
        self.close()

    @property
    def sock(self) -> socket.socket:
        """The connected socket."""
        if self._sock is None:
            raise RuntimeError("not connected")
        return self._sock

    @property
    def is_closed(self) -> bool:
        """Whether the node has closed the connection (as seen by the reader)."""
        return self._closed.is_set()

    # ------------------------------------------------------------ handshake

    def send_hello(self) -> None:
        """Send our hello as a plain frame."""
        self.send_raw(encode_frame(self.handshake.hello_bytes))

    def receive_hello(self) -> Hello:
        """Read and decode the node's hello (before the handshake completes)."""
        body = self._read_frame(HELLO_MAX_BYTES)
        hello: Hello = decode(body, Hello, HELLO_MAX_BYTES)
        self.node_hello = hello
        return hello

    def perform_handshake(self) -> Hello:
        """Complete the handshake as the initiator, start the reader; the node's hello."""
        self.send_hello()
        body = self._read_frame(HELLO_MAX_BYTES)
        auth = self.handshake.on_peer_hello(body, now_ms())
        self.node_hello = self.handshake.peer_hello
        channel = self.handshake.channel
        self.channel = channel
        self.send_raw(channel.seal(auth))
        self.handshake.on_peer_auth(channel.open(self._read_frame(AUTH_MAX_BYTES)))
        self._reader = threading.Thread(
            target=self._read_loop, name=f"p2p-test-peer-{self.local_host}", daemon=True
        )
        self._reader.start()
        hello = self.handshake.peer_hello
        if hello is None:
            raise RuntimeError("handshake finished without the node's hello")
        return hello

    def _read_frame(self, limit: int) -> bytes:
        """The next frame body, read on the caller's thread (before the reader runs)."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            body = self._frames.next_frame(limit)
            if body is not None:
                return body
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no frame from the node")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(_READ_BYTES)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            finally:
                self.sock.settimeout(self.timeout_s)
            if not data:
                self._closed.set()
                raise PeerClosedError("the node closed the connection")
            self.bytes_received += len(data)
            self._frames.feed(data)

    # ------------------------------------------------------------ sending

    def seal(self, message: Message) -> bytes:
        """A valid frame carrying `message`; it consumes a sequence number.

        Seal and send under `send_lock()` when the reader may also be sending.
        """
        if self.channel is None:
            raise RuntimeError("no channel before the handshake")
        return self.channel.seal(encode_message(message))

    @contextlib.contextmanager
    def send_lock(self) -> Iterator[None]:
        """Hold the send lock: nothing else seals or writes meanwhile."""
        with self._send_lock:
            yield

    def send_raw(self, data: bytes) -> None:
        """Write `data` as it is."""
        with self._send_lock:
            self.sock.sendall(data)

    def send_message(self, message: Message) -> None:
        """Seal and send one message."""
        with self._send_lock:
            self.sock.sendall(self.seal(message))

    def flood(self, message: Message, rate_per_s: float, duration_s: float) -> FloodResult:
        """Send `message` at `rate_per_s` for `duration_s`, in 10 ms slices.

        Stops early when the node closes the connection.
        """
        if self.channel is None:
            raise RuntimeError("no channel before the handshake")
        channel = self.channel
        payload = encode_message(message)
        sent = 0
        closed = False
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < duration_s and not self.is_closed:
            due = int(rate_per_s * elapsed) + 1
            if due > sent:
                with self._send_lock:
                    chunk = b"".join(channel.seal(payload) for _ in range(due - sent))
                    try:
                        self.sock.sendall(chunk)
                    except (ConnectionResetError, BrokenPipeError):
                        closed = True
                        break
                    except TimeoutError:  # the node stopped reading: flow control
                        break
                sent = due
            time.sleep(0.01)
        return FloodResult(sent, time.monotonic() - start, closed or self.is_closed)

    # ------------------------------------------------------------ receiving

    def _read_loop(self) -> None:
        """Open the node's frames, answer pings, record messages, until closed."""
        try:
            while not self._stop.is_set():
                sock = self._sock
                if sock is None:
                    return
                readable, _, _ = select.select([sock], [], [], _POLL_S)
                if not readable:
                    continue
                try:
                    data = sock.recv(_READ_BYTES)
                except (ConnectionResetError, BrokenPipeError, OSError):
                    data = b""
                if not data:
                    return
                self.bytes_received += len(data)
                self._frames.feed(data)
                while (body := self._frames.next_frame(MAX_FRAME_BYTES)) is not None:
                    self._on_frame(body)
        except BaseException as exc:  # recorded and re-raised on the test's thread
            self._reader_error = exc
        finally:
            self._closed.set()
            with self._cond:
                self._cond.notify_all()

    def _on_frame(self, body: bytes) -> None:
        channel = self.channel
        if channel is None:
            raise RuntimeError("sealed frame before the channel")
        message = decode_message(channel.open(body), MAX_FRAME_BYTES)
        if isinstance(message, Ping):
            with contextlib.suppress(OSError):
                self.send_message(Pong(nonce=message.nonce))
        with self._cond:
            self.messages.append(message)
            self._cond.notify_all()

    def wait_for_message(
        self,
        kind: type[M],
        predicate: Callable[[M], bool] = lambda _: True,
        timeout_s: float | None = None,
    ) -> M:
        """The first recorded message of type `kind` meeting `predicate`.

        Raises AssertionError on timeout, PeerClosedError if the node closes
        the connection first.
        """
        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        with self._cond:
            while True:
                for message in self.messages:
                    if isinstance(message, kind) and predicate(message):
                        return message
                self._raise_reader_error()
                if self._closed.is_set():
                    raise PeerClosedError(f"closed before a {kind.__name__} arrived")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no {kind.__name__} from the node")
                self._cond.wait(remaining)

    def ping(self, timeout_s: float | None = None) -> float:
        """Round-trip a ping; the seconds it took.

        The node handles one peer's messages in order, so its pong also
        means it has handled everything sent before the ping.
        """
        nonce = int.from_bytes(os.urandom(8), "big") >> 1  # integers stop at 2**63 - 1
        started = time.monotonic()
        self.send_message(Ping(nonce=nonce))
        self.wait_for_message(Pong, lambda pong: pong.nonce == nonce, timeout_s)
        return time.monotonic() - started

    def wait_closed(self, timeout_s: float | None = None) -> None:
        """Wait until the node closes the connection; AssertionError on timeout."""
        limit = self.timeout_s if timeout_s is None else timeout_s
        if self._reader is not None:
            if not self._closed.wait(limit):
                raise AssertionError(f"the node kept the connection open for {limit} s")
            self._raise_reader_error()
            return
        deadline = time.monotonic() + limit
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"the node kept the connection open for {limit} s")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(_READ_BYTES)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            except TimeoutError:
                continue
            if not data:
                self._closed.set()
                return
            self.bytes_received += len(data)

    def expect_refused(self, timeout_s: float | None = None) -> None:
        """Assert the node closes the fresh connection without sending a byte."""
        self.wait_closed(timeout_s)
        if self.bytes_received:
            raise AssertionError(
                f"the node sent {self.bytes_received} bytes before closing: not refused"
            )

    def _raise_reader_error(self) -> None:
        error = self._reader_error
        if error is not None:
            raise AssertionError(f"the reader thread failed: {error!r}") from error

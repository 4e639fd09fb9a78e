"""A fault-injecting TCP proxy for functional tests: cut, heal, delay, jitter
and loss per link between real node processes.

Each link is a pair of nodes; every direction of it gets a listening port
that forwards to the target node. Nodes are configured to dial each other
only through these ports, so every byte between them crosses the proxy.

- `cut(link)`: close the link's connections and refuse new ones until `heal`;
- `shape(link, delay_ms, jitter_ms, loss)`: every chunk is held for
  `delay_ms` plus a uniform jitter in [-jitter_ms, +jitter_ms]. TCP never
  loses bytes inside a stream, so loss is modelled as what it costs a TCP
  connection: a lost segment is retransmitted after a retransmission
  timeout (`RTO_MS`), and everything behind it waits (head-of-line
  blocking). Order is always preserved.

The proxy runs its own event loop in a daemon thread; its randomness is
seeded, so a run replays from its seed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

RTO_MS = 200.0
"""Linux's minimum TCP retransmission timeout: the price of one lost segment."""
CHUNK_BYTES = 65_536

T = TypeVar("T")


@dataclass
class LinkState:
    """The faults in force on one link (both directions)."""

    cut: bool = False
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss: float = 0.0
    connections: set[asyncio.StreamWriter] = field(default_factory=set)
    bytes_forwarded: int = 0


class FaultProxy:
    """TCP forwarding with per-link faults (see the module docstring)."""

    def __init__(self, seed: int) -> None:
        """Start the proxy's event loop thread; links are added with `add_route`."""
        self.rng = random.Random(seed)
        self.links: dict[str, LinkState] = {}
        self._servers: list[asyncio.base_events.Server] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def add_route(self, link: str, target_port: int) -> int:
        """Forward a new loopback port to `target_port` under `link`; return the port."""
        self.links.setdefault(link, LinkState())
        return self._call(self._listen(link, target_port))

    async def _listen(self, link: str, target_port: int) -> int:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._forward(link, target_port, reader, writer)

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        self._servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    async def _forward(
        self,
        link: str,
        target_port: int,
        client_reader: asyncio.StreamReader,
        client_writer: asyncio.StreamWriter,
    ) -> None:
        state = self.links[link]
        if state.cut:
            client_writer.close()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", target_port
            )
        except OSError:
            client_writer.close()
            return
        state.connections.update((client_writer, upstream_writer))
        try:
            await asyncio.gather(
                self._pipe(state, client_reader, upstream_writer),
                self._pipe(state, upstream_reader, client_writer),
            )
        finally:
            for writer in (client_writer, upstream_writer):
                state.connections.discard(writer)
                writer.close()

    async def _pipe(
        self, state: LinkState, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def send() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    return
                wait_s = due - time.monotonic()
                if wait_s > 0:
                    await asyncio.sleep(wait_s)
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(send())
        last_due = 0.0
        try:
            while True:
                data = await reader.read(CHUNK_BYTES)
                if not data or state.cut:
                    break
                state.bytes_forwarded += len(data)
                hold_ms = state.delay_ms
                if state.jitter_ms:
                    hold_ms += self.rng.uniform(-state.jitter_ms, state.jitter_ms)
                if state.loss and self.rng.random() < state.loss:
                    hold_ms += RTO_MS
                due = max(time.monotonic() + max(0.0, hold_ms) / 1000, last_due)
                last_due = due
                queue.put_nowait((due, data))
        except (ConnectionError, OSError):
            pass
        finally:
            queue.put_nowait((0.0, b""))
            with contextlib.suppress(ConnectionError, OSError):
                await sender
            writer.close()

    def cut(self, link: str) -> None:
        """Drop the link's connections and refuse new ones."""
        self._call(self._cut(link))

    async def _cut(self, link: str) -> None:
        state = self.links[link]
        state.cut = True
        for writer in list(state.connections):
            transport = writer.transport
            transport.abort()
        state.connections.clear()

    def heal(self, link: str) -> None:
        """Let the link carry connections again (faults of `shape` stay)."""
        self.links[link].cut = False

    def shape(self, link: str, delay_ms: float, jitter_ms: float = 0.0, loss: float = 0.0) -> None:
        """Delay, jitter and loss on the link from now on."""
        state = self.links[link]
        state.delay_ms, state.jitter_ms, state.loss = delay_ms, jitter_ms, loss

    def close(self) -> None:
        """Stop listening, drop every connection, stop the loop thread."""

        async def shutdown() -> None:
            for server in self._servers:
                server.close()
            for state in self.links.values():
                for writer in list(state.connections):
                    writer.transport.abort()

        with contextlib.suppress(Exception):
            self._call(shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

"""Dialing: which addresses to connect to, when, and the backoff after
failures (docs/spec/p2p.md section 9, "Dialing" and "Backoff").

The choice of addresses and the backoff are plain functions of the injected
time and `random.Random`; only `dial` touches the event loop (a task per
connection attempt).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from timecoin.p2p.addrbook import AddressBook
from timecoin.p2p.bans import BanKind, BanList
from timecoin.p2p.config import P2PConfig
from timecoin.p2p.peer import Peer
from timecoin.p2p.stats import P2PStats

__all__ = ["Dialer"]

log = logging.getLogger(__name__)

Address = tuple[str, int]


@dataclass(slots=True)
class _DialState:
    attempts: int = 0
    next_at: float = 0.0


class Dialer:
    """Outbound connection attempts: persistent peers, book entries, seeds."""

    def __init__(
        self,
        config: P2PConfig,
        persistent: list[Address],
        seeds: list[Address],
        address_book: AddressBook,
        bans: BanList,
        stats: P2PStats,
        rng: random.Random,
        now: Callable[[], float],
        new_peer: Callable[[Address], Peer],
    ) -> None:
        """Dial with `new_peer(address)` as the protocol factory of each connection."""
        self._config = config
        self.persistent = persistent
        self._seeds = seeds
        self._address_book = address_book
        self._bans = bans
        self._stats = stats
        self._rng = rng
        self._now = now
        self._new_peer = new_peer
        self.dialing: dict[Address, asyncio.Task[None]] = {}
        """Attempts in progress."""
        self._state: dict[Address, _DialState] = {}

    def add_persistent(self, address: Address) -> bool:
        """Keep `address` connected from now on; False if it was kept already."""
        if address in self.persistent:
            return False
        self.persistent.append(address)
        return True

    def remove_persistent(self, address: Address) -> bool:
        """Stop keeping `address` connected; whether it was kept."""
        if address not in self.persistent:
            return False
        self.persistent.remove(address)
        return True

    def fill_outbound(self, now: float, busy: set[Address], outbound: int) -> None:
        """Dial the persistent peers not `busy` and due, then fill the free
        outbound slots (`max_outbound` less the `outbound` connections and the
        attempts in progress) with random due book entries, or seeds when the
        book offers none."""
        for address in self.persistent:
            if address not in busy and self._is_due(address, now) and self._may_dial(address, now):
                self.dial(address)
                busy.add(address)
        slots = self._config.max_outbound - outbound - len(self.dialing)
        if slots <= 0:
            return
        candidates = [
            (e.host, e.port)
            for e in self._address_book.entries()
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
            self.dial(address)
        self._prune()

    def dial(self, address: Address) -> None:
        """Start a connection attempt to `address`."""
        self._stats.dials += 1
        task = asyncio.get_running_loop().create_task(self._dial_task(address))
        self.dialing[address] = task

    async def _dial_task(self, address: Address) -> None:
        loop = asyncio.get_running_loop()
        host, port = address
        local_addr = (self._config.bind_host, 0) if self._config.bind_host else None
        try:
            await asyncio.wait_for(
                loop.create_connection(
                    lambda: self._new_peer(address), host, port, local_addr=local_addr
                ),
                self._config.connect_timeout_s,
            )
        except (TimeoutError, OSError) as exc:
            self._stats.dial_failures += 1
            log.debug("dial %s:%d failed: %s", host, port, exc)
            self.record_failure(address)
        finally:
            self.dialing.pop(address, None)

    async def stop(self) -> None:
        """Cancel the attempts in progress."""
        tasks = list(self.dialing.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.dialing.clear()

    def on_connected(self, address: Address) -> None:
        """A dial to `address` completed its handshake: the failure count resets."""
        self._state.pop(address, None)

    def on_closed(self, address: Address, was_open: bool) -> None:
        """An outbound connection to `address` closed: a failure if it never
        opened, else redialed after the first backoff step."""
        if not was_open:
            self.record_failure(address)
        else:
            state = self._state.setdefault(address, _DialState())
            state.attempts = 1
            state.next_at = self._now() + self.backoff_s(1)

    def record_failure(self, address: Address) -> None:
        """One more failure in a row: back off and tell the address book."""
        state = self._state.setdefault(address, _DialState())
        state.attempts += 1
        state.next_at = self._now() + self.backoff_s(state.attempts)
        self._address_book.mark_failure(*address)

    def backoff_s(self, attempts: int) -> float:
        """Exponential backoff with jitter: base * 2**(attempts-1), capped, times U[0.5, 1)."""
        config = self._config
        exponent = min(max(attempts - 1, 0), 32)
        delay = min(config.backoff_max_s, config.backoff_base_s * 2.0**exponent)
        return delay * (0.5 + 0.5 * self._rng.random())

    def _is_due(self, address: Address, now: float) -> bool:
        state = self._state.get(address)
        return state is None or state.next_at <= now

    def _may_dial(self, address: Address, now: float) -> bool:
        return not self._bans.is_banned(BanKind.HOST, address[0], now)

    def _prune(self) -> None:
        limit = 2 * (self._config.address_book_size + len(self.persistent) + len(self._seeds))
        if len(self._state) <= limit:
            return
        keep = set(self.persistent) | set(self._seeds)
        for address in list(self._state):
            if address not in keep and address not in self._address_book:
                del self._state[address]

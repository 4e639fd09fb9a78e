"""Ping/pong, idle and handshake timeouts, reconnect with backoff, slow peers.

The timeouts and the backoff follow the manager's injected clock, so these
tests move a fake clock by hand and run the manager's maintenance pass
(`tick`) themselves: what they assert does not depend on how busy the
machine is. Sockets stay real.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from p2p_helpers import (
    PARAMS,
    Node,
    RawPeer,
    host,
    key,
    make_tx,
    running,
    start_node,
    wait_until,
)

from timecoin.p2p import P2PConfig, PeerManager, Txs


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


async def step(node: Node, clock: FakeClock, seconds: float) -> None:
    """Move `clock` by `seconds`, run `node`'s maintenance pass, and wait for
    the dials it started to finish."""
    clock.t += seconds
    node.manager.tick()
    await wait_until(lambda: not node.manager.dialer.dialing, what="dials to finish")


def pinged_and_answered(node: Node, at: float) -> bool:
    """Whether `node`'s one peer was pinged at `at` and the pong came back."""
    peers = node.manager.peers()
    return len(peers) == 1 and peers[0].last_ping_at == at and peers[0].ping_nonce is None


async def test_ping_pong_keeps_a_quiet_connection_alive() -> None:
    clock = FakeClock()
    timing: dict[str, Any] = {
        "now": clock,
        "ping_interval_s": 1.0,
        "pong_timeout_s": 4.0,
        "idle_timeout_s": 5.0,
    }
    a = await start_node(2, **timing)
    b = await start_node(3, **timing)
    async with running(a, b):
        b.manager.connect(a.address)
        await wait_until(lambda: len(a.manager.peers()) == 1 and len(b.manager.peers()) == 1)
        for _ in range(13):  # 2.6 idle timeouts without application traffic
            clock.t += 1.0
            a.manager.tick()
            b.manager.tick()
            await wait_until(
                lambda: pinged_and_answered(a, clock.t) and pinged_and_answered(b, clock.t),
                what="a ping each way, answered",
            )
        assert len(a.manager.peers()) == 1 and len(b.manager.peers()) == 1
        assert a.reactor.disconnected == [] and b.reactor.disconnected == []
        (peer,) = a.manager.peers()
        assert peer.ping_rtt_s == 0.0  # the clock stood still while the ping went round
        assert peer.info().ping_rtt_s == peer.ping_rtt_s


async def test_idle_peer_is_disconnected_without_ban() -> None:
    clock = FakeClock()
    a = await start_node(2, now=clock, ping_interval_s=100.0, idle_timeout_s=30.0)
    async with running(a):
        raw = await RawPeer.connect(a, host(60))
        await raw.do_handshake()
        await wait_until(lambda: len(a.manager.peers()) == 1)
        await step(a, clock, 29.9)
        assert len(a.manager.peers()) == 1  # not idle yet
        await step(a, clock, 0.2)
        await raw.wait_closed(timeout=2.0)
        raw.close()
        assert a.manager.stats.bans == 0
        await wait_until(lambda: a.reactor.disconnected != [])


async def test_peer_that_never_answers_pings_is_disconnected() -> None:
    clock = FakeClock()
    a = await start_node(2, now=clock, ping_interval_s=10.0, pong_timeout_s=3.0, idle_timeout_s=1e6)
    async with running(a):
        raw = await RawPeer.connect(a, host(61))
        await raw.do_handshake()  # then never reads: no pong
        await wait_until(lambda: len(a.manager.peers()) == 1)
        await step(a, clock, 10.0)
        (peer,) = a.manager.peers()
        assert peer.ping_nonce is not None  # pinged
        await step(a, clock, 2.9)
        assert len(a.manager.peers()) == 1  # still within the pong timeout
        await step(a, clock, 0.2)
        await raw.wait_closed(timeout=2.0)
        raw.close()
        assert a.manager.stats.bans == 0


async def test_handshake_timeout_follows_the_injected_clock() -> None:
    clock = FakeClock()
    a = await start_node(2, now=clock, handshake_timeout_s=5.0)
    async with running(a):
        raw = await RawPeer.connect(a, host(62))  # connects, never says hello
        await asyncio.sleep(0.2)
        assert a.manager.stats.handshakes_failed == 0  # real time passed, clock did not
        clock.t += 5.1
        await raw.wait_closed(timeout=2.0)
        raw.close()
        assert a.manager.stats.handshakes_failed == 1
        assert a.manager.stats.bans == 0


async def test_reconnect_with_backoff_after_the_remote_restarts() -> None:
    clock = FakeClock()
    b = await start_node(3)
    port = b.port
    a = await start_node(2, now=clock, persistent_peers=(b.address,))
    async with running(a):
        await wait_until(lambda: len(a.manager.peers()) == 1, what="first connection")
        await b.manager.stop()
        await wait_until(lambda: a.manager.peers() == [], what="disconnect")
        failures_before = a.manager.stats.dial_failures
        for _ in range(120):  # 1.2 s of the manager's clock in 10 ms steps
            await step(a, clock, 0.01)
        failures = a.manager.stats.dial_failures - failures_before
        # Backoff 0.05 s doubling to 0.4 s, times U[0.5, 1), after the first
        # step of 0.05 s: 1.2 s holds 4 to 8 redials, never one per tick.
        assert 4 <= failures <= 8, failures
        b2 = await start_node(3, listen_port=port, node_key=key(3))
        async with running(b2):
            for _ in range(100):  # the next redial is at most 0.4 s away
                if a.manager.peers():
                    break
                await step(a, clock, 0.01)
            await wait_until(lambda: len(a.manager.peers()) == 1, what="reconnection")
            assert a.reactor.connected == [b2.manager.peer_id, b2.manager.peer_id]
            assert a.reactor.disconnected == [b2.manager.peer_id]


def test_backoff_grows_exponentially_with_jitter_and_cap() -> None:
    manager = PeerManager(
        PARAMS,
        key(1),
        P2PConfig(backoff_base_s=1.0, backoff_max_s=30.0),
        rng=random.Random(5),
    )
    for attempts in range(1, 12):
        nominal = min(30.0, 2.0 ** (attempts - 1))
        for _ in range(20):
            delay = manager.dialer.backoff_s(attempts)
            assert 0.5 * nominal <= delay < nominal


async def test_slow_reader_is_disconnected_when_its_send_queue_overflows() -> None:
    a = await start_node(2, max_send_queue_bytes=300_000)
    async with running(a):
        raw = await RawPeer.connect(a, host(63))
        await raw.do_handshake()  # then never reads again
        await wait_until(lambda: len(a.manager.peers()) == 1)
        big = Txs(transactions=[make_tx(i) for i in range(400)])
        for _ in range(2_000):
            if not a.manager.peers():
                break
            a.manager.broadcast(big)
            await asyncio.sleep(0)
        await wait_until(lambda: a.manager.peers() == [], what="overflow disconnect")
        assert a.manager.stats.bans == 0
        raw.close()

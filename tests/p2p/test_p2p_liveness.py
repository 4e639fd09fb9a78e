"""Ping/pong, idle and handshake timeouts, reconnect with backoff, slow peers."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from p2p_helpers import (
    PARAMS,
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


async def test_ping_pong_keeps_a_quiet_connection_alive() -> None:
    timing: dict[str, Any] = {"ping_interval_s": 0.05, "pong_timeout_s": 0.4, "idle_timeout_s": 0.5}
    a = await start_node(2, **timing)
    b = await start_node(3, **timing)
    async with running(a, b):
        b.manager.connect(a.address)
        await wait_until(lambda: len(a.manager.peers()) == 1)
        await asyncio.sleep(1.25)  # 2.5 idle timeouts without application traffic
        assert len(a.manager.peers()) == 1 and len(b.manager.peers()) == 1
        assert a.reactor.disconnected == []
        (peer,) = a.manager.peers()
        assert peer.ping_rtt_s is not None and 0 <= peer.ping_rtt_s < 0.4
        assert peer.info().ping_rtt_s == peer.ping_rtt_s


async def test_idle_peer_is_disconnected_without_ban() -> None:
    a = await start_node(2, ping_interval_s=100.0, idle_timeout_s=0.3)
    async with running(a):
        raw = await RawPeer.connect(a, host(60))
        await raw.do_handshake()
        await wait_until(lambda: len(a.manager.peers()) == 1)
        await raw.wait_closed(timeout=2.0)
        raw.close()
        assert a.manager.stats.bans == 0
        await wait_until(lambda: a.reactor.disconnected != [])


async def test_peer_that_never_answers_pings_is_disconnected() -> None:
    a = await start_node(2, ping_interval_s=0.05, pong_timeout_s=0.2, idle_timeout_s=100.0)
    async with running(a):
        raw = await RawPeer.connect(a, host(61))
        await raw.do_handshake()
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
    b = await start_node(3)
    port = b.port
    a = await start_node(2, persistent_peers=(b.address,))
    async with running(a):
        await wait_until(lambda: len(a.manager.peers()) == 1, what="first connection")
        await b.manager.stop()
        await wait_until(lambda: a.manager.peers() == [], what="disconnect")
        failures_before = a.manager.stats.dial_failures
        await asyncio.sleep(1.2)
        failures = a.manager.stats.dial_failures - failures_before
        # Backoff 0.05 s doubling to 0.4 s (times U[0.5, 1)): a handful of dials, not
        # one per 20 ms tick.
        assert 2 <= failures <= 15, failures
        b2 = await start_node(3, listen_port=port, node_key=key(3))
        async with running(b2):
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

"""The direct libsodium path equals PyNaCl's public one; loopback throughput.

The throughput test prints msg/s for small messages through the
authenticated channel (both ends in this process, so one core does the work
of both) on asyncio's loop and on uvloop, and asserts a floor far below the
measured figures so that a loaded machine does not fail it.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from nacl.exceptions import CryptoError
from p2p_helpers import fast_rates, make_vote, running, start_node, wait_until

from timecoin.p2p import Peer, VoteMsg, aead, class_of, encode_message
from timecoin.p2p.messages import Message

FLOOR_MSGS_PER_S = 5_000


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 142, 65_537])
def test_fast_and_public_aead_paths_agree(size: int) -> None:
    key, nonce, payload = os.urandom(32), os.urandom(12), os.urandom(size)
    sealed = aead.seal(payload, nonce, key)
    assert sealed == aead.seal(payload, nonce, key, fast=False)
    assert len(sealed) == size + aead.TAG_BYTES
    for fast in (True, False):
        assert aead.open_sealed(sealed, nonce, key, fast=fast) == payload
        with pytest.raises(CryptoError):
            aead.open_sealed(sealed[:-1] + bytes([sealed[-1] ^ 1]), nonce, key, fast=fast)
        with pytest.raises(CryptoError):
            aead.open_sealed(sealed, bytes(12), key, fast=fast)
        with pytest.raises(CryptoError):
            aead.open_sealed(b"short", nonce, key, fast=fast)
    with pytest.raises(ValueError):
        aead.seal(payload, nonce[:-1], key)
    assert aead.FAST_PATH


async def measure(messages: int) -> float:
    """Messages per second from one manager to another over loopback."""
    settings: dict[str, Any] = {"class_rates": fast_rates(), "max_inbound_queue_messages": 10_000}
    a = await start_node(2, **settings)
    b = await start_node(3, **settings)
    received = 0

    async def count(peer: Peer, message: Message) -> None:
        nonlocal received
        received += 1

    b.reactor.on_message = count  # type: ignore[method-assign]
    async with running(a, b):
        b.manager.connect(a.address)
        await wait_until(lambda: a.manager.peers())
        (peer,) = a.manager.peers()
        message = VoteMsg(votes=[make_vote(1)])
        payload, cls = encode_message(message), class_of(message)
        start = time.perf_counter()
        sent = 0
        while sent < messages:
            for _ in range(500):
                peer.send_payload(payload, cls)
            sent += 500
            await asyncio.sleep(0)
            while sent - received > 10_000:
                await asyncio.sleep(0)
        while received < messages:
            await asyncio.sleep(0.001)
        return messages / (time.perf_counter() - start)


def loop_factories() -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
        "asyncio": asyncio.new_event_loop
    }
    try:
        import uvloop
    except ImportError:
        return factories
    factories["uvloop"] = uvloop.new_event_loop
    return factories


@pytest.mark.parametrize("name", sorted(loop_factories()))
def test_loopback_throughput_of_small_messages(name: str) -> None:
    with asyncio.Runner(loop_factory=loop_factories()[name]) as runner:
        rate = runner.run(measure(30_000))
    print(f"\n{name}: {rate:,.0f} msg/s (142-byte VoteMsg, sealed, both ends in-process)")
    assert rate > FLOOR_MSGS_PER_S

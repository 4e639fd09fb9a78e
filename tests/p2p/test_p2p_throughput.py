"""The direct libsodium path equals PyNaCl's public one; a burst of small
messages arrives whole on asyncio's loop and on uvloop.

How fast is measured by bench/p2p.py (msg/s and its ratio to the AEAD rate
of the same run), not here: a rate asserted in a test fails on a loaded
machine or passes on a slow path.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

import pytest
from nacl.exceptions import CryptoError
from p2p_helpers import fast_rates, make_vote, running, start_node, wait_until

from timecoin.p2p import Peer, VoteMsg, aead, class_of, encode_message
from timecoin.p2p.messages import Message


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


async def send_burst(messages: int) -> list[int]:
    """Send `messages` votes (heights 0, 1, ...) from one manager to another
    over loopback as fast as the queues take them; the heights received."""
    settings: dict[str, Any] = {"class_rates": fast_rates(), "max_inbound_queue_messages": 10_000}
    a = await start_node(2, **settings)
    b = await start_node(3, **settings)
    heights: list[int] = []

    async def record(peer: Peer, message: Message) -> None:
        if isinstance(message, VoteMsg):
            heights.extend(vote.height for vote in message.votes)

    b.reactor.on_message = record  # type: ignore[method-assign]
    async with running(a, b):
        b.manager.connect(a.address)
        await wait_until(lambda: a.manager.peers())
        (peer,) = a.manager.peers()
        for height in range(messages):
            message = VoteMsg(votes=[make_vote(height)])
            assert peer.send_payload(encode_message(message), class_of(message))
            if height % 500 == 499:
                await asyncio.sleep(0)
        await wait_until(lambda: len(heights) >= messages, timeout=20.0, what="every vote")
        return heights


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
def test_a_burst_of_small_messages_arrives_whole_and_in_order(name: str) -> None:
    with asyncio.Runner(loop_factory=loop_factories()[name]) as runner:
        heights = runner.run(send_burst(5_000))
    assert heights == list(range(5_000))

"""Inventory announcements to one peer leave at most every `inv_interval_s`, so an
honest node's gossip stays under the per-class message rate at any transaction rate."""

from __future__ import annotations

import asyncio
import time

from p2p_helpers import RawPeer, host, make_tx, running, start_node, wait_until

from timecoin.p2p import Inv, InvKind
from timecoin.types import compute_txid


async def receive_inv(raw: RawPeer, timeout: float = 3.0) -> Inv:
    """The next Inv from the node (other messages are skipped)."""
    while True:
        message = await raw.receive(timeout=timeout)
        if isinstance(message, Inv):
            return message


async def test_announcements_are_batched_per_interval() -> None:
    a = await start_node(2, inv_interval_s=0.1)
    async with running(a):
        raw = await RawPeer.connect(a, host(60))
        await raw.do_handshake()
        await wait_until(lambda: len(a.manager.peers()) == 1, what="raw peer")
        txs = [make_tx(i) for i in range(200)]
        started = time.monotonic()
        for tx in txs:  # one announcement per event-loop turn, over ~0.6 s
            a.manager.gossip(tx)
            await asyncio.sleep(0.003)
        announced: set[bytes] = set()
        invs = 0
        while len(announced) < len(txs):
            inv = await receive_inv(raw)
            assert inv.kind is InvKind.TX
            announced.update(inv.hashes)
            invs += 1
        elapsed = time.monotonic() - started
        assert announced == {compute_txid(tx) for tx in txs}
        assert invs <= elapsed / 0.1 + 2, (invs, elapsed)
        raw.close()


async def test_first_announcement_after_a_quiet_spell_leaves_at_once() -> None:
    a = await start_node(2, inv_interval_s=1.0)
    async with running(a):
        raw = await RawPeer.connect(a, host(61))
        await raw.do_handshake()
        await wait_until(lambda: len(a.manager.peers()) == 1, what="raw peer")
        started = time.monotonic()
        a.manager.gossip(make_tx(1))
        first = await receive_inv(raw)
        first_at = time.monotonic() - started
        a.manager.gossip(make_tx(2))
        second = await receive_inv(raw)
        second_at = time.monotonic() - started
        assert first.hashes == [compute_txid(make_tx(1))]
        assert second.hashes == [compute_txid(make_tx(2))]
        assert first_at < 0.5
        assert second_at >= 0.9, second_at
        raw.close()

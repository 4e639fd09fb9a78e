"""The reactor interface: errors raised by reactors, ordering, seen marking, PEX timer."""

from __future__ import annotations

import asyncio

from p2p_helpers import RecordingReactor, make_tx, make_vote, running, start_node, wait_until

from timecoin.p2p import GetAddr, MessageClass, Peer, Txs, VoteMsg, compute_inventory_hash
from timecoin.p2p.messages import Message
from timecoin.types import InvalidVote, ProtocolError


class RaisingReactor(RecordingReactor):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    async def on_message(self, peer: Peer, message: Message) -> None:
        await super().on_message(peer, message)
        if isinstance(message, VoteMsg) and message.votes[0].height == 13:
            raise self.error


async def test_reactor_protocol_error_bans_the_sender() -> None:
    a = await start_node(2, reactor=RaisingReactor(ProtocolError("bad-vote", "forged")))
    b = await start_node(3)
    async with running(a, b):
        b.manager.connect(a.address)
        await wait_until(lambda: a.manager.peers())
        b.manager.broadcast(VoteMsg(votes=[make_vote(13)]))
        await wait_until(lambda: a.manager.stats.bans_by_reason == {"bad-vote": 1}, what="ban")
        await wait_until(lambda: not b.manager.peers(), what="disconnect")


async def test_other_reactor_errors_are_counted_and_the_peer_stays() -> None:
    a = await start_node(2, reactor=RaisingReactor(InvalidVote("x", "y")))
    b = await start_node(3)
    async with running(a, b):
        b.manager.connect(a.address)
        await wait_until(lambda: a.manager.peers())
        for height in (12, 13, 14):
            b.manager.broadcast(VoteMsg(votes=[make_vote(height)]))
        await wait_until(lambda: len(a.reactor.of_type(VoteMsg)) == 3, what="all delivered")
        heights = [m.votes[0].height for m in a.reactor.of_type(VoteMsg)]
        assert heights == [12, 13, 14]  # in order, despite the error
        assert a.manager.stats.reactor_errors == 1 and a.manager.stats.bans == 0
        assert len(a.manager.peers()) == 1


async def test_items_marked_seen_are_not_fetched_and_partial_batches_are_trimmed() -> None:
    a = await start_node(2)
    b = await start_node(3)
    async with running(a, b):
        b.manager.connect(a.address)
        await wait_until(lambda: a.manager.peers())
        old, new = make_tx(1), make_tx(2)
        b.manager.mark_seen(compute_inventory_hash(old)[1])
        a.manager.gossip(old)
        a.manager.gossip(new)
        await wait_until(lambda: b.reactor.of_type(Txs), what="new tx")
        await asyncio.sleep(0.1)
        assert [m.transactions for m in b.reactor.of_type(Txs)] == [[new]]
        # Pushed directly, a batch reaches the reactors without what was seen.
        (peer,) = a.manager.peers()
        peer.send(Txs(transactions=[old, new, make_tx(3)]))
        await wait_until(lambda: len(b.reactor.of_type(Txs)) == 2, what="pushed batch")
        assert b.reactor.of_type(Txs)[1].transactions == [make_tx(3)]
        assert b.manager.stats.gossip_duplicates == 2


async def test_periodic_getaddr() -> None:
    a = await start_node(2)
    b = await start_node(3, pex_interval_s=0.1)
    async with running(a, b):
        a.manager.connect(b.address)  # inbound for b: b does not ask on connect
        await wait_until(lambda: b.manager.peers())
        # b's control traffic: one Addr answering a's GetAddr, then a GetAddr
        # every 0.1 s (pings are 30 s apart).
        await wait_until(
            lambda: b.manager.stats.classes[MessageClass.CONTROL].messages_out >= 3,
            what="GetAddr from the timer",
        )
        assert GetAddr not in {type(m) for _, m in a.reactor.messages}

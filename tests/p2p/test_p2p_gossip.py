"""Inventory gossip: announce by hash, fetch with GetData, deliver each item once."""

from __future__ import annotations

import asyncio
from collections import Counter

from p2p_helpers import Node, RecordingReactor, make_tx, running, start_node, wait_until

from timecoin.p2p import GetData, Inv, InvKind, MessageClass, Peer, Txs, compute_inventory_hash
from timecoin.p2p.messages import Message
from timecoin.types import compute_txid


def relaying_reactor(box: list[Node]) -> RecordingReactor:
    """A reactor that relays every new transaction, as a mempool would after validation."""

    def relay(peer: Peer, message: Message) -> None:
        if isinstance(message, Txs):
            for tx in message.transactions:
                box[0].manager.gossip(tx, exclude=peer.peer_id)

    return RecordingReactor(on_message=relay)


async def start_relaying_node(n: int) -> Node:
    box: list[Node] = []
    node = await start_node(n, reactor=relaying_reactor(box))
    box.append(node)
    return node


def received_txids(node: Node) -> Counter[bytes]:
    return Counter(compute_txid(tx) for m in node.reactor.of_type(Txs) for tx in m.transactions)


async def connect(dialer: Node, target: Node) -> None:
    """Connect dialer to target (PEX may already have done it)."""
    dialer.manager.connect(target.address)
    await wait_until(
        lambda: target.manager.peer(dialer.manager.peer_id) is not None, what="connection"
    )


async def test_gossip_reaches_all_three_nodes_exactly_once() -> None:
    a, b, c = [await start_relaying_node(n) for n in (2, 3, 4)]
    async with running(a, b, c):
        # A triangle: every item can arrive over two paths.
        await connect(b, a)
        await connect(c, b)
        await connect(c, a)
        txs = [make_tx(i) for i in range(300)]
        for tx in txs[:150]:
            a.manager.gossip(tx)
        for tx in txs[150:]:
            c.manager.gossip(tx)
        want_b = {compute_txid(tx) for tx in txs}
        await wait_until(lambda: set(received_txids(b)) == want_b, what="b has all")
        await wait_until(lambda: len(received_txids(a)) == 150, what="a has c's")
        await wait_until(lambda: len(received_txids(c)) == 150, what="c has a's")
        await asyncio.sleep(0.3)  # let any duplicate arrive
        for node in (a, b, c):
            counts = received_txids(node)
            assert max(counts.values()) == 1, f"node {node.n} got duplicates"
        # Nobody received its own transactions back.
        assert not set(received_txids(a)) & {compute_txid(tx) for tx in txs[:150]}
        # Announcements are batched: far fewer Inv messages than transactions.
        gossip_out = a.manager.stats.classes[MessageClass.GOSSIP].messages_out
        assert gossip_out < 150, gossip_out


async def test_inventory_is_fetched_once_when_announced_by_several_peers() -> None:
    a, b, c = [await start_node(n) for n in (2, 3, 4)]
    async with running(a, b, c):
        await connect(c, a)
        await connect(c, b)
        tx = make_tx(7)
        a.manager.gossip(tx)
        b.manager.gossip(tx)
        await wait_until(lambda: len(received_txids(c)) == 1, what="tx at c")
        await asyncio.sleep(0.2)
        assert received_txids(c) == Counter({compute_txid(tx): 1})
        assert c.manager.has_seen(compute_txid(tx))
        # c asked only one of them for the body.
        served = sum(n.manager.stats.classes[MessageClass.GOSSIP].messages_in for n in (a, b))
        assert served == 1


async def test_getdata_for_unknown_items_reaches_the_reactors() -> None:
    a, b = await start_node(2), await start_node(3)
    async with running(a, b):
        await connect(b, a)
        (peer,) = b.manager.peers()
        kind, item_hash = compute_inventory_hash(make_tx(1))
        assert kind is InvKind.TX
        assert peer.send(GetData(kind=InvKind.TX, hashes=[item_hash]))
        await wait_until(lambda: a.reactor.of_type(GetData), what="GetData forwarded")
        # Inv is consumed by a's manager, which asks b for the body; b cannot
        # serve it from its relay cache, so b's reactors get the GetData.
        peer.send(Inv(kind=InvKind.TX, hashes=[item_hash]))
        await wait_until(lambda: b.reactor.of_type(GetData), what="GetData at b")
        assert b.reactor.of_type(GetData)[0].hashes == [item_hash]
        assert a.reactor.of_type(Inv) == []


async def test_pushed_transactions_arrive_in_full_without_inventory() -> None:
    # A node's own (a client's) transactions are pushed: no Inv, no GetData;
    # those pushed in one loop iteration share one Txs message per peer.
    a, b = await start_relaying_node(2), await start_relaying_node(3)
    async with running(a, b):
        await connect(b, a)
        txs = [make_tx(100 + i) for i in range(20)]
        for tx in txs:
            a.manager.push_transaction(tx)
        await wait_until(lambda: len(received_txids(b)) == 20, what="b has them all")
        assert len(b.reactor.of_type(Txs)) == 1
        assert b.reactor.of_type(Inv) == [] and a.reactor.of_type(GetData) == []
        # b relays nothing back to a (a is known to have them), and a pushed
        # each to b once even when asked again.
        a.manager.push_transaction(txs[0])
        await asyncio.sleep(0.2)
        assert received_txids(b)[compute_txid(txs[0])] == 1
        assert received_txids(a) == Counter()

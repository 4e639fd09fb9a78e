"""Two managers on loopback: handshake, messages both ways, identity, stats."""

from __future__ import annotations

from p2p_helpers import make_vote, running, start_node, wait_until

from timecoin.p2p import Direction, MessageClass, VoteMsg


async def test_two_managers_handshake_and_exchange_messages() -> None:
    a = await start_node(2)
    b = await start_node(3)
    async with running(a, b):
        b.manager.connect(a.address)
        await wait_until(lambda: a.manager.peers() and b.manager.peers(), what="handshake")
        (peer_of_a,) = a.manager.peers()
        (peer_of_b,) = b.manager.peers()
        assert peer_of_a.peer_id == b.manager.peer_id
        assert peer_of_b.peer_id == a.manager.peer_id
        assert peer_of_a.direction is Direction.INBOUND
        assert peer_of_b.direction is Direction.OUTBOUND

        assert a.manager.send(peer_of_a.peer_id, VoteMsg(votes=[make_vote(1)]))
        assert b.manager.broadcast(VoteMsg(votes=[make_vote(2)])) == 1
        await wait_until(lambda: b.reactor.of_type(VoteMsg) and a.reactor.of_type(VoteMsg))
        assert b.reactor.of_type(VoteMsg)[0].votes[0].height == 1
        assert a.reactor.of_type(VoteMsg)[0].votes[0].height == 2
        assert a.reactor.connected == [b.manager.peer_id]
        assert a.manager.stats.classes[MessageClass.CONSENSUS].messages_out == 1
        assert a.manager.stats.classes[MessageClass.CONSENSUS].messages_in == 1
    assert a.reactor.disconnected == [b.manager.peer_id]


async def test_crossing_dials_leave_exactly_one_connection() -> None:
    a = await start_node(2)
    b = await start_node(3)
    async with running(a, b):
        a.manager.connect(b.address)
        b.manager.connect(a.address)
        await wait_until(lambda: a.manager.peers() and b.manager.peers(), what="handshakes")
        await wait_until(
            lambda: len(a.manager._connections) == 1 and len(b.manager._connections) == 1,
            what="duplicate closed",
        )
        (peer_of_a,) = a.manager.peers()
        (peer_of_b,) = b.manager.peers()
        # Both ends kept the same TCP connection.
        assert peer_of_a.direction is not peer_of_b.direction
        assert a.manager.send(peer_of_a.peer_id, VoteMsg(votes=[make_vote(5)]))
        await wait_until(lambda: b.reactor.of_type(VoteMsg), what="message")


async def test_inbound_limits_refuse_extra_connections() -> None:
    a = await start_node(2, max_inbound=1)
    b = await start_node(3)
    c = await start_node(4)
    async with running(a, b, c):
        b.manager.connect(a.address)
        await wait_until(lambda: len(a.manager.peers()) == 1)
        c.manager.connect(a.address)
        await wait_until(lambda: a.manager.stats.connections_refused == 1, what="refusal")
        assert len(a.manager.peers()) == 1 and a.manager.stats.bans == 0


async def test_self_connection_is_dropped_and_remembered() -> None:
    a = await start_node(2)
    async with running(a):
        a.manager.connect(a.address)
        await wait_until(lambda: a.manager.stats.handshakes_failed >= 1, what="self detection")
        assert a.manager.peers() == [] and a.manager.stats.bans == 0
        listen = a.manager.listen_address
        assert listen is not None
        await wait_until(lambda: listen in a.manager.pex.self_addresses)


async def test_send_to_unknown_peer_and_broadcast_exclusion() -> None:
    a = await start_node(2)
    b = await start_node(3)
    async with running(a, b):
        assert not a.manager.send("00" * 32, VoteMsg(votes=[make_vote(1)]))
        b.manager.connect(a.address)
        await wait_until(lambda: a.manager.peers())
        assert a.manager.broadcast(VoteMsg(votes=[make_vote(1)]), exclude=b.manager.peer_id) == 0
        info = a.manager.peer_infos()[0]
        assert info.peer_id == b.manager.peer_id and info.user_agent.startswith("timecoin/")

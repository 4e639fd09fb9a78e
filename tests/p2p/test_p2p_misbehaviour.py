"""A raw-socket test peer misbehaves; the node disconnects and bans it, and keeps
serving its other peers."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Awaitable, Callable

import msgspec
import pytest
from p2p_helpers import (
    PARAMS,
    Node,
    RawPeer,
    host,
    make_vote,
    running,
    start_node,
    u32,
    wait_until,
)

from timecoin.crypto import sha256
from timecoin.p2p import BanKind, Ping, VoteMsg
from timecoin.p2p.channel import encode_frame

Attack = Callable[[RawPeer], Awaitable[None]]


async def bad_tag(raw: RawPeer) -> None:
    frame = raw.seal(Ping(nonce=1))
    await raw.send_raw(frame[:-1] + bytes([frame[-1] ^ 0x01]))


async def replayed_frame(raw: RawPeer) -> None:
    frame = raw.seal(Ping(nonce=1))
    await raw.send_raw(frame)
    await raw.send_raw(frame)


async def skipped_sequence(raw: RawPeer) -> None:
    raw.seal(Ping(nonce=1))  # sealed, never sent
    await raw.send(Ping(nonce=2))


async def oversized_frame(raw: RawPeer) -> None:
    # Only the length is sent: the node must refuse it without waiting for the body.
    await raw.send_raw(u32(PARAMS.sizes.max_frame_bytes + 1))


async def garbage_after_handshake(raw: RawPeer) -> None:
    await raw.send_raw(u32(64) + os.urandom(64))


async def malformed_message(raw: RawPeer) -> None:
    assert raw.channel is not None
    await raw.send_raw(raw.channel.seal(msgspec.msgpack.encode([[99, "no such message"]])))


async def non_canonical_message(raw: RawPeer) -> None:
    assert raw.channel is not None
    await raw.send_raw(raw.channel.seal(b"\x91\x92\x01\xcf" + (1).to_bytes(8, "big")))


async def hello_again(raw: RawPeer) -> None:
    assert raw.channel is not None
    await raw.send_raw(raw.channel.seal(raw.handshake.hello_bytes))


AFTER_HANDSHAKE: list[tuple[str, Attack, str]] = [
    ("bad-tag", bad_tag, "bad-tag"),
    ("replay", replayed_frame, "bad-sequence"),
    ("skipped-seq", skipped_sequence, "bad-sequence"),
    ("oversized", oversized_frame, "oversized"),
    ("garbage", garbage_after_handshake, "bad-sequence"),
    ("unknown-tag", malformed_message, "malformed"),
    ("non-canonical", non_canonical_message, "non-canonical"),
    ("hello-again", hello_again, "malformed"),
]


async def assert_still_serving(a: Node, b: Node) -> None:
    """The honest peer b still exchanges messages with a."""
    before = len(b.reactor.of_type(VoteMsg))
    assert a.manager.broadcast(VoteMsg(votes=[make_vote(99)])) == 1
    await wait_until(lambda: len(b.reactor.of_type(VoteMsg)) == before + 1, what="honest peer")
    assert len(a.manager.peers()) == 1


async def two_honest_nodes() -> tuple[Node, Node]:
    a = await start_node(2)
    b = await start_node(3)
    b.manager.connect(a.address)
    await wait_until(lambda: len(a.manager.peers()) == 1, what="honest peer")
    return a, b


async def test_misbehaviour_after_handshake_disconnects_and_bans() -> None:
    a, b = await two_honest_nodes()
    async with running(a, b):
        for i, (name, attack, code) in enumerate(AFTER_HANDSHAKE):
            raw_host = host(20 + i)
            raw = await RawPeer.connect(a, raw_host)
            await raw.do_handshake()
            await raw.ping()
            await wait_until(lambda: len(a.manager.peers()) == 2, what=f"{name}: raw peer")
            await attack(raw)
            await raw.wait_closed()
            raw.close()
            assert a.manager.stats.bans_by_reason.get(code, 0) >= 1, (name, a.manager.stats)
            assert a.manager.bans.is_banned(BanKind.HOST, raw_host, a.manager._now()), name
            await wait_until(lambda: len(a.manager.peers()) == 1, what=f"{name}: raw peer gone")
            await assert_still_serving(a, b)
        assert a.manager.stats.bans == len(AFTER_HANDSHAKE)
        # b saw nothing of it.
        assert b.manager.stats.bans == 0 and len(b.manager.peers()) == 1


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "oversized"),  # length 0x47455420
        (u32(5) + b"\xff\xfe\xfd\xfc\xfb", "malformed"),
        (encode_frame(b"\x9a" + os.urandom(100)), "malformed"),
    ],
    ids=["http", "short-garbage", "array-garbage"],
)
async def test_garbage_before_handshake_disconnects_and_bans(data: bytes, code: str) -> None:
    a, b = await two_honest_nodes()
    async with running(a, b):
        raw = await RawPeer.connect(a, host(40))
        await raw.send_raw(data)
        await raw.wait_closed()
        raw.close()
        assert a.manager.stats.bans_by_reason == {code: 1}
        # The banned host is refused at once, before any byte is read.
        refused_before = a.manager.stats.connections_refused
        again = await RawPeer.connect(a, host(40))
        await again.wait_closed()
        again.close()
        assert a.manager.stats.connections_refused == refused_before + 1
        await assert_still_serving(a, b)


async def test_wrong_chain_and_genesis_are_rejected_and_banned() -> None:
    a = await start_node(2)
    other_chain = await start_node(
        4, params=dataclasses.replace(PARAMS, chain_id=PARAMS.chain_id + 1)
    )
    other_genesis = await start_node(5, params=PARAMS.with_genesis(sha256(b"fork")))
    async with running(a, other_chain, other_genesis):
        other_chain.manager.connect(a.address)
        other_genesis.manager.connect(a.address)
        await wait_until(lambda: a.manager.stats.bans == 2, what="two bans")
        assert a.manager.stats.bans_by_reason == {"wrong-chain": 1, "wrong-genesis": 1}
        now = a.manager._now()
        assert a.manager.bans.is_banned(BanKind.HOST, host(4), now)
        assert a.manager.bans.is_banned(BanKind.HOST, host(5), now)
        # The dialers saw the mismatch too and banned a.
        await wait_until(lambda: other_chain.manager.stats.bans == 1, what="dialer ban")
        assert other_chain.manager.stats.bans_by_reason == {"wrong-chain": 1}
        assert a.manager.peers() == []


async def test_manual_ban_disconnects_and_refuses_reconnection() -> None:
    a, b = await two_honest_nodes()
    async with running(a, b):
        a.manager.ban(b.manager.peer_id, "operator", 60.0)
        await wait_until(lambda: not a.manager.peers() and not b.manager.peers(), what="ban")
        kinds = {(e.kind, e.value) for e in a.manager.banned()}
        assert (BanKind.NODE, b.manager.peer_id) in kinds and (BanKind.HOST, host(3)) in kinds
        b.manager.connect(a.address)
        await wait_until(lambda: a.manager.stats.connections_refused >= 1, what="refusal")
        assert a.manager.unban(BanKind.HOST, host(3))
        assert a.manager.unban(BanKind.NODE, b.manager.peer_id)
        b.manager.connect(a.address)
        await wait_until(lambda: len(a.manager.peers()) == 1, what="reconnect after unban")

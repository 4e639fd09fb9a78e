"""Rate limits over loopback: a flood is throttled, and banned once it keeps
exceeding the ban multiple; a peer merely over its rate is only throttled."""

from __future__ import annotations

import asyncio
import time

from p2p_helpers import RawPeer, host, make_vote, running, start_node, wait_until

from timecoin.p2p import BanKind, MessageClass, VoteMsg


async def send_at_rate(raw: RawPeer, rate_per_s: float, seconds: float) -> int:
    """Send VoteMsgs at `rate_per_s` in 10 ms slices; stop early if the node hangs up."""
    sent = 0
    start = time.monotonic()
    try:
        while (elapsed := time.monotonic() - start) < seconds:
            due = int(rate_per_s * elapsed) + 1
            frames = [raw.seal(VoteMsg(votes=[make_vote(i)])) for i in range(sent, due)]
            if frames:
                await raw.send_raw(b"".join(frames))
                sent = due
            await asyncio.sleep(0.01)
    except (ConnectionResetError, BrokenPipeError):
        pass
    return sent


async def test_flood_of_10000_msgs_per_s_is_throttled_then_banned() -> None:
    # Defaults: 100 msg/s per class, burst 2 s, ban multiple 10; a 1 s ban window.
    a = await start_node(2, ban_window_s=1.0)
    b = await start_node(3)
    async with running(a, b):
        b.manager.connect(a.address)
        await wait_until(lambda: len(a.manager.peers()) == 1)
        raw = await RawPeer.connect(a, host(50))
        await raw.do_handshake()
        start = time.monotonic()
        sent = await send_at_rate(raw, 10_000, seconds=3.0)
        await raw.wait_closed()
        raw.close()
        elapsed = time.monotonic() - start
        stats = a.manager.stats
        assert stats.bans_by_reason == {"flood": 1}
        assert a.manager.bans.is_banned(BanKind.HOST, host(50), a.manager._now())
        consensus = stats.classes[MessageClass.CONSENSUS]
        delivered = len(a.reactor.of_type(VoteMsg))
        # At most the burst (200) plus 100/s got through; the rest was throttled.
        assert delivered <= 200 + 100 * elapsed + 5, (delivered, elapsed)
        assert consensus.throttled >= 500
        # Banned well before the 3 s of flooding were over.
        assert sent < 3 * 10_000 * 0.8
        # The honest peer is unaffected.
        a.manager.broadcast(VoteMsg(votes=[make_vote(1)]))
        await wait_until(lambda: len(b.reactor.of_type(VoteMsg)) == 1)


async def test_peer_over_its_rate_but_under_the_multiple_is_only_throttled() -> None:
    a = await start_node(2, ban_window_s=1.0)
    async with running(a):
        raw = await RawPeer.connect(a, host(51))
        await raw.do_handshake()
        await send_at_rate(raw, 500, seconds=1.5)  # 5x the rate: below the 10x multiple
        await raw.ping()
        stats = a.manager.stats
        consensus = stats.classes[MessageClass.CONSENSUS]
        assert stats.bans == 0 and len(a.manager.peers()) == 1
        assert consensus.throttled > 100
        assert consensus.messages_in <= 200 + 100 * 2 + 5
        raw.close()

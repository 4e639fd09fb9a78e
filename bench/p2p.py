"""P2P benchmark: small messages through the authenticated channel on loopback.

Two peer managers in this process (so one core does the work of both ends)
connect over loopback; one sends MESSAGES 142-byte `VoteMsg` frames to the
other, sealed and opened with ChaCha20-Poly1305, on asyncio's loop and on
uvloop (when installed). Rate limits are lifted so the path is measured, not
the limiter.

Figures, all measured in this run: messages per second on each loop, and
their ratio to the single-core rate of sealing and opening the same frame
alone (the AEAD work each message needs, without framing, queues or the
event loop), so the figure survives a noisy machine. The floor is 5,000
msg/s (the rate `make test` once asserted, now here where timing belongs).

Writes JSON to bench/results/p2p.json and prints a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import platform
import random
import time
from collections.abc import Callable
from typing import Any

from benchlib import add_common_arguments, write_result
from timecoin.crypto import SigningKey, sha256
from timecoin.p2p import (
    MessageClass,
    P2PConfig,
    Peer,
    PeerManager,
    VoteMsg,
    aead,
    class_of,
    encode_message,
)
from timecoin.p2p.messages import Message
from timecoin.p2p.ratelimit import ClassRate
from timecoin.params import MINIMAL
from timecoin.types import ZERO_HASH, Vote, VoteType

PARAMS = MINIMAL.with_genesis(sha256(b"p2p bench genesis"))
FLOOR_MSGS_PER_S = 5_000
MESSAGE = VoteMsg(
    votes=[
        Vote(
            vote_type=int(VoteType.PREVOTE),
            height=1,
            round=0,
            block_hash=ZERO_HASH,
            voter=bytes(32),
            signature=bytes(64),
        )
    ]
)


class Counter:
    """A reactor that counts the messages it receives."""

    def __init__(self) -> None:
        """Nothing received yet."""
        self.received = 0

    def on_peer_connected(self, peer: Peer) -> None:
        """Ignored."""

    def on_peer_disconnected(self, peer: Peer) -> None:
        """Ignored."""

    async def on_message(self, peer: Peer, message: Message) -> None:
        """Count it."""
        self.received += 1


def manager(n: int) -> PeerManager:
    """A manager listening on 127.0.0.n with rate limits lifted."""
    unlimited = ClassRate(messages_per_s=1e9, bytes_per_s=1e12)
    config = dataclasses.replace(
        P2PConfig(),
        listen_host=f"127.0.0.{n}",
        listen_port=0,
        bind_host=f"127.0.0.{n}",
        tick_interval_s=0.02,
        allow_local_addresses=True,
        pex_interval_s=3600.0,
        persist_interval_s=3600.0,
        class_rates=tuple((cls, unlimited) for cls in MessageClass),
        max_inbound_queue_messages=10_000,
    )
    key = SigningKey(sha256(b"p2p bench node %d" % n))
    return PeerManager(PARAMS, key, config, rng=random.Random(n))


async def measure(messages: int) -> float:
    """Messages per second from one manager to another over loopback."""
    sender, receiver = manager(2), manager(3)
    counter = Counter()
    receiver.add_reactor(counter)
    await sender.start()
    await receiver.start()
    try:
        listen = sender.listen_address
        assert listen is not None
        receiver.connect(f"{listen[0]}:{listen[1]}")
        deadline = time.monotonic() + 10.0
        while not sender.peers():
            if time.monotonic() > deadline:
                raise RuntimeError("the managers did not connect")
            await asyncio.sleep(0.01)
        (peer,) = sender.peers()
        payload, cls = encode_message(MESSAGE), class_of(MESSAGE)
        start = time.perf_counter()
        sent = 0
        while sent < messages:
            for _ in range(500):
                peer.send_payload(payload, cls)
            sent += 500
            await asyncio.sleep(0)
            while sent - counter.received > 10_000:
                await asyncio.sleep(0)
        while counter.received < sent:
            await asyncio.sleep(0.001)
        return sent / (time.perf_counter() - start)
    finally:
        await receiver.stop()
        await sender.stop()


def measure_aead(seconds: float) -> float:
    """Seals and opens of one sealed VoteMsg frame per second, on one core."""
    key, nonce = os.urandom(32), os.urandom(12)
    payload = encode_message(MESSAGE)
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(200):
            aead.open_sealed(aead.seal(payload, nonce, key), nonce, key)
        n += 200
    return n / (time.perf_counter() - start)


def loop_factories() -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """asyncio's loop, and uvloop's when installed."""
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
        "asyncio": asyncio.new_event_loop
    }
    try:
        import uvloop
    except ImportError:
        return factories
    factories["uvloop"] = uvloop.new_event_loop
    return factories


def main() -> None:
    """Measure, print a summary, write bench/results/p2p.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=1.0, help="AEAD sampling time")
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.smoke:
        args.messages, args.seconds = 2_000, 0.05

    aead_before = measure_aead(args.seconds)
    loops: dict[str, dict[str, Any]] = {}
    for name, factory in sorted(loop_factories().items()):
        with asyncio.Runner(loop_factory=factory) as runner:
            rate = runner.run(measure(args.messages))
        loops[name] = {"msgs_per_s": round(rate, 1)}
    baseline = (aead_before + measure_aead(args.seconds)) / 2
    for figures in loops.values():
        figures["ratio_to_aead"] = round(figures["msgs_per_s"] / baseline, 3)
        figures["meets_floor"] = figures["msgs_per_s"] >= FLOOR_MSGS_PER_S
    result: dict[str, Any] = {
        "benchmark": "p2p",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "messages": args.messages,
        "message_bytes": len(encode_message(MESSAGE)),
        "aead_seal_open_per_s": round(baseline, 1),
        "loops": loops,
        "targets": {"msgs_per_s_floor": FLOOR_MSGS_PER_S},
    }
    path = write_result(args, "p2p", result)
    print(f"AEAD seal + open of one frame (1 core): {baseline:,.0f}/s")
    for name, figures in loops.items():
        print(
            f"{name}: {figures['msgs_per_s']:,.0f} msg/s "
            f"({figures['ratio_to_aead']:.1%} of the AEAD rate; floor {FLOOR_MSGS_PER_S:,}: "
            f"{'yes' if figures['meets_floor'] else 'NO'})"
        )
    print(f"results: {path}")


if __name__ == "__main__":
    main()

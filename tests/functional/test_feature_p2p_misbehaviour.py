"""A wire-protocol test peer misbehaves against the real nodes of a testnet.

Each scenario of docs/spec/p2p.md (sections 2, 3, 6, 7) is played from its
own loopback source address with a fresh node key, against one node of the
shared 4-node testnet: a corrupted ciphertext or tag, a replayed frame, an
oversized frame, garbage before and after the handshake, a hello of another
chain or genesis, a rate over the limit and a flood of 10,000 msg/s. The
test asserts what the node does (connection closed, ban counted by reason
in its metrics, reconnection refused while banned, messages throttled) and
that it stays healthy: RPC answers, its honest peers stay connected, and
every node keeps committing blocks.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from functional_framework import NodeHandle, Testnet, wait_until
from p2p_test_peer import ChainIdentity, P2PTestPeer, u32

from timecoin.crypto import sha256
from timecoin.p2p import Inv, InvKind, Ping
from timecoin.params import get_preset

Attack = Callable[[P2PTestPeer, Testnet], None]

BAN_METRIC = "timecoin_p2p_bans_total"
THROTTLED_METRIC = "timecoin_p2p_throttled_total"
SETTLE_TIMEOUT_S = 10.0


def source_host(n: int) -> str:
    """The loopback source address of scenario n (never the nodes' 127.0.0.1)."""
    return f"127.0.0.{20 + n}"


def chain_of(testnet: Testnet) -> ChainIdentity:
    """The testnet's chain id and genesis hash, from testnet.json."""
    return ChainIdentity(testnet.chain_id, testnet.genesis_hash)


def total_bans(node: NodeHandle) -> float:
    """Bans the node has counted, all reasons."""
    return sum(v for (name, _), v in node.metrics().items() if name == BAN_METRIC)


def throttled(node: NodeHandle, message_class: str) -> float:
    """Messages of `message_class` the node's rate limiter has dropped."""
    return node.metric(THROTTLED_METRIC, **{"class": message_class})


def assert_healthy(testnet: Testnet, node: NodeHandle) -> None:
    """RPC answers, the raw peer is gone, the honest peers remain, blocks commit."""
    peers = len(testnet.nodes) - 1
    wait_until(
        lambda: int(node.rpc("getconnectioncount")) == peers,
        SETTLE_TIMEOUT_S,
        f"{node.name} back to its {peers} honest peers",
    )
    height = node.height()
    testnet.wait_until_height(node, height + 1, timeout_s=SETTLE_TIMEOUT_S)


def assert_refused(testnet: Testnet, node: NodeHandle, host: str) -> None:
    """A new connection from the banned `host` is closed before a byte is exchanged."""
    with P2PTestPeer(node.p2p_address, chain_of(testnet), local_host=host) as again:
        again.expect_refused()


# ---------------------------------------------------------------- attacks after the handshake


def corrupt_ciphertext(peer: P2PTestPeer, testnet: Testnet) -> None:
    """A sealed frame with one ciphertext bit flipped."""
    with peer.send_lock():
        frame = bytearray(peer.seal(Ping(nonce=1)))
        frame[4 + 8] ^= 0x01  # after the length and the sequence number
        peer.send_raw(bytes(frame))


def corrupt_tag(peer: P2PTestPeer, testnet: Testnet) -> None:
    """A sealed frame with one bit of its Poly1305 tag flipped."""
    with peer.send_lock():
        frame = bytearray(peer.seal(Ping(nonce=1)))
        frame[-1] ^= 0x80
        peer.send_raw(bytes(frame))


def replay_frame(peer: P2PTestPeer, testnet: Testnet) -> None:
    """A valid frame, sent twice."""
    with peer.send_lock():
        frame = peer.seal(Ping(nonce=1))
        peer.send_raw(frame)
        peer.send_raw(frame)


def oversized_frame(peer: P2PTestPeer, testnet: Testnet) -> None:
    """Only the length of a frame one byte over the limit: refused before any body."""
    limit = get_preset(testnet.description["network"]).sizes.max_frame_bytes
    peer.send_raw(u32(limit + 1))


def garbage_after_handshake(peer: P2PTestPeer, testnet: Testnet) -> None:
    """A frame of random bytes where a sealed frame belongs."""
    peer.send_raw(u32(64) + testnet.rng.randbytes(64))


AFTER_HANDSHAKE: list[tuple[str, Attack, str]] = [
    ("corrupted-ciphertext", corrupt_ciphertext, "bad-tag"),
    ("corrupted-tag", corrupt_tag, "bad-tag"),
    ("replayed-frame", replay_frame, "bad-sequence"),
    ("oversized-frame", oversized_frame, "oversized"),
    ("garbage", garbage_after_handshake, "bad-sequence"),
]


@pytest.mark.parametrize(
    ("index", "attack", "reason"),
    [(i, attack, reason) for i, (_, attack, reason) in enumerate(AFTER_HANDSHAKE)],
    ids=[name for name, _, _ in AFTER_HANDSHAKE],
)
def test_misbehaviour_after_handshake_disconnects_and_bans(
    testnet: Testnet, index: int, attack: Attack, reason: str
) -> None:
    node = testnet.nodes[index % len(testnet.nodes)]
    host = source_host(index)
    testnet.wait_for_height(1)
    bans_before = node.metric(BAN_METRIC, reason=reason)
    with P2PTestPeer(node.p2p_address, chain_of(testnet), local_host=host) as peer:
        hello = peer.perform_handshake()
        assert hello.chain_id == testnet.chain_id
        assert hello.genesis_hash == testnet.genesis_hash
        peer.ping()  # the connection is open and served
        attack(peer, testnet)
        peer.wait_closed()
    assert node.metric(BAN_METRIC, reason=reason) == bans_before + 1
    assert_refused(testnet, node, host)
    assert_healthy(testnet, node)


# ---------------------------------------------------------------- attacks before the handshake


def wrong_chain(testnet: Testnet) -> tuple[ChainIdentity, bytes | None]:
    """A hello naming another chain id."""
    return ChainIdentity(testnet.chain_id ^ 0x5A5A, testnet.genesis_hash), None


def wrong_genesis(testnet: Testnet) -> tuple[ChainIdentity, bytes | None]:
    """A hello naming another genesis block."""
    return ChainIdentity(testnet.chain_id, sha256(b"another genesis")), None


def http_request(testnet: Testnet) -> tuple[ChainIdentity, bytes | None]:
    """An HTTP request: its first four bytes read as a length far over the hello limit."""
    return chain_of(testnet), b"GET / HTTP/1.1\r\nHost: timecoin\r\n\r\n"


def garbage_hello(testnet: Testnet) -> tuple[ChainIdentity, bytes | None]:
    """A frame of random bytes where the hello belongs."""
    return chain_of(testnet), u32(100) + testnet.rng.randbytes(100)


BEFORE_HANDSHAKE: list[tuple[str, Callable[[Testnet], tuple[ChainIdentity, bytes | None]], str]] = [
    ("wrong-chain-id", wrong_chain, "wrong-chain"),
    ("wrong-genesis", wrong_genesis, "wrong-genesis"),
    ("garbage-http", http_request, "oversized"),
    ("garbage-hello", garbage_hello, "malformed"),
]


@pytest.mark.parametrize(
    ("index", "make", "reason"),
    [(10 + i, make, reason) for i, (_, make, reason) in enumerate(BEFORE_HANDSHAKE)],
    ids=[name for name, _, _ in BEFORE_HANDSHAKE],
)
def test_bad_handshake_disconnects_and_bans(
    testnet: Testnet,
    index: int,
    make: Callable[[Testnet], tuple[ChainIdentity, bytes | None]],
    reason: str,
) -> None:
    node = testnet.nodes[index % len(testnet.nodes)]
    host = source_host(index)
    chain, garbage = make(testnet)
    bans_before = node.metric(BAN_METRIC, reason=reason)
    with P2PTestPeer(node.p2p_address, chain, local_host=host) as peer:
        if garbage is None:
            # Both sides send their hello at once: the node's names the real chain.
            hello = peer.receive_hello()
            assert (hello.chain_id, hello.genesis_hash) == (testnet.chain_id, testnet.genesis_hash)
            peer.send_hello()
        else:
            peer.send_raw(garbage)
        peer.wait_closed()
    assert node.metric(BAN_METRIC, reason=reason) == bans_before + 1
    assert_refused(testnet, node, host)
    assert_healthy(testnet, node)


# ---------------------------------------------------------------- bans name node keys too


def test_banned_node_key_is_refused_from_another_address(testnet: Testnet) -> None:
    node = testnet.nodes[1]
    chain = chain_of(testnet)
    with P2PTestPeer(node.p2p_address, chain, local_host=source_host(30)) as peer:
        peer.perform_handshake()
        corrupt_tag(peer, testnet)
        peer.wait_closed()
    bans = total_bans(node)
    # Same key, new address: the hello is read, the key is found banned, the
    # connection is closed; the new address itself is not banned.
    with P2PTestPeer(
        node.p2p_address, chain, local_host=source_host(31), node_key=peer.node_key
    ) as same_key:
        same_key.perform_handshake()
        same_key.wait_closed()
    assert total_bans(node) == bans
    with P2PTestPeer(node.p2p_address, chain, local_host=source_host(31)) as fresh_key:
        fresh_key.perform_handshake()
        fresh_key.ping()
    assert_healthy(testnet, node)


# ---------------------------------------------------------------- rate limits


def test_rate_over_the_limit_is_throttled_not_banned(testnet: Testnet) -> None:
    # 500 msg/s of one class: 5x its 100 msg/s, under the 10x ban multiple.
    node = testnet.nodes[2]
    throttled_before = throttled(node, "gossip")
    bans_before = total_bans(node)
    with P2PTestPeer(node.p2p_address, chain_of(testnet), local_host=source_host(40)) as peer:
        peer.perform_handshake()
        result = peer.flood(Inv(kind=InvKind.TX, hashes=[]), rate_per_s=500, duration_s=2.0)
        assert not result.closed
        peer.ping()  # another class: still served, and everything before it handled
        # 2 s at 500/s against a burst of 200 plus 100/s: at least ~600 dropped.
        dropped = throttled(node, "gossip") - throttled_before
        assert dropped >= 300, dropped
        assert total_bans(node) == bans_before
        agents = [p["subver"] for p in node.rpc("getpeerinfo")]
        assert "/p2p-test-peer:0.1/" in agents
    assert_healthy(testnet, node)


def test_flood_of_10000_msgs_per_s_is_throttled_then_banned(testnet: Testnet) -> None:
    node = testnet.nodes[3]
    host = source_host(41)
    throttled_before = throttled(node, "gossip")
    bans_before = node.metric(BAN_METRIC, reason="flood")
    with P2PTestPeer(node.p2p_address, chain_of(testnet), local_host=host) as peer:
        peer.perform_handshake()
        result = peer.flood(Inv(kind=InvKind.TX, hashes=[]), rate_per_s=10_000, duration_s=6.0)
        peer.wait_closed()
    # The abuse bucket (10x the rate, 10 s window) runs dry after ~1.1 s at 100x.
    assert result.closed, result
    assert result.elapsed_s < 4.0, result
    assert node.metric(BAN_METRIC, reason="flood") == bans_before + 1
    dropped = throttled(node, "gossip") - throttled_before
    assert dropped >= 5_000, dropped
    assert_refused(testnet, node, host)
    assert_healthy(testnet, node)


# ---------------------------------------------------------------- the network is unharmed


def test_every_node_keeps_committing_the_same_blocks(testnet: Testnet) -> None:
    start = max(node.height() for node in testnet.nodes)
    testnet.wait_for_height(start + 2, timeout_s=20.0)
    hashes = {node.rpc("getblockhash", start + 1) for node in testnet.nodes}
    assert len(hashes) == 1
    for node in testnet.nodes:
        assert int(node.rpc("getconnectioncount")) == len(testnet.nodes) - 1

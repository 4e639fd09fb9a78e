"""Sync on real processes: a fresh node joins the running testnet and syncs
from genesis through a checkpoint; a masternode killed for 10 block intervals
catches up and votes again; a node whose store was deleted resyncs; a peer
serving headers certified by keys outside the voting set is rejected and
banned."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from functional_framework import BLOCK_INTERVAL_MS, NodeHandle, Testnet, wait_until
from p2p_test_peer import ChainIdentity, P2PTestPeer

from timecoin.chain import compute_vote_signing_message
from timecoin.crypto import SigningKey
from timecoin.encoding import decode
from timecoin.p2p.messages import GetHeaders, HeaderEntry, Headers
from timecoin.types import BlockHeader, Certificate, CommitSignature, VoteType, compute_block_hash


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def fresh_node(testnet: Testnet, tmp_path: Path) -> Iterator[NodeHandle]:
    """A node that is no masternode, with an empty store, configured with a
    checkpoint taken from the running network (not started)."""
    datadir = tmp_path / "fresh"
    datadir.mkdir()
    shutil.copy(testnet.nodes[0].datadir / "genesis.block", datadir / "genesis.block")
    testnet.wait_for_height(4)
    checkpoint_height = 3
    checkpoint_hash = testnet.nodes[0].rpc("getblockhash", checkpoint_height)
    seeds = ", ".join(f'"{node.p2p}"' for node in testnet.nodes)
    rpc_port = free_port()
    (datadir / "node.toml").write_text(
        f"""network = "devnet"
block_interval_ms = {BLOCK_INTERVAL_MS}

[p2p]
host = "127.0.0.1"
port = {free_port()}
seeds = [{seeds}]

[rpc]
host = "127.0.0.1"
port = {rpc_port}

[sync]
checkpoint = "{checkpoint_height}:{checkpoint_hash}"
require_checkpoint = true
""",
        encoding="utf-8",
    )
    argv = [
        sys.executable,
        "-m",
        "timecoin.cli",
        "node",
        "--config",
        str(datadir / "node.toml"),
        "--datadir",
        str(datadir),
    ]
    handle = NodeHandle("fresh", f"http://127.0.0.1:{rpc_port}/", datadir, argv, None)
    try:
        yield handle
    finally:
        for proc in handle.restarted:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def test_fresh_node_syncs_from_genesis_through_a_checkpoint(
    testnet: Testnet, fresh_node: NodeHandle
) -> None:
    fresh_node.restart()
    target = max(node.height() for node in testnet.nodes)
    testnet.wait_until_height(fresh_node, target, timeout_s=30.0)
    assert fresh_node.rpc("getblockhash", target) == testnet.nodes[0].rpc("getblockhash", target)
    # Out of initial download, the progress approaches 1 as the node follows the tip (a
    # node under load may trail the best known height by up to the IBD lag for a moment).
    info = wait_until(
        lambda: (
            (i := fresh_node.rpc("getblockchaininfo"))["initialblockdownload"] is False
            and i["verificationprogress"] >= 0.9
            and i
        ),
        20.0,
        "the end of initial block download",
    )
    assert info["bestknownheight"] >= target
    # it follows the tip as new blocks commit
    testnet.wait_until_height(fresh_node, target + 3, timeout_s=20.0)


def test_masternode_down_for_ten_intervals_catches_up_and_votes_again(testnet: Testnet) -> None:
    victim, second = testnet.nodes[1], testnet.nodes[2]
    others = [node for node in testnet.nodes if node is not victim]
    victim.kill()
    start = max(node.height() for node in others)
    for node in others:
        testnet.wait_until_height(node, start + 10, timeout_s=30.0)
    victim.restart()
    target = max(node.height() for node in others)
    testnet.wait_until_height(victim, target, timeout_s=30.0)
    assert victim.rpc("getblockhash", target) == others[0].rpc("getblockhash", target)
    # with another masternode down, 3 of 4 commit only if the victim votes
    second.kill()
    alive = [node for node in testnet.nodes if node is not second]
    height = max(node.height() for node in alive)
    for node in alive:
        testnet.wait_until_height(node, height + 3, timeout_s=30.0)
    second.restart()
    testnet.wait_until_height(second, height + 3, timeout_s=30.0)


def test_node_whose_store_was_deleted_resyncs(testnet: Testnet) -> None:
    victim = testnet.nodes[3]
    victim.kill()
    shutil.rmtree(victim.datadir / "chain")
    victim.restart()
    others = [node for node in testnet.nodes if node is not victim]
    target = max(node.height() for node in others)
    testnet.wait_until_height(victim, target, timeout_s=30.0)
    assert victim.rpc("getblockhash", target) == others[0].rpc("getblockhash", target)
    testnet.wait_for_height(target + 2, timeout_s=30.0)


def forged_certificate(chain_id: int, header: BlockHeader, keys: list[SigningKey]) -> Certificate:
    block_hash = compute_block_hash(header)
    message = compute_vote_signing_message(
        chain_id, VoteType.PRECOMMIT, header.height, 0, block_hash
    )
    return Certificate(
        height=header.height,
        round=0,
        block_hash=block_hash,
        signatures=[CommitSignature(i, key.sign(message)) for i, key in enumerate(keys)],
    )


def forged_entries(
    node: NodeHandle, chain_id: int, from_height: int, outsiders: list[SigningKey]
) -> list[HeaderEntry]:
    """The real header at `from_height`, then a forged one on top, both certified by
    keys outside the voting set."""
    real_hex = node.rpc("getblockheader", node.rpc("getblockhash", from_height), False)
    real = decode(bytes.fromhex(real_hex), BlockHeader, 1_024)
    forged = msgspec.structs.replace(
        real,
        height=real.height + 1,
        prev_hash=compute_block_hash(real),
        timestamp_ms=real.timestamp_ms + BLOCK_INTERVAL_MS,
        epoch=real.epoch if (real.height + 1) % 20 else real.epoch + 1,
    )
    return [
        HeaderEntry(real, forged_certificate(chain_id, real, outsiders), None),
        HeaderEntry(forged, forged_certificate(chain_id, forged, outsiders), None),
    ]


def test_peer_serving_headers_signed_outside_the_voting_set_is_rejected_and_banned(
    testnet: Testnet,
) -> None:
    node = testnet.nodes[0]
    chain = ChainIdentity(testnet.chain_id, testnet.genesis_hash)
    outsiders = [SigningKey(os.urandom(32)) for _ in range(4)]
    key = SigningKey(os.urandom(32))
    with P2PTestPeer(node.p2p_address, chain, local_host="127.0.0.91", node_key=key) as peer:
        peer.perform_handshake()
        request = peer.wait_for_message(GetHeaders)
        entries = forged_entries(node, testnet.chain_id, request.from_height, outsiders)
        peer.send_message(Headers(tip_height=request.from_height + 1000, headers=entries[:1]))
        main = peer.wait_for_message(GetHeaders, lambda r: r.count > 1, timeout_s=10.0)
        # the chain may have moved on between the two requests: answer from where it asks
        entries = forged_entries(node, testnet.chain_id, main.from_height, outsiders)
        peer.send_message(
            Headers(tip_height=main.from_height + 1000, headers=entries[: main.count])
        )
        peer.wait_closed(10.0)
    penalized = wait_until(
        lambda: node.metrics().get(("timecoin_sync_peers_penalized", ()), 0.0) >= 1.0,
        10.0,
        "the sync penalty",
    )
    assert penalized
    # banned: the same node key is cut off again after its handshake
    with P2PTestPeer(node.p2p_address, chain, local_host="127.0.0.92", node_key=key) as again:
        # the node may close before or during the handshake
        with contextlib.suppress(Exception):
            again.perform_handshake()
        again.wait_closed(10.0)
    assert not node.rpc("getconsensusinfo")["forkalert"]

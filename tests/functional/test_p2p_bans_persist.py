"""Peer management that lasts: bans outlive a restart, even a SIGKILL right
after they were set, and `clearbanned` lifts them for good; `addnode
remove`, `disconnectnode`, and the real `lastsend`/`lastrecv` times."""

from __future__ import annotations

import time

import pytest
from functional_framework import Testnet, wait_until

from timecoin.rpc.client import RpcClientError

NODE_KEY = "cd" * 32


def test_bans_survive_a_sigkill_and_clearbanned_lasts(testnet: Testnet) -> None:
    testnet.wait_for_height(1)
    node = testnet.nodes[3]
    node.rpc("setban", "10.1.2.3", "add", 3_600)
    node.rpc("setban", NODE_KEY, "add")
    before = {entry["address"]: entry for entry in node.rpc("listbanned")}
    assert set(before) == {"10.1.2.3", NODE_KEY}
    node.kill()
    node.restart()
    wait_until(lambda: node.height() >= 0, 30.0, "the restarted node")
    after = {entry["address"]: entry for entry in node.rpc("listbanned")}
    assert set(after) == set(before)
    for address, entry in after.items():
        assert abs(entry["banned_until"] - before[address]["banned_until"]) <= 2
    node.rpc("clearbanned")
    node.kill()
    node.restart()
    wait_until(lambda: node.height() >= 0, 30.0, "the restarted node")
    assert node.rpc("listbanned") == []


def test_addnode_remove_disconnectnode_and_real_activity_times(testnet: Testnet) -> None:
    node = testnet.nodes[0]
    node.rpc("addnode", "10.9.9.9:1", "add")
    with pytest.raises(RpcClientError, match="-23"):
        node.rpc("addnode", "10.9.9.9:1", "add")
    assert node.rpc("addnode", "10.9.9.9:1", "remove") is None
    with pytest.raises(RpcClientError, match="-24"):
        node.rpc("addnode", "10.9.9.9:1", "remove")
    with pytest.raises(RpcClientError, match="-29"):
        node.rpc("disconnectnode", "10.9.9.9:1")
    peers = wait_until(lambda: node.rpc("getpeerinfo"), 30.0, "peers")
    now = time.time()
    for peer in peers:
        assert peer["conntime"] <= peer["lastrecv"] <= now + 1
        assert peer["conntime"] <= peer["lastsend"] <= now + 1
    target = peers[0]["addr"]
    assert node.rpc("disconnectnode", target) is None

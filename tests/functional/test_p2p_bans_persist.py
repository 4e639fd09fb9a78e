"""Bans outlive a restart, even a SIGKILL right after they were set, and
`clearbanned` lifts them for good."""

from __future__ import annotations

from functional_framework import Testnet, wait_until

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

"""A node killed with SIGKILL restarts from its store and catches up."""

from __future__ import annotations

from functional_framework import Testnet


def test_killed_node_restarts_and_catches_up(testnet: Testnet) -> None:
    testnet.wait_for_height(2)
    victim = testnet.nodes[testnet.rng.randrange(len(testnet.nodes))]
    others = [node for node in testnet.nodes if node is not victim]
    victim.kill()
    start = max(node.height() for node in others)
    for node in others:
        testnet.wait_until_height(node, start + 3)
    victim.restart()
    target = max(node.height() for node in others)
    testnet.wait_until_height(victim, target, timeout_s=30.0)
    assert victim.rpc("getblockhash", target) == others[0].rpc("getblockhash", target)
    # and it votes again: the network keeps committing with it
    testnet.wait_for_height(target + 2)

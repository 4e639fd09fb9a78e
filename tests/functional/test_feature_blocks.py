"""4 masternode processes commit blocks, and agree on them."""

from __future__ import annotations

from functional_framework import Testnet


def test_four_nodes_commit_the_same_blocks(testnet: Testnet) -> None:
    testnet.wait_for_height(4)
    hashes = {node.rpc("getblockhash", 3) for node in testnet.nodes}
    assert len(hashes) == 1


def test_every_node_is_connected_to_the_others(testnet: Testnet) -> None:
    for node in testnet.nodes:
        assert int(node.rpc("getconnectioncount")) == len(testnet.nodes) - 1


def test_consensus_info_names_the_voting_set(testnet: Testnet) -> None:
    info = testnet.nodes[0].rpc("getconsensusinfo")
    assert isinstance(info, dict)
    assert info["height"] >= 1


def test_proposers_assemble_their_blocks_off_the_event_loop(testnet: Testnet) -> None:
    # The block interval ends in the driver, which assembles the block in
    # the thread pool first; the machine then takes it ready-made. (Only a
    # proposal of a later round, after a failed one, is built on the loop.)
    testnet.wait_for_height(testnet.nodes[0].height() + 6)
    prebuilt = sum(n.metric("timecoin_proposals_prebuilt_total") for n in testnet.nodes)
    on_loop = sum(n.metric("timecoin_proposals_built_on_loop_total") for n in testnet.nodes)
    assert prebuilt >= 6, (prebuilt, on_loop)
    assert on_loop <= prebuilt / 2, (prebuilt, on_loop)

"""4 masternode processes commit blocks, and agree on them."""

from __future__ import annotations

from functional_framework import Testnet, wait_until

from timecoin.node.keys import read_key_file


def test_four_nodes_commit_the_same_blocks(testnet: Testnet) -> None:
    testnet.wait_for_height(4)
    hashes = {node.rpc("getblockhash", 3) for node in testnet.nodes}
    assert len(hashes) == 1


def test_every_node_is_connected_to_the_others(testnet: Testnet) -> None:
    # RPC answers before every dial has completed: wait for the mesh.
    for node in testnet.nodes:
        wait_until(
            lambda node=node: int(node.rpc("getconnectioncount")) == len(testnet.nodes) - 1,
            20.0,
            f"{node.name} connected to the other {len(testnet.nodes) - 1}",
        )


def test_consensus_info_names_the_voting_set(testnet: Testnet) -> None:
    # The four genesis masternodes, one per node, make up the voting set: each
    # node names them by operator key, with its weights, quorum and hash.
    testnet.wait_for_height(1)
    operators = {
        read_key_file(node.datadir / "operator.key").public_key.hex() for node in testnet.nodes
    }
    assert len(operators) == len(testnet.nodes)
    hashes: dict[int, set[str]] = {}
    for node in testnet.nodes:
        info = node.rpc("getconsensusinfo")
        voting_set = info["votingset"]
        voters = voting_set["voters"]
        assert {voter["operatorkey"] for voter in voters} == operators, node.name
        weights = [voter["weight"] for voter in voters]
        assert min(weights) > 0 and voting_set["totalweight"] == sum(weights)
        assert voting_set["quorumweight"] == 2 * voting_set["totalweight"] // 3 + 1
        assert info["isvoter"] is True, node.name
        assert info["epoch"] == voting_set["epoch"]
        hashes.setdefault(voting_set["epoch"], set()).add(voting_set["hash"])
    # Nodes asked on either side of an epoch boundary may name two epochs;
    # within one, they agree on the set.
    assert all(len(named) == 1 for named in hashes.values()), hashes


def test_proposers_assemble_their_blocks_off_the_event_loop(testnet: Testnet) -> None:
    # The block interval ends in the driver, which assembles the block in
    # the thread pool first; the machine then takes it ready-made. (Only a
    # proposal of a later round, after a failed one, is built on the loop.)
    testnet.wait_for_height(testnet.nodes[0].height() + 6)
    prebuilt = sum(n.metric("timecoin_proposals_prebuilt_total") for n in testnet.nodes)
    on_loop = sum(n.metric("timecoin_proposals_built_on_loop_total") for n in testnet.nodes)
    assert prebuilt >= 6, (prebuilt, on_loop)
    assert on_loop <= prebuilt / 2, (prebuilt, on_loop)

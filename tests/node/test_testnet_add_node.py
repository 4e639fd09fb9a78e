"""`add_testnet_node`: a non-genesis node's directory, kept across testnet restarts."""

from __future__ import annotations

from pathlib import Path

import pytest

from timecoin.node import testnet
from timecoin.node.config import load_config
from timecoin.node.testnet import GENESIS_FILENAME, add_testnet_node, init_testnet, is_joined_node


def test_added_node_seeds_from_the_others_and_restarts_with_them(tmp_path: Path) -> None:
    datadir = tmp_path / "net"
    genesis_nodes = init_testnet(datadir, 2, 500)
    added = add_testnet_node(datadir)
    assert added.name == "node2" and is_joined_node(added.datadir)
    config = load_config(added.datadir / "node.toml")
    assert set(config.p2p.seeds) == {node.p2p for node in genesis_nodes}
    assert config.block_interval_ms == 500
    assert config.wallet_file is None
    assert (added.datadir / GENESIS_FILENAME).read_bytes() == (
        genesis_nodes[0].datadir / GENESIS_FILENAME
    ).read_bytes()
    ports = {p for n in genesis_nodes for p in (n.rpc_port, n.p2p_port, n.metrics_port)}
    assert not ports & {added.rpc_port, added.p2p_port, added.metrics_port}
    second = add_testnet_node(datadir)
    assert second.name == "node3"
    assert added.p2p in load_config(second.datadir / "node.toml").p2p.seeds
    # Starting the testnet again starts the added nodes too.
    assert [n.name for n in init_testnet(datadir, 2, 500)] == ["node0", "node1", "node2", "node3"]


def test_add_node_needs_a_testnet(tmp_path: Path) -> None:
    with pytest.raises(testnet.TestnetError, match="no testnet here"):
        add_testnet_node(tmp_path)

"""Integer parameters beyond what the node can look up are out of range
(-8) on a real node, never an internal error."""

from __future__ import annotations

from pathlib import Path

import pytest
from single_node import (
    LoneNode,
    build_lone_testnet,
    make_lone_node,
    stop_lone_nodes,  # noqa: F401  (autouse: stops the nodes)
)

from timecoin.rpc.client import RpcCallError


@pytest.fixture(scope="session")
def lone_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-node testnet's node directory, built once per session."""
    return build_lone_testnet(tmp_path_factory.mktemp("lone-cache"))


def test_getblockhash_of_an_impossible_height_is_out_of_range(
    lone_source: Path, tmp_path: Path
) -> None:
    node = LoneNode(make_lone_node(lone_source, tmp_path / "node"))
    try:
        node.wait_for_height(1)
        for height in (2**63, 2**64, 10**30, -1):
            with pytest.raises(RpcCallError) as caught:
                node.rpc("getblockhash", height)
            assert caught.value.code == -8, (height, caught.value)
        assert "Traceback" not in node.log()
    finally:
        assert node.stop() == 0

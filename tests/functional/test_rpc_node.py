"""The node's RPC methods on a live testnet."""

from __future__ import annotations

import pytest
from functional_framework import Testnet

from timecoin.rpc.client import RpcCallError
from timecoin.rpc.errors import RPC_DESERIALIZATION_ERROR


def test_blockchain_and_mempool_info(testnet: Testnet) -> None:
    node = testnet.nodes[0]
    testnet.wait_for_height(1)
    info = node.rpc("getblockchaininfo")
    assert info["chain"] == "devnet"
    assert info["blocks"] >= 1
    # Nothing was sent: the pool is empty, loaded, and its limits are set.
    mempool = node.rpc("getmempoolinfo")
    assert mempool["loaded"] is True
    assert mempool["size"] == 0 and mempool["bytes"] == 0
    assert mempool["maxmempool"] > 0


def test_network_info_counts_connections(testnet: Testnet) -> None:
    info = testnet.nodes[1].rpc("getnetworkinfo")
    assert info["connections"] == len(testnet.nodes) - 1
    peers = testnet.nodes[1].rpc("getpeerinfo")
    assert len(peers) == len(testnet.nodes) - 1


def test_invalid_transaction_is_rejected(testnet: Testnet) -> None:
    node = testnet.nodes[2]
    with pytest.raises(RpcCallError) as info:
        node.rpc("sendrawtransaction", "00")
    assert info.value.code == RPC_DESERIALIZATION_ERROR
    assert info.value.message.startswith("TX decode failed")
    assert node.rpc("getmempoolinfo")["size"] == 0

"""The node's RPC methods on a live testnet."""

from __future__ import annotations

from functional_framework import Testnet


def test_blockchain_and_mempool_info(testnet: Testnet) -> None:
    node = testnet.nodes[0]
    testnet.wait_for_height(1)
    info = node.rpc("getblockchaininfo")
    assert info["chain"] == "devnet"
    assert info["blocks"] >= 1
    mempool = node.rpc("getmempoolinfo")
    assert mempool["size"] >= 0


def test_network_info_counts_connections(testnet: Testnet) -> None:
    info = testnet.nodes[1].rpc("getnetworkinfo")
    assert info["connections"] == len(testnet.nodes) - 1
    peers = testnet.nodes[1].rpc("getpeerinfo")
    assert len(peers) == len(testnet.nodes) - 1


def test_invalid_transaction_is_rejected(testnet: Testnet) -> None:
    node = testnet.nodes[2]
    try:
        node.rpc("sendrawtransaction", "00")
    except Exception as exc:
        assert "decode" in str(exc).lower() or "-22" in str(exc) or "tx" in str(exc).lower()
    else:
        raise AssertionError("a malformed transaction was accepted")

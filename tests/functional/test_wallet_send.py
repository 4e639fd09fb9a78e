"""A `sendtoaddress` payment lands in a block that every node sees identically."""

from __future__ import annotations

from decimal import Decimal

from functional_framework import Testnet, wait_until


def test_sendtoaddress_lands_in_the_same_block_everywhere(testnet: Testnet) -> None:
    sender, receiver = testnet.nodes[0], testnet.nodes[1]
    testnet.wait_for_height(1)
    amount = Decimal(testnet.rng.randrange(1, 10_000)) / 100
    before = Decimal(str(receiver.rpc("getbalance")))
    address = receiver.rpc("getnewaddress")
    txid = sender.rpc("sendtoaddress", address, str(amount))

    def block_of_tx() -> str | None:
        found = sender.rpc("getrawtransaction", txid, True)
        return found.get("blockhash") if isinstance(found, dict) else None

    block_hash = wait_until(block_of_tx, 20.0, f"transaction {txid} in a block")
    height = int(sender.rpc("getblock", block_hash, 1)["height"])
    testnet.wait_for_height(height)
    for node in testnet.nodes:
        assert node.rpc("getblockhash", height) == block_hash
        txids = [
            tx if isinstance(tx, str) else tx["txid"]
            for tx in node.rpc("getblock", block_hash, 1)["tx"]
        ]
        assert txid in txids

    # The receiver's wallet also collects its masternode's block rewards, so
    # look for the payment itself among its coins.
    def received() -> bool:
        coins = receiver.rpc("listunspent")
        return any(
            c["txid"] == txid and c["address"] == address and Decimal(str(c["amount"])) == amount
            for c in coins
        )

    wait_until(received, 10.0, "the payment among the receiver's coins")
    assert Decimal(str(receiver.rpc("getbalance"))) >= before + amount


def test_rescanblockchain_reads_the_chain_again(testnet: Testnet) -> None:
    node = testnet.nodes[0]
    testnet.wait_for_height(1)
    balance = Decimal(str(node.rpc("getbalance")))
    tip = node.height()
    scanned = node.rpc("rescanblockchain")
    assert scanned["start_height"] == 0 and scanned["stop_height"] >= tip
    assert Decimal(str(node.rpc("getbalance"))) >= balance

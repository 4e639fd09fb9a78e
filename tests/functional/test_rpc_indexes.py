"""The block indexes over RPC on real nodes: `getindexinfo`, a payment found
by txid and its input's spender, and an address index turned on later and
built from the stored blocks in the background after the next start."""

from __future__ import annotations

from decimal import Decimal

import pytest
from functional_framework import Testnet, wait_until

from timecoin.rpc.client import RpcClientError


def test_indexes_answer_and_an_index_turned_on_later_is_built(testnet: Testnet) -> None:
    sender, receiver = testnet.nodes[0], testnet.nodes[2]
    testnet.wait_for_height(1)
    info = sender.rpc("getindexinfo")
    assert set(info) == {"txindex", "spentindex"}
    address = receiver.rpc("getnewaddress")
    txid = sender.rpc("sendtoaddress", address, "1.5")

    def block_of_tx() -> str | None:
        found = sender.rpc("getrawtransaction", txid, True)
        return found.get("blockhash") if isinstance(found, dict) else None

    block_hash = wait_until(block_of_tx, 20.0, f"transaction {txid} in a block")
    height = int(sender.rpc("getblock", block_hash, 1)["height"])
    assert sender.rpc("gettransactionfinality", txid)["height"] == height
    spent = sender.rpc("getrawtransaction", txid, True)["vin"][0]
    spender = sender.rpc("getspentinfo", spent["txid"], spent["vout"])
    assert spender == {"txid": txid, "index": 0, "height": height}
    with pytest.raises(RpcClientError, match="addressindex"):
        sender.rpc("getaddresstxids", address)

    # turn the address index on: the next start builds it from the blocks
    config = sender.datadir / "node.toml"
    text = config.read_text()
    assert "addressindex = false" in text
    config.write_text(text.replace("addressindex = false", "addressindex = true"))
    sender.kill()
    sender.restart()
    wait_until(lambda: sender.height() >= height, 30.0, "the restarted node")
    wait_until(
        lambda: sender.rpc("getindexinfo").get("addressindex", {}).get("synced"),
        30.0,
        "the address index built in the background",
    )
    assert sender.rpc("getindexinfo", "addressindex")["addressindex"]["best_block_height"] >= height
    assert sender.rpc("getaddresstxids", address) == [txid]
    deltas = sender.rpc("getaddressdeltas", address)
    assert [(d["txid"], d["height"], d["satoshis"]) for d in deltas] == [
        (txid, height, int(Decimal("1.5") * 10**8))
    ]

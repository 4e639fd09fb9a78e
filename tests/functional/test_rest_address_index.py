"""With the store's address index on (`[index] addressindex = true`), the
REST API's address history and the wallet's history come from the index,
and reach as far back as the chain."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from functional_framework import Testnet, wait_until


@pytest.fixture(scope="module")
def indexed_testnet(
    cached_testnet: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Testnet]:
    net = Testnet(cached_testnet, tmp_path_factory.mktemp("indexed") / "net")
    for config in net.datadir.glob("node*/node.toml"):
        text = config.read_text(encoding="utf-8")
        assert "addressindex = false" in text
        config.write_text(
            text.replace("addressindex = false", "addressindex = true"), encoding="utf-8"
        )
    try:
        net.start()
        yield net
    finally:
        net.stop()


def _get(base: str, path: str) -> Any:
    with urllib.request.urlopen(base + path, timeout=15) as response:
        return json.loads(response.read())


def test_history_from_the_address_index(indexed_testnet: Testnet) -> None:
    testnet = indexed_testnet
    sender, receiver = testnet.nodes[0], testnet.nodes[1]
    testnet.wait_for_height(1)
    address = receiver.rpc("getnewaddress")
    status = sender.rpc("sendtoaddress", address, "1.75", 20)
    txid = status["txid"]

    def in_block() -> dict[str, Any] | None:
        found: dict[str, Any] = sender.rpc("gettransaction", txid)
        return found if found["confirmations"] >= 1 else None

    wait_until(in_block, 30.0, f"{txid} in a block")
    base = testnet.description["nodes"][1]["rest_url"]
    testnet.wait_for_height(sender.rpc("gettransaction", txid)["blockheight"])

    def listed() -> list[Any] | None:
        txs: list[Any] = _get(base, f"/address/{address}/txs/chain")
        return txs or None

    txs = wait_until(listed, 20.0, "the payment in the address history")
    assert [t["txid"] for t in txs] == [txid]
    assert _get(base, f"/address/{address}")["chain_stats"]["funded_txo_sum"] == 175_000_000
    info = receiver.rpc("getwalletinfo")
    assert info["historydepth"] == -1, "the wallet history comes from the index"
    entries = [e for e in receiver.rpc("listtransactions", "*", 1000) if e["txid"] == txid]
    assert [(e["category"], e["amount"]) for e in entries] == [("receive", Decimal("1.75"))]
    spent = _get(base, f"/tx/{txid}")["vin"][0]
    outspend = _get(base, f"/tx/{spent['txid']}/outspend/{spent['vout']}")
    assert (outspend["spent"], outspend["txid"]) == (True, txid)

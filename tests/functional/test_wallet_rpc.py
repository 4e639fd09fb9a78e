"""bitcoind's wallet and raw-transaction methods on real nodes: a payment
built with createrawtransaction, fundrawtransaction and
signrawtransactionwithwallet is listed by both wallets once it is in a block."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from functional_framework import Testnet, wait_until

from timecoin.rpc.client import RpcClient, RpcClientError


def _named(node: Any, method: str, params: dict[str, object]) -> Any:
    client = RpcClient.from_cookie(node.datadir, node.rpc_url, timeout_s=10.0)
    return client.call(method, params)


def _by_txid(entries: list[dict[str, Any]], txid: str) -> list[dict[str, Any]]:
    return [e for e in entries if e["txid"] == txid]


def test_raw_payment_is_listed_by_both_wallets(testnet: Testnet, tmp_path: Path) -> None:
    sender, receiver = testnet.nodes[0], testnet.nodes[1]
    testnet.wait_for_height(1)
    address = receiver.rpc("getnewaddress")
    raw = sender.rpc("createrawtransaction", [], {address: "2.5"})
    funded = sender.rpc("fundrawtransaction", raw, {"fee_rate": 20})
    signed = sender.rpc("signrawtransactionwithwallet", funded["hex"])
    assert signed["complete"] is True
    txid = sender.rpc("sendrawtransaction", signed["hex"])

    def in_block() -> dict[str, Any] | None:
        found: dict[str, Any] = sender.rpc("gettransaction", txid)
        return found if found["confirmations"] >= 1 else None

    sent = wait_until(in_block, 30.0, f"{txid} in a block")
    assert sent["amount"] == Decimal("-2.5")
    assert sent["fee"] == -Decimal(str(funded["fee"]))
    assert [d["category"] for d in sent["details"]] == ["send"]
    assert sender.rpc("getrawtransaction", txid, True)["blockhash"] == sent["blockhash"]
    testnet.wait_for_height(sent["blockheight"])

    def received() -> list[dict[str, Any]]:
        return _by_txid(receiver.rpc("listtransactions", "*", 1000), txid)

    (entry,) = wait_until(received, 20.0, "the payment in the receiver's list")
    assert (entry["category"], entry["address"], entry["amount"]) == (
        "receive",
        address,
        Decimal("2.5"),
    )
    assert entry["blockhash"] == sent["blockhash"] and entry["final"] is True
    assert receiver.rpc("getreceivedbyaddress", address) == Decimal("2.5")

    before = receiver.rpc("getblockhash", sent["blockheight"] - 1)
    since = receiver.rpc("listsinceblock", before)
    assert _by_txid(since["transactions"], txid)
    after = receiver.rpc("listsinceblock", sent["blockhash"])
    assert not _by_txid(after["transactions"], txid)

    info = sender.rpc("getwalletinfo")
    assert info["txcount"] >= 1 and info["private_keys_enabled"] is True
    (tip,) = sender.rpc("getchaintips")
    assert tip["status"] == "active" and tip["branchlen"] == 0
    assert sender.rpc("estimatesmartfee", 2)["feerate"] > 0


def test_fee_rate_abandon_and_backup(testnet: Testnet, tmp_path: Path) -> None:
    sender, receiver = testnet.nodes[2], testnet.nodes[3]
    testnet.wait_for_height(1)
    address = receiver.rpc("getnewaddress")
    status = _named(
        sender, "sendtoaddress", {"address": address, "amount": 1, "fee_rate": 300, "wait": 20}
    )
    # Final: its change is spendable, so the wallet can fund the next one.
    assert status["status"] in ("final", "confirmed"), status
    txid = status["txid"]
    size = len(sender.rpc("getrawtransaction", txid)) // 2
    fee = -sender.rpc("gettransaction", txid)["fee"]
    assert fee * 100_000_000 >= 300 * size

    raw = sender.rpc("createrawtransaction", [], {address: 1})
    signed = sender.rpc(
        "signrawtransactionwithwallet", sender.rpc("fundrawtransaction", raw)["hex"]
    )
    held = sender.rpc("decoderawtransaction", signed["hex"])["txid"]
    assert held in sender.rpc("getwalletinfo")["pendingtxids"]
    assert sender.rpc("abandontransaction", held) is None
    assert held not in sender.rpc("getwalletinfo")["pendingtxids"]
    try:
        sender.rpc("abandontransaction", txid)
    except RpcClientError as exc:
        assert "not eligible" in str(exc) or "non-wallet" in str(exc)
    else:
        raise AssertionError("a sent payment was abandoned")

    second = receiver.rpc("getnewaddress")
    many = sender.rpc("sendmany", "", {address: "1.25", second: 2})
    assert sender.rpc("gettransaction", many)["amount"] == Decimal("-3.25")
    assert sender.rpc("getbalances")["mine"]["trusted"] >= 0
    assert receiver.rpc("getaddressinfo", second)["ismine"] is True
    assert sender.rpc("getaddressinfo", second)["ismine"] is False

    target = tmp_path / "backup.json"
    assert sender.rpc("backupwallet", str(target)) is None
    assert target.is_file() and target.with_name("backup.json.journal").is_file()

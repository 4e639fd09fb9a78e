"""bitcoind's wallet history, raw-transaction and fee methods against the
in-memory node (a real wallet, real ledger rules): result shapes, the
numbers in them, and error codes."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from rpc_helpers import (
    PAYEE,
    PAYER,
    WALLET_ALLOCATION,
    ChainFacts,
    MemoryNode,
    RpcHttp,
    address_of,
    sign_tx,
)

from timecoin.crypto import encode_address
from timecoin.encoding import decode, encode
from timecoin.ledger import compute_tx_size
from timecoin.params import COIN
from timecoin.rpc.api import MempoolEntry
from timecoin.rpc.rawtx_handlers import compute_smart_fee_per_kb
from timecoin.types import Transaction, compute_txid

ALLOCATION = Decimal(WALLET_ALLOCATION) / COIN

ENTRY_FIELDS = {
    "address",
    "category",
    "amount",
    "label",
    "vout",
    "confirmations",
    "txid",
    "wtxid",
    "walletconflicts",
    "time",
    "timereceived",
    "bip125-replaceable",
}


def _addr(node: MemoryNode, address: bytes) -> str:
    return encode_address(node.params.address_hrp, address)


def _allocation_txid(node: MemoryNode, chain: ChainFacts) -> str:
    return compute_txid(node.blocks[chain.genesis_hash].transactions[0]).hex()


async def _pay(rpc: RpcHttp, node: MemoryNode, amount: str) -> str:
    txid: str = await rpc.call("sendtoaddress", _addr(node, address_of(PAYEE)), amount)
    return txid


async def test_an_allocation_in_a_block(rpc: RpcHttp, node: MemoryNode, chain: ChainFacts) -> None:
    (entry,) = await rpc.call("listtransactions")
    assert set(entry) >= ENTRY_FIELDS
    assert entry["category"] == "generate", "genesis allocations are coinbase outputs"
    assert entry["generated"] is True
    assert entry["amount"] == ALLOCATION
    assert entry["address"] == _addr(node, chain.wallet_address)
    assert entry["vout"] == 1
    assert entry["confirmations"] == 2
    assert entry["blockhash"] == chain.genesis_hash.hex()
    assert (entry["blockheight"], entry["blockindex"]) == (0, 0)
    assert entry["final"] is True
    assert "fee" not in entry

    tx = await rpc.call("gettransaction", _allocation_txid(node, chain))
    assert tx["amount"] == ALLOCATION and "fee" not in tx
    assert [d["category"] for d in tx["details"]] == ["generate"]
    assert tx["confirmations"] == 2
    assert (
        decode(bytes.fromhex(tx["hex"]), Transaction, 1 << 20)
        == node.blocks[chain.genesis_hash].transactions[0]
    )
    assert "decoded" not in tx
    assert (await rpc.call("gettransaction", tx["txid"], False, True))["decoded"]["txid"] == tx[
        "txid"
    ]


async def test_a_receive_from_another_owner(
    rpc: RpcHttp, node: MemoryNode, chain: ChainFacts
) -> None:
    change = chain.payment_tx.outputs[1].amount
    payment = sign_tx(
        [(chain.payer_change, PAYER)],
        [(7 * COIN, chain.wallet_address), (change - 7 * COIN - 10_000, address_of(PAYER))],
        node.params,
    )
    txid = await rpc.call("sendrawtransaction", encode(payment).hex())
    entries = await rpc.call("listtransactions")
    assert [e["category"] for e in entries] == ["generate", "receive"]
    received = entries[1]
    assert (received["txid"], received["vout"], received["amount"]) == (txid, 0, 7)
    assert received["confirmations"] == 0 and received["trusted"] is False
    tx = await rpc.call("gettransaction", txid)
    assert tx["amount"] == 7 and "fee" not in tx, "the payer's fee is not the wallet's"
    mine = _addr(node, chain.wallet_address)
    assert await rpc.call("getreceivedbyaddress", mine, 0) == ALLOCATION + 7
    assert await rpc.call("getreceivedbyaddress", mine, 1) == ALLOCATION


async def test_a_send_its_fee_and_paging(rpc: RpcHttp, node: MemoryNode, chain: ChainFacts) -> None:
    txid = await _pay(rpc, node, "12.5")
    sent = await rpc.call("gettransaction", txid)
    pooled = node.mempool[bytes.fromhex(txid)].tx
    fee_units = WALLET_ALLOCATION - sum(out.amount for out in pooled.outputs)
    assert sent["amount"] == Decimal("-12.5")
    assert sent["fee"] == -Decimal(fee_units) / COIN
    assert sent["confirmations"] == 0 and sent["trusted"] is False
    assert "blockhash" not in sent
    (detail,) = sent["details"]  # the change back to the wallet is not listed
    assert detail["category"] == "send"
    assert detail["address"] == _addr(node, address_of(PAYEE))
    assert detail["amount"] == Decimal("-12.5") and detail["abandoned"] is False

    entries = await rpc.call("listtransactions")
    assert [e["category"] for e in entries] == ["generate", "send"], "oldest first"
    assert [e["category"] for e in await rpc.call("listtransactions", "*", 1)] == ["send"]
    assert [e["category"] for e in await rpc.call("listtransactions", "*", 1, 1)] == ["generate"]
    assert await rpc.call("listtransactions", "*", 10, 5) == []
    assert (await rpc.error("listtransactions", "*", -1))["code"] == -8
    assert (await rpc.error("listtransactions", "*", 1, -1))["code"] == -8
    assert (await rpc.error("listtransactions", "savings"))["code"] == -4
    assert (await rpc.error("gettransaction", compute_txid(chain.payment_tx).hex()))[
        "code"
    ] == -5, "a transaction of others is not the wallet's"


async def test_listsinceblock(rpc: RpcHttp, node: MemoryNode, chain: ChainFacts) -> None:
    txid = await _pay(rpc, node, "1")
    everything = await rpc.call("listsinceblock")
    assert [e["txid"] for e in everything["transactions"]] == [
        _allocation_txid(node, chain),
        txid,
    ]
    assert everything["removed"] == []
    assert everything["lastblock"] == chain.block1_hash.hex()
    since = await rpc.call("listsinceblock", chain.genesis_hash.hex())
    assert [e["txid"] for e in since["transactions"]] == [txid]
    deeper = await rpc.call("listsinceblock", chain.genesis_hash.hex(), 2)
    assert deeper["lastblock"] == chain.genesis_hash.hex()
    assert (await rpc.error("listsinceblock", "00" * 32))["code"] == -5
    assert (await rpc.error("listsinceblock", "zz"))["code"] == -5
    assert (await rpc.error("listsinceblock", "", 0))["code"] == -8


async def test_getreceivedbyaddress(rpc: RpcHttp, node: MemoryNode, chain: ChainFacts) -> None:
    mine = _addr(node, chain.wallet_address)
    assert await rpc.call("getreceivedbyaddress", mine) == ALLOCATION
    assert await rpc.call("getreceivedbyaddress", mine, 3) == 0
    fresh = await rpc.call("getnewaddress")
    assert await rpc.call("getreceivedbyaddress", fresh, 0) == 0
    error = await rpc.error("getreceivedbyaddress", _addr(node, address_of(PAYER)))
    assert error == {"code": -4, "message": "Address not found in wallet"}
    assert (await rpc.error("getreceivedbyaddress", "nope"))["code"] == -5


async def test_getwalletinfo(rpc: RpcHttp, node: MemoryNode, chain: ChainFacts) -> None:
    info = await rpc.call("getwalletinfo")
    for field in (
        "walletname",
        "walletversion",
        "format",
        "balance",
        "unconfirmed_balance",
        "immature_balance",
        "txcount",
        "keypoolsize",
        "paytxfee",
        "private_keys_enabled",
        "avoid_reuse",
        "scanning",
        "descriptors",
    ):
        assert field in info, field
    assert info["walletname"] == "wallet.json"
    assert info["balance"] == ALLOCATION and info["txcount"] == 1
    assert info["keypoolsize"] > 0 and info["private_keys_enabled"] is True
    assert info["lastprocessedblock"] == {"hash": chain.block1_hash.hex(), "height": 1}
    await _pay(rpc, node, "1")
    info = await rpc.call("getwalletinfo")
    assert info["txcount"] == 2 and len(info["pendingtxids"]) == 1


async def test_raw_transaction_round_trip(rpc: RpcHttp, node: MemoryNode) -> None:
    payee = _addr(node, address_of(PAYEE))
    other = _addr(node, address_of(PAYER))
    raw = await rpc.call("createrawtransaction", [], {payee: 3, other: "1.5"})
    decoded = await rpc.call("decoderawtransaction", raw)
    assert decoded["vin"] == [] and [o["value"] for o in decoded["vout"]] == [3, Decimal("1.5")]

    funded = await rpc.call("fundrawtransaction", raw, {"feeRate": "0.001"})
    assert funded["changepos"] == 2
    unsigned = decode(bytes.fromhex(funded["hex"]), Transaction, 1 << 20)
    assert len(unsigned.inputs) == 1
    change = unsigned.outputs[2].amount
    fee_units = int(funded["fee"] * COIN)
    assert 450_000_000 + change + fee_units == WALLET_ALLOCATION

    signed = await rpc.call("signrawtransactionwithwallet", funded["hex"])
    assert signed["complete"] is True and "errors" not in signed
    tx = decode(bytes.fromhex(signed["hex"]), Transaction, 1 << 20)
    assert fee_units >= COIN // 1000 * compute_tx_size(tx) // 1000, "feeRate is honoured"
    txid = await rpc.call("sendrawtransaction", signed["hex"])
    entry = await rpc.call("getmempoolentry", txid)
    assert entry["fees"]["base"] == funded["fee"] and entry["size"] == compute_tx_size(tx)
    assert (await rpc.call("gettransaction", txid))["amount"] == Decimal("-4.5")


async def test_raw_transaction_errors(rpc: RpcHttp, node: MemoryNode, chain: ChainFacts) -> None:
    payee = _addr(node, address_of(PAYEE))
    txid = "11" * 32
    cases = [
        ([{"txid": txid}], {payee: 1}, -8),
        ([{"txid": txid, "vout": -1}], {payee: 1}, -8),
        ([{"txid": "11", "vout": 0}], {payee: 1}, -8),
        ([], {"data": "00"}, -8),
        ([], [{payee: 1}, {payee: 2}], -8),
        ([], {"notanaddress": 1}, -5),
        ([], {payee: 0}, -3),
        ([], {}, -8),
        ("x", {payee: 1}, -3),
    ]
    for inputs, outputs, code in cases:
        assert (await rpc.error("createrawtransaction", inputs, outputs))["code"] == code, (
            inputs,
            outputs,
        )
    with_input = await rpc.call(
        "createrawtransaction", [{"txid": chain.payer_change.txid.hex(), "vout": 1}], {payee: 1}
    )
    assert (await rpc.error("fundrawtransaction", with_input))["code"] == -8
    outcome = await rpc.call("signrawtransactionwithwallet", with_input)
    assert outcome["complete"] is False
    (error,) = outcome["errors"]
    assert (error["txid"], error["vout"]) == (chain.payer_change.txid.hex(), 1)
    assert error["error"] == "Input not found or already spent"
    assert (await rpc.error("fundrawtransaction", "zz"))["code"] == -22
    assert (await rpc.error("signrawtransactionwithwallet", with_input, [], "NONE"))["code"] == -8
    assert (await rpc.error("getmempoolentry", txid))["code"] == -5


async def test_abandontransaction(rpc: RpcHttp, node: MemoryNode) -> None:
    payee = _addr(node, address_of(PAYEE))
    raw = await rpc.call("createrawtransaction", [], {payee: 5})
    funded = await rpc.call("fundrawtransaction", raw)
    signed = await rpc.call("signrawtransactionwithwallet", funded["hex"])
    txid = compute_txid(decode(bytes.fromhex(signed["hex"]), Transaction, 1 << 20)).hex()
    assert await rpc.call("getbalance") == 0, "a signed transaction keeps its coins"
    assert await rpc.call("abandontransaction", txid) is None
    assert await rpc.call("getbalance") == ALLOCATION
    error = await rpc.error("abandontransaction", txid)
    assert error == {"code": -5, "message": "Invalid or non-wallet transaction id"}

    sent = await _pay(rpc, node, "1")
    error = await rpc.error("abandontransaction", sent)
    assert error == {"code": -5, "message": "Transaction not eligible for abandonment"}


async def test_backupwallet(rpc: RpcHttp, tmp_path: Path) -> None:
    target = tmp_path / "backup" / "wallet-copy.json"
    target.parent.mkdir()
    assert await rpc.call("backupwallet", str(target)) is None
    assert target.is_file() and (target.parent / "wallet-copy.json.journal").is_file()
    error = await rpc.error("backupwallet", str(target))
    assert error["code"] == -4 and error["message"].startswith("Error: Wallet backup failed!")


async def test_sendtoaddress_fee_rate(rpc: RpcHttp, node: MemoryNode) -> None:
    payee = _addr(node, address_of(PAYEE))
    reply = await rpc.post(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "sendtoaddress",
            "params": {"address": payee, "amount": 1, "fee_rate": 250},
        }
    )
    txid = reply.json["result"]
    tx = node.mempool[bytes.fromhex(txid)].tx
    fee_units = WALLET_ALLOCATION - sum(out.amount for out in tx.outputs)
    assert fee_units >= 250 * compute_tx_size(tx)
    for bad, code in (("-1", -8), ("0.0001", -8), (True, -3)):
        reply = await rpc.post(
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "sendtoaddress",
                "params": {"address": payee, "amount": 1, "fee_rate": bad},
            }
        )
        assert reply.json["error"]["code"] == code, bad


async def test_estimatesmartfee_getchaintips(
    rpc: RpcHttp, node: MemoryNode, chain: ChainFacts
) -> None:
    estimate = await rpc.call("estimatesmartfee", 6)
    assert estimate == {"feerate": Decimal(node.params.min_fee_per_kb) / COIN, "blocks": 6}
    assert (await rpc.error("estimatesmartfee", 0))["code"] == -8
    assert (await rpc.error("estimatesmartfee", 1009))["code"] == -8
    assert (await rpc.error("estimatesmartfee", 2, "fast"))["code"] == -8
    assert await rpc.call("estimatesmartfee", 2, "CONSERVATIVE") == {
        "feerate": Decimal(node.params.min_fee_per_kb) / COIN,
        "blocks": 2,
    }
    assert await rpc.call("getchaintips") == [
        {"height": 1, "hash": chain.block1_hash.hex(), "branchlen": 0, "status": "active"}
    ]


def test_smart_fee_outbids_the_cheapest_evictable_once_the_pool_is_full() -> None:
    def entry(n: int, fee: int, size: int, final: bool = False) -> MempoolEntry:
        return MempoolEntry(bytes([n]) * 32, size, fee, 0, 1, (), final)

    pool = [entry(1, 50_000, 1_000), entry(2, 20_000, 1_000), entry(3, 900, 1_000, final=True)]
    assert compute_smart_fee_per_kb(pool, 1_000, 890, 1_000) == 1_000, "room left: the minimum"
    assert compute_smart_fee_per_kb(pool, 1_000, 900, 1_000) == 20_001, "full: outbid the cheapest"
    assert compute_smart_fee_per_kb(pool, 30_000, 950, 1_000) == 30_000, "never below admission"
    finals = [entry(4, 500, 1_000, final=True)]
    assert compute_smart_fee_per_kb(finals, 1_000, 1_000, 1_000) == 1_000, "final ones stay"


async def test_sendmany_pays_every_address_in_one_transaction(
    rpc: RpcHttp, node: MemoryNode
) -> None:
    payee, other = _addr(node, address_of(PAYEE)), _addr(node, address_of(PAYER))
    txid = await rpc.call("sendmany", "", {payee: 2, other: "0.5"})
    tx = node.mempool[bytes.fromhex(txid)].tx
    assert [(o.address, o.amount) for o in tx.outputs[:2]] == [
        (address_of(PAYEE), 2 * COIN),
        (address_of(PAYER), COIN // 2),
    ]
    sent = await rpc.call("gettransaction", txid)
    assert sent["amount"] == Decimal("-2.5") and len(sent["details"]) == 2
    assert (await rpc.error("sendmany", "x", {payee: 1}))["code"] == -8
    assert (await rpc.error("sendmany", "", {}))["code"] == -8
    assert (await rpc.error("sendmany", "", {payee: 1}, 0, "", [payee]))["code"] == -8
    assert (await rpc.error("sendmany", "", {payee: 10_000}))["code"] == -6
    assert (await rpc.error("sendmany", "", [{payee: 1}]))["code"] == -3


async def test_sendmany_verbose_and_fee_rate(rpc: RpcHttp, node: MemoryNode) -> None:
    payee = _addr(node, address_of(PAYEE))
    verbose = await rpc.call("sendmany", "", {payee: 1}, 0, "", [], False, None, "unset", 200, True)
    assert set(verbose) == {"txid", "fee_reason"}
    tx = node.mempool[bytes.fromhex(verbose["txid"])].tx
    fee_units = WALLET_ALLOCATION - sum(out.amount for out in tx.outputs)
    assert fee_units >= 200 * compute_tx_size(tx)


async def test_getbalances_getaddressinfo_listreceivedbyaddress(
    rpc: RpcHttp, node: MemoryNode, chain: ChainFacts
) -> None:
    balances = await rpc.call("getbalances")
    assert balances["mine"]["trusted"] == ALLOCATION
    assert balances["mine"]["untrusted_pending"] == 0 and balances["mine"]["immature"] == 0
    assert balances["lastprocessedblock"]["height"] == 1
    mine = _addr(node, chain.wallet_address)
    info = await rpc.call("getaddressinfo", mine)
    assert info["ismine"] is True and info["scriptPubKey"] == chain.wallet_address.hex()
    assert (await rpc.call("getaddressinfo", _addr(node, address_of(PAYER))))["ismine"] is False
    assert (await rpc.error("getaddressinfo", "nope"))["code"] == -5
    received = await rpc.call("listreceivedbyaddress")
    assert received == [
        {
            "address": mine,
            "amount": ALLOCATION,
            "confirmations": 2,
            "label": "",
            "txids": [_allocation_txid(node, chain)],
        }
    ]
    fresh = await rpc.call("getnewaddress")
    keys = (await rpc.call("getwalletinfo"))["keycount"]
    assert len(await rpc.call("listreceivedbyaddress", 1, True)) == keys
    assert await rpc.call("listreceivedbyaddress", 3) == []
    assert [
        r["address"] for r in await rpc.call("listreceivedbyaddress", 0, True, False, fresh)
    ] == [fresh]

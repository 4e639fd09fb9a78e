"""Every RPC method against the in-memory node: result shapes and error codes."""

from __future__ import annotations

import re
from decimal import Decimal

from rpc_helpers import (
    BLOCK1_TIME_MS,
    FEE,
    OPERATORS,
    PAYEE,
    PAYER,
    PAYER_ALLOCATION,
    PAYMENT,
    SUBSIDY,
    WALLET_ALLOCATION,
    ChainFacts,
    MemoryNode,
    RpcHttp,
    address_of,
    sign_tx,
)

from timecoin.crypto import encode_address
from timecoin.encoding import encode
from timecoin.params import COIN
from timecoin.rpc.jsonshape import compute_median_time_ms
from timecoin.types import OutPoint, Transaction, compute_txid, compute_witness_hash

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _addr(node: MemoryNode, address: bytes) -> str:
    return encode_address(node.params.address_hrp, address)


def _units(amount: Decimal) -> int:
    return int(amount * COIN)


# ---------------------------------------------------------------- blockchain


async def test_getblockchaininfo(rpc: RpcHttp, node: MemoryNode, chain: ChainFacts) -> None:
    info = await rpc.call("getblockchaininfo")
    assert info["chain"] == "minimal"
    assert info["blocks"] == 1
    assert info["headers"] == 1
    assert info["bestblockhash"] == chain.block1_hash.hex()
    assert info["time"] == BLOCK1_TIME_MS // 1000
    assert info["time_ms"] == BLOCK1_TIME_MS
    assert info["mediantime"] == BLOCK1_TIME_MS // 1000
    assert info["verificationprogress"] == 1
    assert info["initialblockdownload"] is False
    assert info["size_on_disk"] == 12_345
    assert info["pruned"] is False
    assert info["chainid"] == node.params.chain_id
    assert info["warnings"] == []


async def test_getblockcount_getbestblockhash_getblockhash(rpc: RpcHttp, chain: ChainFacts) -> None:
    assert await rpc.call("getblockcount") == 1
    assert await rpc.call("getbestblockhash") == chain.block1_hash.hex()
    assert await rpc.call("getblockhash", 0) == chain.genesis_hash.hex()
    assert await rpc.call("getblockhash", 1) == chain.block1_hash.hex()
    for height in (2, -1):
        assert await rpc.error("getblockhash", height) == {
            "code": -8,
            "message": "Block height out of range",
        }


async def test_getblock_verbosity_0_is_the_encoded_block(
    rpc: RpcHttp, node: MemoryNode, chain: ChainFacts
) -> None:
    raw = await rpc.call("getblock", chain.block1_hash.hex(), 0)
    assert bytes.fromhex(raw) == encode(node.blocks[chain.block1_hash])
    assert await rpc.call("getblock", chain.block1_hash.hex(), False) == raw


async def test_getblock_verbosity_1_lists_txids(
    rpc: RpcHttp, node: MemoryNode, chain: ChainFacts
) -> None:
    block = node.blocks[chain.block1_hash]
    result = await rpc.call("getblock", chain.block1_hash.hex())
    assert result == await rpc.call("getblock", chain.block1_hash.hex(), 1)
    assert result["hash"] == chain.block1_hash.hex()
    assert result["confirmations"] == 1
    assert result["height"] == 1
    assert result["version"] == 1 and result["versionHex"] == "00000001"
    assert result["merkleroot"] == block.header.tx_root.hex()
    assert result["previousblockhash"] == chain.genesis_hash.hex()
    assert "nextblockhash" not in result
    assert result["size"] == len(encode(block))
    assert result["nTx"] == 2
    assert result["tx"] == [
        compute_txid(chain.coinbase_tx).hex(),
        compute_txid(chain.payment_tx).hex(),
    ]
    assert result["proposer"] == OPERATORS[0].public_key.hex()
    assert result["utxocommitment"] == node.utxo_commitment.hex()
    assert result["prevcertificate"] is None
    assert result["evidencecount"] == 0 and result["attestationcount"] == 0
    assert result["time"] == BLOCK1_TIME_MS // 1000 and result["time_ms"] == BLOCK1_TIME_MS

    genesis = await rpc.call("getblock", chain.genesis_hash.hex(), 1)
    assert genesis["confirmations"] == 2
    assert "previousblockhash" not in genesis
    assert genesis["nextblockhash"] == chain.block1_hash.hex()
    assert genesis["nTx"] == 3  # allocations and two registrations


async def test_getblock_verbosity_2_decodes_transactions(
    rpc: RpcHttp, node: MemoryNode, chain: ChainFacts
) -> None:
    result = await rpc.call("getblock", chain.block1_hash.hex(), 2)
    coinbase, payment = result["tx"]
    assert coinbase["txid"] == compute_txid(chain.coinbase_tx).hex()
    assert coinbase["vin"] == []
    assert coinbase["locktime"] == 1
    assert coinbase["vout"][0]["value"] == Decimal(SUBSIDY + FEE) / COIN
    assert payment["txid"] == compute_txid(chain.payment_tx).hex()
    assert payment["hash"] == compute_witness_hash(chain.payment_tx).hex()
    assert payment["vin"][0]["publickey"] == PAYER.public_key.hex()
    assert len(payment["vin"][0]["signature"]) == 128
    assert payment["vout"][0] == {
        "value": Decimal(600),
        "n": 0,
        "scriptPubKey": {
            "address": _addr(node, address_of(PAYEE)),
            "hex": address_of(PAYEE).hex(),
            "type": "ed25519_keyhash",
        },
    }
    genesis = await rpc.call("getblock", chain.genesis_hash.hex(), 2)
    registration = genesis["tx"][1]["payload"]
    assert registration["type"] == "masternode_registration"
    assert registration["tier"] == "bronze"
    assert registration["collateralindex"] == 0
    assert registration["networkaddress"] == "127.0.0.1:24300"


async def test_amounts_are_numbers_with_8_decimals(rpc: RpcHttp, chain: ChainFacts) -> None:
    reply = await rpc.post(
        {"jsonrpc": "2.0", "id": 1, "method": "getblock", "params": [chain.block1_hash.hex(), 2]}
    )
    assert b'"value":600.00000000' in reply.body
    assert b'"value":100.00010000' in reply.body


async def test_getblock_errors(rpc: RpcHttp) -> None:
    assert await rpc.error("getblock", "00" * 32) == {"code": -5, "message": "Block not found"}
    short = await rpc.error("getblock", "abc")
    assert short == {"code": -8, "message": "blockhash must be of length 64 (not 3, for 'abc')"}
    not_hex = await rpc.error("getblock", "zz" * 32)
    assert not_hex["code"] == -8 and "must be hexadecimal string" in not_hex["message"]
    bad_verbosity = await rpc.error("getblock", "00" * 32, 3)
    assert bad_verbosity["code"] == -8


async def test_getblockheader(rpc: RpcHttp, node: MemoryNode, chain: ChainFacts) -> None:
    header = await rpc.call("getblockheader", chain.genesis_hash.hex())
    assert header["hash"] == chain.genesis_hash.hex()
    assert header["height"] == 0
    assert header["confirmations"] == 2
    assert header["nextblockhash"] == chain.block1_hash.hex()
    assert "tx" not in header
    raw = await rpc.call("getblockheader", chain.block1_hash.hex(), False)
    assert bytes.fromhex(raw) == encode(node.blocks[chain.block1_hash].header)
    assert (await rpc.error("getblockheader", "11" * 32))["code"] == -5


def test_median_time() -> None:
    assert compute_median_time_ms([]) == 0
    assert compute_median_time_ms([5]) == 5
    assert compute_median_time_ms([1, 9]) == 9
    assert compute_median_time_ms([3, 1, 2]) == 2


# ---------------------------------------------------------------- transactions


async def test_getrawtransaction(rpc: RpcHttp, node: MemoryNode, chain: ChainFacts) -> None:
    txid = compute_txid(chain.payment_tx).hex()
    raw = await rpc.call("getrawtransaction", txid)
    assert bytes.fromhex(raw) == encode(chain.payment_tx)
    verbose = await rpc.call("getrawtransaction", txid, True)
    assert verbose == await rpc.call("getrawtransaction", txid, 1)
    assert verbose["txid"] == txid
    assert verbose["hex"] == raw
    assert verbose["blockhash"] == chain.block1_hash.hex()
    assert verbose["confirmations"] == 1
    assert verbose["blocktime"] == BLOCK1_TIME_MS // 1000
    assert verbose["final"] is True
    in_block = await rpc.call("getrawtransaction", txid, True, chain.block1_hash.hex())
    assert in_block["in_active_chain"] is True
    assert await rpc.error("getrawtransaction", "22" * 32) == {
        "code": -5,
        "message": "No such mempool or blockchain transaction",
    }
    wrong_block = await rpc.error("getrawtransaction", txid, False, chain.genesis_hash.hex())
    assert wrong_block["code"] == -5
    no_block = await rpc.error("getrawtransaction", txid, False, "33" * 32)
    assert no_block == {"code": -5, "message": "Block hash not found"}


async def test_decoderawtransaction(rpc: RpcHttp, chain: ChainFacts) -> None:
    decoded = await rpc.call("decoderawtransaction", encode(chain.payment_tx).hex())
    assert decoded["txid"] == compute_txid(chain.payment_tx).hex()
    assert decoded["size"] == decoded["vsize"] == len(encode(chain.payment_tx))
    assert decoded["version"] == 1
    assert [out["n"] for out in decoded["vout"]] == [0, 1]
    assert "payload" not in decoded
    for bad in ("zz", "abc", "00", encode(chain.payment_tx).hex() + "00"):
        error = await rpc.error("decoderawtransaction", bad)
        assert error["code"] == -22
        assert error["message"].startswith("TX decode failed")


def _spend_change(node: MemoryNode, chain: ChainFacts, fee: int = FEE) -> Transaction:
    change = PAYER_ALLOCATION - PAYMENT - FEE
    return sign_tx(
        [(chain.payer_change, PAYER)],
        [(100 * COIN, address_of(PAYEE)), (change - 100 * COIN - fee, address_of(PAYER))],
        node.params,
    )


async def test_sendrawtransaction_and_mempool(
    rpc: RpcHttp, node: MemoryNode, chain: ChainFacts
) -> None:
    tx = _spend_change(node, chain)
    txid = compute_txid(tx).hex()
    assert await rpc.call("sendrawtransaction", encode(tx).hex()) == txid
    assert await rpc.call("sendrawtransaction", encode(tx).hex()) == txid  # idempotent
    assert await rpc.call("getrawmempool") == [txid]
    verbose = await rpc.call("getrawmempool", True)
    assert verbose[txid]["fees"]["base"] == Decimal(FEE) / COIN
    assert verbose[txid]["size"] == len(encode(tx))
    assert verbose[txid]["depends"] == []
    assert verbose[txid]["final"] is False
    info = await rpc.call("getmempoolinfo")
    assert info["loaded"] is True
    assert info["size"] == 1
    assert info["bytes"] == len(encode(tx))
    assert info["total_fee"] == Decimal(FEE) / COIN
    assert info["minrelaytxfee"] == Decimal(node.params.min_fee_per_kb) / COIN
    pooled = await rpc.call("getrawtransaction", txid, True)
    assert pooled["final"] is False and "blockhash" not in pooled
    # The spent coin is gone when the mempool counts, present otherwise.
    outpoint = [chain.payer_change.txid.hex(), chain.payer_change.index]
    assert await rpc.call("gettxout", *outpoint) is None
    assert (await rpc.call("gettxout", *outpoint, False))["confirmations"] == 1
    unconfirmed = await rpc.call("gettxout", txid, 0)
    assert unconfirmed["confirmations"] == 0
    assert unconfirmed["value"] == Decimal(100)


async def test_sendrawtransaction_malformed_hex(rpc: RpcHttp) -> None:
    for bad in ("xyz", "0", "deadbeef"):
        error = await rpc.error("sendrawtransaction", bad)
        assert error["code"] == -22, error


async def test_sendrawtransaction_rejected_with_reject_code(
    rpc: RpcHttp, node: MemoryNode, chain: ChainFacts
) -> None:
    tx = _spend_change(node, chain)
    forged = Transaction(
        version=tx.version,
        inputs=tx.inputs,
        outputs=tx.outputs,
        lock_time=tx.lock_time,
        payload=None,
        signatures=[bytes(64)],
        owner_signature=None,
    )
    error = await rpc.error("sendrawtransaction", encode(forged).hex())
    assert error["code"] == -26
    assert error["message"].startswith("bad-signature")
    low_fee = _spend_change(node, chain, fee=1)
    error = await rpc.error("sendrawtransaction", encode(low_fee).hex())
    assert error["code"] == -26 and error["message"].startswith("fee-too-low")


async def test_sendrawtransaction_missing_input_conflict_and_in_chain(
    rpc: RpcHttp, node: MemoryNode, chain: ChainFacts
) -> None:
    missing = sign_tx(
        [(OutPoint(b"\x44" * 32, 0), PAYER)], [(COIN, address_of(PAYEE))], node.params
    )
    error = await rpc.error("sendrawtransaction", encode(missing).hex())
    assert error["code"] == -25 and error["message"].startswith("missing-input")
    first = _spend_change(node, chain)
    await rpc.call("sendrawtransaction", encode(first).hex())
    conflict = _spend_change(node, chain, fee=2 * FEE)
    error = await rpc.error("sendrawtransaction", encode(conflict).hex())
    assert error["code"] == -26 and error["message"].startswith("mempool-conflict")
    error = await rpc.error("sendrawtransaction", encode(chain.payment_tx).hex())
    assert error["code"] == -27


async def test_sendrawtransaction_maxfeerate(
    rpc: RpcHttp, node: MemoryNode, chain: ChainFacts
) -> None:
    greedy = _spend_change(node, chain, fee=COIN)  # 1 TIME on a few hundred bytes
    error = await rpc.error("sendrawtransaction", encode(greedy).hex())
    assert error["code"] == -25
    assert "max-fee-exceeded" in error["message"]
    error = await rpc.error("sendrawtransaction", encode(greedy).hex(), "abc")
    assert error["code"] == -3
    txid = await rpc.call("sendrawtransaction", encode(greedy).hex(), 0)
    assert txid == compute_txid(greedy).hex()


async def test_gettxout(rpc: RpcHttp, node: MemoryNode, chain: ChainFacts) -> None:
    result = await rpc.call("gettxout", chain.payer_change.txid.hex(), 1)
    assert result == {
        "bestblock": chain.block1_hash.hex(),
        "confirmations": 1,
        "value": Decimal(PAYER_ALLOCATION - PAYMENT - FEE) / COIN,
        "scriptPubKey": {
            "address": _addr(node, address_of(PAYER)),
            "hex": address_of(PAYER).hex(),
            "type": "ed25519_keyhash",
        },
    }
    assert await rpc.call("gettxout", chain.payer_change.txid.hex(), 5) is None
    spent_allocation = compute_txid(node.blocks[chain.genesis_hash].transactions[0]).hex()
    assert await rpc.call("gettxout", spent_allocation, 0) is None
    assert (await rpc.call("gettxout", spent_allocation, 1))["confirmations"] == 2
    assert (await rpc.error("gettxout", spent_allocation, -1))["code"] == -8


async def test_gettxoutsetinfo(rpc: RpcHttp, node: MemoryNode, chain: ChainFacts) -> None:
    info = await rpc.call("gettxoutsetinfo")
    assert info["height"] == 1
    assert info["bestblock"] == chain.block1_hash.hex()
    assert info["txouts"] == len(node.utxo)
    total = sum(coin.amount for coin in node.utxo.coins.values())
    assert _units(info["total_amount"]) == total
    assert info["muhash"] == node.utxo.commitment().hex() == node.utxo_commitment.hex()
    assert "muhash" not in await rpc.call("gettxoutsetinfo", "none")
    error = await rpc.error("gettxoutsetinfo", "hash_serialized_3")
    assert error == {"code": -8, "message": "'hash_serialized_3' is not a valid hash_type"}


async def test_getmempoolinfo_and_getrawmempool_empty(rpc: RpcHttp) -> None:
    info = await rpc.call("getmempoolinfo")
    assert set(info) >= {"loaded", "size", "bytes", "usage", "total_fee", "maxmempool"}
    assert info["size"] == 0
    assert await rpc.call("getrawmempool") == []
    assert await rpc.call("getrawmempool", True) == {}


# ---------------------------------------------------------------- network


async def test_getnetworkinfo_getpeerinfo_getconnectioncount(
    rpc: RpcHttp, node: MemoryNode
) -> None:
    info = await rpc.call("getnetworkinfo")
    assert info["version"] == 100
    assert info["subversion"] == "/TimeCoin:0.1.0/"
    assert info["connections"] == 1
    assert info["connections_in"] == 1 and info["connections_out"] == 0
    assert info["networkactive"] is True
    assert info["relayfee"] == Decimal(node.params.min_fee_per_kb) / COIN
    assert info["localaddresses"] == [
        {"address": "127.0.0.1", "port": node.params.default_p2p_port}
    ]
    peers = await rpc.call("getpeerinfo")
    assert len(peers) == 1
    peer = peers[0]
    assert peer["id"] == 7
    assert peer["addr"] == "127.0.0.1:50123"
    assert peer["inbound"] is True
    assert peer["pingtime"] == Decimal("0.0015")
    assert peer["synced_blocks"] == 1
    assert peer["nodekey"] == OPERATORS[1].public_key.hex()
    assert HEX64.match(peer["masternodeid"])
    assert await rpc.call("getconnectioncount") == 1


async def test_addnode(rpc: RpcHttp, node: MemoryNode) -> None:
    assert await rpc.call("addnode", "10.0.0.1:24300", "add") is None
    assert node.added_nodes == {"10.0.0.1:24300"}
    assert (await rpc.error("addnode", "10.0.0.1:24300", "add"))["code"] == -23
    assert await rpc.call("addnode", "10.0.0.1:24300", "remove") is None
    assert (await rpc.error("addnode", "10.0.0.1:24300", "remove"))["code"] == -24
    assert await rpc.call("addnode", "10.0.0.2:24300", "onetry") is None
    assert (await rpc.error("addnode", "10.0.0.1:24300", "bogus"))["code"] == -8
    assert (await rpc.error("addnode", "nonsense", "add"))["code"] == -8


# ---------------------------------------------------------------- consensus and masternodes


async def test_getconsensusinfo(rpc: RpcHttp, node: MemoryNode) -> None:
    info = await rpc.call("getconsensusinfo")
    assert info["height"] == 2
    assert info["round"] == 0
    assert info["step"] == "prevote"
    assert info["lockedround"] == -1 and info["validround"] == -1
    assert info["proposer"] == OPERATORS[0].public_key.hex()
    assert info["isvoter"] is True
    voting_set = info["votingset"]
    assert voting_set["totalweight"] == 2
    assert voting_set["quorumweight"] == 2
    assert voting_set["hash"] == node.registry.voting_set.compute_hash().hex()
    assert {v["operatorkey"] for v in voting_set["voters"]} == {
        k.public_key.hex() for k in OPERATORS
    }


async def test_masternodelist(rpc: RpcHttp, node: MemoryNode) -> None:
    entries = await rpc.call("masternodelist")
    assert len(entries) == 2
    first = entries[0]
    assert first["masternodeid"] == node.registry.entries[0].masternode_id.hex()
    assert first["status"] == "enabled"
    assert first["tier"] == "bronze"
    assert first["votingweight"] == 1
    assert first["invotingset"] is True and first["committeeweight"] == 1
    assert first["collateral"] == f"{first['masternodeid']}:0"
    assert first["registeredheight"] == 0
    assert first["bannedfromepoch"] is None
    filtered = await rpc.call("masternodelist", "127.0.0.2")
    assert [e["networkaddress"] for e in filtered] == ["127.0.0.2:24300"]
    assert await rpc.call("masternodelist", "nothing-matches") == []


async def test_masternodestatus(rpc: RpcHttp, node: MemoryNode) -> None:
    status = await rpc.call("masternodestatus")
    assert status["operatorkey"] == OPERATORS[0].public_key.hex()
    assert status["status"] == "enabled"
    assert status["lastheartbeat_ms"] == BLOCK1_TIME_MS
    assert status["lastheartbeat"] == BLOCK1_TIME_MS // 1000
    assert HEX64.match(status["masternodeid"])


# ---------------------------------------------------------------- wallet


async def test_getnewaddress_and_validateaddress(rpc: RpcHttp, node: MemoryNode) -> None:
    address = await rpc.call("getnewaddress")
    assert address.startswith(node.params.address_hrp + "1")
    assert await rpc.call("getnewaddress", "label") != address
    valid = await rpc.call("validateaddress", address)
    assert valid["isvalid"] is True
    assert valid["address"] == address
    assert len(valid["scriptPubKey"]) == 40
    invalid = await rpc.call("validateaddress", address[:-1] + ("q" if address[-1] != "q" else "p"))
    assert invalid["isvalid"] is False and "checksum" in invalid["error"]
    other_net = await rpc.call("validateaddress", encode_address("time", bytes(20)))
    assert other_net["isvalid"] is False and "network" in other_net["error"]


async def test_getbalance_listunspent(rpc: RpcHttp, node: MemoryNode, chain: ChainFacts) -> None:
    assert await rpc.call("getbalance") == Decimal(WALLET_ALLOCATION) / COIN
    assert await rpc.call("getbalance", "*", 2) == Decimal(WALLET_ALLOCATION) / COIN
    assert await rpc.call("getbalance", "*", 3) == 0
    assert (await rpc.error("getbalance", "x"))["code"] == -8
    coins = await rpc.call("listunspent")
    assert len(coins) == 1
    coin = coins[0]
    assert coin["txid"] == compute_txid(node.blocks[chain.genesis_hash].transactions[0]).hex()
    assert coin["vout"] == 1
    assert coin["address"] == _addr(node, chain.wallet_address)
    assert coin["amount"] == Decimal(WALLET_ALLOCATION) / COIN
    assert coin["confirmations"] == 2
    assert coin["spendable"] is True
    assert await rpc.call("listunspent", 3) == []
    other = _addr(node, address_of(PAYEE))
    assert await rpc.call("listunspent", 0, 10, [other]) == []
    assert len(await rpc.call("listunspent", 0, 10, [coin["address"]])) == 1
    assert (await rpc.error("listunspent", 0, 10, ["nope"]))["code"] == -5
    assert (await rpc.error("listunspent", 0, 10, [other, other]))["code"] == -8


async def test_sendtoaddress(rpc: RpcHttp, node: MemoryNode) -> None:
    recipient = _addr(node, address_of(PAYEE))
    txid = await rpc.call("sendtoaddress", recipient, Decimal("12.5"))
    pooled = await rpc.call("getrawtransaction", txid, True)
    assert pooled["vout"][0]["value"] == Decimal("12.5")
    assert pooled["vout"][0]["scriptPubKey"]["address"] == recipient
    assert await rpc.call("getrawmempool") == [txid]
    # The only coin is now spent by the pending payment.
    assert await rpc.call("getbalance") == 0
    assert await rpc.call("listunspent") == []
    error = await rpc.error("sendtoaddress", recipient, 1)
    assert error["code"] == -6 and error["message"].startswith("Insufficient funds")


async def test_sendtoaddress_bad_input(rpc: RpcHttp, node: MemoryNode) -> None:
    recipient = _addr(node, address_of(PAYEE))
    error = await rpc.error("sendtoaddress", "notanaddress", 1)
    assert error["code"] == -5 and error["message"].startswith("Invalid TimeCoin address")
    for amount in (0, -1, "0.000000001", "abc", Decimal("0.000000001")):
        assert (await rpc.error("sendtoaddress", recipient, amount))["code"] == -3
    error = await rpc.error("sendtoaddress", recipient, 10_000)
    assert error["code"] == -6
    assert (await rpc.call("sendtoaddress", recipient, "0.5")) is not None


async def test_wallet_methods_without_a_wallet(rpc: RpcHttp, node: MemoryNode) -> None:
    assert node.wallet is not None
    node.wallet.close()
    node.wallet = None
    for method in ("getnewaddress", "getbalance", "listunspent"):
        assert (await rpc.error(method))["code"] == -18


# ---------------------------------------------------------------- control


async def test_uptime_stop_help(rpc: RpcHttp, node: MemoryNode) -> None:
    assert await rpc.call("uptime") >= 0
    text = await rpc.call("help")
    assert "== Blockchain ==" in text and 'getblock "blockhash" ( verbosity )' in text
    one = await rpc.call("help", "sendtoaddress")
    assert one.startswith('sendtoaddress "address" amount ( wait "comment" ')
    assert "fee_rate )\n\nPay" in one
    assert (await rpc.error("help", "nosuch"))["code"] == -1
    assert await rpc.call("stop") == "TimeCoin server stopping"
    assert node.stop_requested


async def test_every_listed_method_exists(rpc: RpcHttp) -> None:
    listed = (
        "getblockchaininfo",
        "getblockcount",
        "getbestblockhash",
        "getblockhash",
        "getblock",
        "getblockheader",
        "getrawtransaction",
        "decoderawtransaction",
        "sendrawtransaction",
        "gettxout",
        "gettxoutsetinfo",
        "getmempoolinfo",
        "getrawmempool",
        "getnetworkinfo",
        "getpeerinfo",
        "getconnectioncount",
        "addnode",
        "getconsensusinfo",
        "masternodelist",
        "masternodestatus",
        "getnewaddress",
        "getbalance",
        "listunspent",
        "sendtoaddress",
        "validateaddress",
        "uptime",
        "stop",
    )
    text = await rpc.call("help")
    for name in listed:
        assert re.search(rf"^{name}\b", text, re.MULTILINE), name

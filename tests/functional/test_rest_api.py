"""The REST API on a running testnet: Esplora's paths and documented fields,
the numbers in them against the node's RPC, merkle proofs, and bad input."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from decimal import Decimal
from typing import Any

from functional_framework import Testnet, wait_until

from timecoin.crypto import MerkleProof, verify_merkle_proof

# Esplora's API.md: the fields of each object it documents.
ESPLORA_BLOCK = {
    "id",
    "height",
    "version",
    "timestamp",
    "bits",
    "nonce",
    "difficulty",
    "merkle_root",
    "tx_count",
    "size",
    "weight",
    "previousblockhash",
}
ESPLORA_TX = {"txid", "version", "locktime", "size", "weight", "fee", "vin", "vout", "status"}
ESPLORA_VIN = {
    "txid",
    "vout",
    "is_coinbase",
    "scriptsig",
    "scriptsig_asm",
    "sequence",
    "witness",
    "prevout",
}
ESPLORA_VOUT = {
    "scriptpubkey",
    "scriptpubkey_asm",
    "scriptpubkey_type",
    "scriptpubkey_address",
    "value",
}
ESPLORA_STATUS_CONFIRMED = {"confirmed", "block_height", "block_hash", "block_time"}
ESPLORA_STATS = {
    "tx_count",
    "funded_txo_count",
    "funded_txo_sum",
    "spent_txo_count",
    "spent_txo_sum",
}
ESPLORA_FEE_TARGETS = {"2", "3", "4", "5", "6", "10", "20", "25", "144", "504", "1008"}
COIN = 100_000_000


class Rest:
    """GET and POST against one node's REST base URL."""

    def __init__(self, base: str) -> None:
        self.base = base

    def request(
        self, path: str, *, data: bytes | None = None, method: str = "GET"
    ) -> tuple[int, bytes, dict[str, str]]:
        req = urllib.request.Request(self.base + path, data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=15.0) as response:
                return response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), dict(exc.headers)

    def json(self, path: str) -> Any:
        status, body, _ = self.request(path)
        assert status == 200, (path, status, body)
        return json.loads(body)

    def text(self, path: str) -> str:
        status, body, _ = self.request(path)
        assert status == 200, (path, status, body)
        return body.decode()

    def status(self, path: str) -> int:
        return self.request(path)[0]


def _rest(testnet: Testnet, index: int) -> Rest:
    url = testnet.description["nodes"][index]["rest_url"]
    assert url and url.endswith("/api")
    explorer = testnet.description["nodes"][index]["explorer_url"]
    assert explorer and url.startswith(explorer.rstrip("/"))
    return Rest(url)


def test_blocks_and_chain(testnet: Testnet) -> None:
    node = testnet.nodes[0]
    rest = _rest(testnet, 0)
    testnet.wait_for_height(2)
    height = int(rest.text("/blocks/tip/height"))
    assert height >= 2
    assert rest.text(f"/block-height/{height}") == node.rpc("getblockhash", height)
    assert rest.text("/block-height/0") == node.rpc("getblockhash", 0)
    tip_hash = rest.text("/blocks/tip/hash")
    assert len(tip_hash) == 64

    block_hash = node.rpc("getblockhash", 1)
    block = rest.json(f"/block/{block_hash}")
    assert set(block) >= ESPLORA_BLOCK
    rpc_block = node.rpc("getblock", block_hash, 1)
    assert block["id"] == block_hash and block["height"] == 1
    assert block["previousblockhash"] == node.rpc("getblockhash", 0)
    assert block["tx_count"] == len(rpc_block["tx"])
    assert rest.json(f"/block/{node.rpc('getblockhash', 0)}")["previousblockhash"] is None
    txids = rest.json(f"/block/{block_hash}/txids")
    assert txids == [t if isinstance(t, str) else t["txid"] for t in rpc_block["tx"]]
    txs = rest.json(f"/block/{block_hash}/txs")
    assert [t["txid"] for t in txs] == txids[:25]
    assert all("status" not in t and set(t) >= ESPLORA_TX - {"status"} for t in txs)
    assert rest.json(f"/block/{block_hash}/status")["in_best_chain"] is True
    assert rest.text(f"/block/{block_hash}/txid/0") == txids[0]
    assert rest.status(f"/block/{block_hash}/txid/{len(txids)}") == 404
    header_hex = rest.text(f"/block/{block_hash}/header")
    assert header_hex == node.rpc("getblockheader", block_hash, False)
    status, raw, headers = rest.request(f"/block/{block_hash}/raw")
    assert status == 200 and raw.hex() == node.rpc("getblock", block_hash, 0)
    assert headers["Content-Type"] == "application/octet-stream"

    page = rest.json("/blocks")
    assert 1 <= len(page) <= 10
    assert [b["height"] for b in page] == sorted((b["height"] for b in page), reverse=True)
    assert [b["height"] for b in rest.json("/blocks/1")] == [1, 0]


def _pay(testnet: Testnet, amount: str) -> tuple[str, str]:
    sender, receiver = testnet.nodes[0], testnet.nodes[1]
    address = receiver.rpc("getnewaddress")
    status = sender.rpc("sendtoaddress", address, amount, 20)
    assert status["status"] in ("final", "confirmed"), status
    return status["txid"], address


def test_a_payment_through_the_api(testnet: Testnet) -> None:
    testnet.wait_for_height(1)
    sender = testnet.nodes[0]
    rest = _rest(testnet, 0)
    txid, address = _pay(testnet, "3.25")

    tx = rest.json(f"/tx/{txid}")
    assert set(tx) >= ESPLORA_TX
    assert all(set(vin) >= ESPLORA_VIN for vin in tx["vin"])
    assert all(set(vout) >= ESPLORA_VOUT for vout in tx["vout"])
    assert tx["status"]["final"] is True
    wallet_tx = sender.rpc("gettransaction", txid)
    assert Decimal(tx["fee"]) / COIN == -Decimal(str(wallet_tx["fee"]))
    assert tx["vout"][0]["scriptpubkey_address"] == address
    assert tx["vout"][0]["value"] == 325_000_000
    assert rest.text(f"/tx/{txid}/hex") == sender.rpc("getrawtransaction", txid)
    assert rest.request(f"/tx/{txid}/raw")[1].hex() == sender.rpc("getrawtransaction", txid)
    finality = rest.json(f"/tx/{txid}/finality")
    assert finality["status"] in ("final", "confirmed")

    summary = rest.json(f"/address/{address}")
    assert summary["address"] == address
    assert set(summary["chain_stats"]) >= ESPLORA_STATS
    assert set(summary["mempool_stats"]) >= ESPLORA_STATS
    stats = [summary["chain_stats"], summary["mempool_stats"]]
    assert sum(s["funded_txo_sum"] for s in stats) == 325_000_000
    assert sum(s["tx_count"] for s in stats) == 1
    (utxo,) = rest.json(f"/address/{address}/utxo")
    assert (utxo["txid"], utxo["vout"], utxo["value"]) == (txid, 0, 325_000_000)
    assert [t["txid"] for t in rest.json(f"/address/{address}/txs")] == [txid]

    def confirmed() -> dict[str, Any] | None:
        status: dict[str, Any] = rest.json(f"/tx/{txid}/status")
        return status if status["confirmed"] else None

    status = wait_until(confirmed, 30.0, f"{txid} in a block")
    assert set(status) >= ESPLORA_STATUS_CONFIRMED
    block = rest.json(f"/block/{status['block_hash']}")
    proof = rest.json(f"/tx/{txid}/merkle-proof")
    assert proof["block_height"] == status["block_height"]
    merkle = MerkleProof(
        proof["pos"], proof["tx_count"], tuple(bytes.fromhex(h) for h in proof["merkle"])
    )
    assert verify_merkle_proof(bytes.fromhex(block["merkle_root"]), bytes.fromhex(txid), merkle)
    assert [t["txid"] for t in rest.json(f"/address/{address}/txs/chain")] == [txid]
    assert rest.json(f"/address/{address}/txs/chain/{txid}") == []

    spent = tx["vin"][0]
    outspend = rest.json(f"/tx/{spent['txid']}/outspend/{spent['vout']}")
    assert outspend["spent"] is True and (outspend["txid"], outspend["vin"]) == (txid, 0)
    assert rest.json(f"/tx/{txid}/outspends")[0] == {"spent": False}


def test_mempool_fees_masternodes_and_broadcast(testnet: Testnet) -> None:
    testnet.wait_for_height(1)
    sender = testnet.nodes[2]
    rest = _rest(testnet, 2)
    pool = rest.json("/mempool")
    assert {"count", "vsize", "total_fee", "fee_histogram"} <= set(pool)
    assert isinstance(rest.json("/mempool/txids"), list)
    assert isinstance(rest.json("/mempool/recent"), list)
    fees = rest.json("/fee-estimates")
    assert set(fees) >= ESPLORA_FEE_TARGETS and all(v > 0 for v in fees.values())
    stats = rest.json("/stats")
    assert stats["finalized_total"] >= 0 and set(stats["finality_latency_ms"]) == {
        "p50",
        "p99",
        "samples",
    }
    masternodes = rest.json("/masternodes")
    assert len(masternodes) == 4 and all(m["status"] == "enabled" for m in masternodes)

    payee = testnet.nodes[3].rpc("getnewaddress")
    raw = sender.rpc("createrawtransaction", [], {payee: 1})
    signed = sender.rpc(
        "signrawtransactionwithwallet", sender.rpc("fundrawtransaction", raw)["hex"]
    )
    status, body, _ = rest.request("/tx", data=signed["hex"].encode(), method="POST")
    assert status == 200
    txid = body.decode()
    assert rest.json(f"/tx/{txid}")["txid"] == txid
    status, body, _ = rest.request("/tx", data=signed["hex"].encode()[:-2] + b"zz", method="POST")
    assert status == 400 and body.startswith(b"Invalid transaction")


def test_bad_input_gets_400_and_a_one_line_message(testnet: Testnet) -> None:
    rest = _rest(testnet, 1)
    zero = "00" * 32
    cases = {
        "/block/zz": 400,
        f"/block/{zero}": 404,
        f"/block/{'g' * 64}": 400,
        "/block-height/-1": 400,
        "/block-height/99999999999999": 400,
        "/block-height/2000000000": 404,
        f"/tx/{zero}": 404,
        f"/tx/{zero[:-2]}": 400,
        "/tx/x/outspend/1": 400,
        "/address/bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq": 400,
        "/address/%3Cscript%3Ealert(1)%3C%2Fscript%3E": 400,
        "/address/%3Cimg%20src=x%20onerror=alert(1)%3E": 400,
        "/no/such/path": 404,
        f"/address/{testnet.nodes[1].rpc('getnewaddress')}/txs/chain/zz": 400,
        "/blocks/abc": 400,
        f"/block/{testnet.nodes[1].rpc('getblockhash', 0)}/txs/3": 400,
    }
    for path, expected in cases.items():
        status, body, headers = rest.request(path)
        assert status == expected, (path, status, body)
        assert b"\n" not in body.strip() and len(body) < 400, (path, body)
        assert headers.get("Content-Type", "").startswith("text/plain"), path
        assert headers.get("Access-Control-Allow-Origin") == "*"
        assert b"<script>" not in body
    status, _, headers = rest.request("/blocks/tip/height", method="OPTIONS")
    assert status == 204 and "GET" in headers["Access-Control-Allow-Methods"]

"""Instant finality on real node processes (docs/spec/finality.md).

- a double spend sent to two nodes at the same instant: at most one side
  becomes final, every node reports the same status for both, and balances
  stay exact everywhere;
- a committee member SIGKILLed right after voting restarts still bound: it
  never votes for the conflicting transaction;
- a node SIGKILLed right after `waittransactionfinality` returned still
  reports the transaction final (or confirmed) after its restart.

The two conflicting transactions are signed with a key held by the test
(the node wallet's journal would refuse to sign both).
"""

from __future__ import annotations

import os
import threading
from decimal import Decimal
from typing import Any

from functional_framework import NodeHandle, Testnet, wait_until

from timecoin.crypto import SigningKey, address_from_public_key, encode_address
from timecoin.encoding import decode, encode
from timecoin.ledger import compute_min_fee, compute_tx_size
from timecoin.node.loadgen import sign_transaction
from timecoin.params import COIN, get_preset
from timecoin.types import (
    TX_VERSION,
    Block,
    OutPoint,
    Transaction,
    TxInput,
    TxOutput,
    compute_txid,
)

PARAMS = get_preset("devnet")
FUND_UNITS = 5 * COIN
SETTLED = ("final", "confirmed", "conflicted")


def _address(key: SigningKey) -> str:
    return encode_address(PARAMS.address_hrp, address_from_public_key(key.public_key))


def _fund(testnet: Testnet, key: SigningKey, sender_index: int) -> OutPoint:
    """Pay FUND_UNITS from node `sender_index`'s wallet to `key`, wait for
    finality; the coin. Each test funds from another node: a wallet's change
    is spendable only once its block is committed and scanned."""
    sender = testnet.nodes[sender_index]
    status = sender.rpc("sendtoaddress", _address(key), str(Decimal(FUND_UNITS) / COIN), 20)
    assert status["status"] in ("final", "confirmed"), status
    # The coin must be spendable everywhere before the test spends it: a node
    # that has not yet seen the funding proof would refuse a spend as an orphan.
    wait_until(
        lambda: all(s in ("final", "confirmed") for s in _statuses(testnet, status["txid"])),
        30.0,
        f"the funding transaction {status['txid']} final on every node",
    )
    tx = sender.rpc("getrawtransaction", status["txid"], True)
    payload = address_from_public_key(key.public_key).hex()
    for out in tx["vout"]:
        if out["scriptPubKey"]["hex"] == payload:
            return OutPoint(bytes.fromhex(status["txid"]), int(out["n"]))
    raise AssertionError(f"no output to the test key in {tx}")


def _spend(coin: OutPoint, key: SigningKey, to: SigningKey) -> Transaction:
    """A signed transaction of the whole coin (less the fee) to `to`."""
    template = Transaction(
        version=TX_VERSION,
        inputs=[TxInput(coin, key.public_key)],
        outputs=[TxOutput(FUND_UNITS, address_from_public_key(to.public_key))],
        lock_time=0,
        payload=None,
        signatures=[bytes(64)],
        owner_signature=None,
    )
    fee = compute_min_fee(compute_tx_size(template), PARAMS)
    outputs = [TxOutput(FUND_UNITS - fee, address_from_public_key(to.public_key))]
    return sign_transaction([(coin, key)], outputs, PARAMS.chain_id)


def _send(node: NodeHandle, tx: Transaction) -> Any:
    try:
        return node.rpc("sendrawtransaction", encode(tx).hex())
    except Exception as exc:  # a node may refuse the side it saw second
        return exc


def _statuses(testnet: Testnet, txid: str) -> list[str]:
    return [node.rpc("gettransactionfinality", txid)["status"] for node in testnet.nodes]


def _key() -> SigningKey:
    return SigningKey(os.urandom(32))


def test_double_spend_at_the_same_instant(testnet: Testnet) -> None:
    testnet.wait_for_height(1)
    owner, payee_a, payee_b = _key(), _key(), _key()
    coin = _fund(testnet, owner, 0)
    tx_a, tx_b = _spend(coin, owner, payee_a), _spend(coin, owner, payee_b)
    txid_a, txid_b = compute_txid(tx_a).hex(), compute_txid(tx_b).hex()
    assert txid_a != txid_b
    barrier = threading.Barrier(2)
    results: dict[str, Any] = {}

    def send(name: str, node: NodeHandle, tx: Transaction) -> None:
        barrier.wait()
        results[name] = _send(node, tx)

    threads = [
        threading.Thread(target=send, args=("a", testnet.nodes[1], tx_a)),
        threading.Thread(target=send, args=("b", testnet.nodes[2], tx_b)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    seen: list[tuple[list[str], list[str]]] = []

    def agreed() -> tuple[list[str], list[str]] | None:
        a, b = _statuses(testnet, txid_a), _statuses(testnet, txid_b)
        seen[:] = [(a, b)]
        settled = all(s in SETTLED for s in a + b)
        same = len(set(a)) == 1 and len(set(b)) == 1
        return (a, b) if settled and same else None

    try:
        a, b = wait_until(agreed, 30.0, f"every node agrees on {txid_a} and {txid_b}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last statuses {seen}, submissions {results}") from None
    final_like = {"final", "confirmed"}
    assert not (a[0] in final_like and b[0] in final_like), (a, b)
    for status in (a[0], b[0]):
        assert status in final_like or status == "conflicted"
    for node in testnet.nodes:
        for txid, status in ((txid_a, a[0]), (txid_b, b[0])):
            info = node.rpc("gettransactionfinality", txid)
            if status == "conflicted":
                assert info.get("inputlocked", True) or info.get("conflicts"), info
    # Balances stay exact on every node: the coin is spent at most once.
    winner = txid_a if a[0] in final_like else txid_b if b[0] in final_like else None
    if winner is not None:
        wait_until(
            lambda: all(
                n.rpc("gettransactionfinality", winner)["status"] == "confirmed"
                for n in testnet.nodes
            ),
            30.0,
            "the winning side in a block on every node",
        )
        paid = _spend(coin, owner, payee_a if winner == txid_a else payee_b).outputs[0].amount
        for node in testnet.nodes:
            out = node.rpc("gettxout", winner, 0)
            assert out is not None
            assert int(Decimal(str(out["value"])) * COIN) == paid
            loser = txid_b if winner == txid_a else txid_a
            assert node.rpc("gettxout", loser, 0) is None
            assert node.rpc("gettxout", coin.txid.hex(), coin.index) is None


def test_member_killed_after_voting_stays_bound(testnet: Testnet) -> None:
    testnet.wait_for_height(1)
    owner, payee_a, payee_b = _key(), _key(), _key()
    coin = _fund(testnet, owner, 1)
    tx_a, tx_b = _spend(coin, owner, payee_a), _spend(coin, owner, payee_b)
    txid_a, txid_b = compute_txid(tx_a).hex(), compute_txid(tx_b).hex()
    member = testnet.nodes[3]
    testnet.nodes[0].rpc("sendrawtransaction", encode(tx_a).hex())
    wait_until(
        lambda: member.rpc("gettransactionfinality", txid_a)["status"] in ("final", "confirmed"),
        10.0,
        "the member holds the proof (it voted)",
    )
    member.kill()
    member.restart()
    wait_until(lambda: _height_or_none(member) is not None, 30.0, "the member restarts")
    _send(member, tx_b)
    _send(testnet.nodes[1], tx_b)
    status_b = member.rpc("gettransactionfinality", txid_b)
    assert not status_b["voted"], status_b
    assert status_b["status"] in ("unknown", "conflicted"), status_b
    wait_until(
        lambda: all(s == "confirmed" for s in _statuses(testnet, txid_a)),
        30.0,
        "the first side confirmed everywhere",
    )
    assert all(s in ("unknown", "conflicted") for s in _statuses(testnet, txid_b))


def test_final_survives_a_kill_after_wait(testnet: Testnet) -> None:
    testnet.wait_for_height(1)
    owner, payee = _key(), _key()
    coin = _fund(testnet, owner, 2)
    tx = _spend(coin, owner, payee)
    txid = compute_txid(tx).hex()
    node = testnet.nodes[2]
    node.rpc("sendrawtransaction", encode(tx).hex())
    status = node.rpc("waittransactionfinality", txid, 10)
    assert status["status"] in ("final", "confirmed"), status
    node.kill()
    node.restart()
    wait_until(lambda: _height_or_none(node) is not None, 30.0, "the node restarts")
    after = node.rpc("gettransactionfinality", txid)
    assert after["status"] in ("final", "confirmed"), after


def _height_or_none(node: NodeHandle) -> int | None:
    try:
        return node.height()
    except Exception:
        return None


def test_change_of_a_final_payment_is_spendable_at_once(testnet: Testnet) -> None:
    """Two wallet payments back to back, each waiting for finality: the
    second can only be paid from the first's change, which the wallet holds
    as soon as the first is final (no block needed)."""
    testnet.wait_for_height(1)
    node = testnet.nodes[3]
    wait_until(lambda: _height_or_none(node) is not None, 30.0, "the node answers")
    coins = node.rpc("listunspent", 0)
    amounts = sorted(int(Decimal(str(c["amount"])) * COIN) for c in coins)
    funding, others = amounts[-1], sum(amounts[:-1])
    # Both payments exceed every other coin of the wallet together: the
    # first spends the funding coin, the second needs the first's change.
    first_units = others + 1_000 * COIN
    second_units = (funding - first_units) // 2
    assert second_units > others + 1_000 * COIN, (funding, others)
    payee = _address(_key())

    first = node.rpc("sendtoaddress", payee, str(Decimal(first_units) / COIN), 20)
    assert first["status"] in ("final", "confirmed"), first
    second = node.rpc("sendtoaddress", payee, str(Decimal(second_units) / COIN), 20)
    assert second["status"] in ("final", "confirmed"), second

    spent = [
        (vin["txid"], vin["vout"])
        for vin in node.rpc("getrawtransaction", second["txid"], True)["vin"]
    ]
    assert any(txid == first["txid"] for txid, _ in spent), spent
    for txid in (first["txid"], second["txid"]):
        wait_until(
            lambda txid=txid: all(s in ("final", "confirmed") for s in _statuses(testnet, txid)),
            20.0,
            f"{txid} final on every node",
        )


def _block_at(node: NodeHandle, height: int) -> Block:
    raw = node.rpc("getblock", node.rpc("getblockhash", height), 0)
    return decode(bytes.fromhex(raw), Block, PARAMS.sizes.max_block_bytes)


def test_final_transactions_cross_two_epoch_boundaries(testnet: Testnet) -> None:
    """Spends sent from a little before an epoch's last block to after it:
    every one becomes final and then confirmed on every node (none final
    before the boundary is lost across it, the ones sent after the reports
    become final in the new epoch), the last block of each of two epochs
    carries epoch reports (ADR 0004), and blocks keep committing across both
    boundaries."""
    testnet.wait_for_height(1)
    epoch_length = PARAMS.epoch_length
    owners = [_key() for _ in range(8)]
    coins = [_fund(testnet, owner, index % 4) for index, owner in enumerate(owners)]
    tip = testnet.nodes[0].height()
    last = (tip // epoch_length + 1) * epoch_length + epoch_length - 1  # an epoch's last height
    testnet.wait_until_height(testnet.nodes[0], last - 3, timeout_s=60.0)
    final_before: list[str] = []
    txids: list[str] = []
    for index, (coin, owner) in enumerate(zip(coins, owners, strict=True)):
        node = testnet.nodes[index % 4]
        tx = _spend(coin, owner, _key())
        txid = compute_txid(tx).hex()
        txids.append(txid)
        node.rpc("sendrawtransaction", encode(tx).hex())
        status = node.rpc("waittransactionfinality", txid, 10)
        assert status["status"] in ("final", "confirmed"), status
        if node.height() < last:
            final_before.append(txid)
        if index >= len(coins) // 2:
            testnet.wait_until_height(node, last + 1 + index - len(coins) // 2, timeout_s=20.0)
    assert final_before, "no spend was final before the boundary"
    second_last = last + epoch_length
    testnet.wait_for_height(second_last + 2, timeout_s=60.0)
    for txid in txids:
        wait_until(
            lambda txid=txid: all(s == "confirmed" for s in _statuses(testnet, txid)),
            20.0,
            f"{txid} confirmed on every node",
        )
    heights = {
        txid: testnet.nodes[0].rpc("gettransactionfinality", txid)["height"] for txid in txids
    }
    assert max(heights.values()) > last, heights  # spends sent after the reports, in the new epoch
    for height in (last, second_last):
        hashes = {node.rpc("getblockhash", height) for node in testnet.nodes}
        assert len(hashes) == 1, (height, hashes)
        block = _block_at(testnet.nodes[0], height)
        assert block.reports, f"the last block of an epoch ({height}) carries no reports"
        assert not _block_at(testnet.nodes[0], height - 1).reports

"""The node's wallet feed: outputs of final transactions are spendable at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from timecoin.ledger import MemoryUtxoSet, UtxoDelta
from timecoin.mempool import FinalUtxoView
from timecoin.node.walletfeed import apply_block, apply_final_transaction
from timecoin.params import COIN, get_preset
from timecoin.types import Coin, OutPoint, Transaction, compute_txid
from timecoin.wallet import KdfParams, Wallet
from timecoin.wallet.keyfile import MIN_MEMLIMIT_BYTES, MIN_OPSLIMIT

PARAMS = get_preset("devnet")
FAST_KDF = KdfParams(MIN_OPSLIMIT, MIN_MEMLIMIT_BYTES)
FUNDING = OutPoint(txid=bytes(range(32)), index=0)
PAYEE = bytes(20)


@pytest.fixture
def wallet(tmp_path: Path) -> Iterator[Wallet]:
    """A wallet holding one funding coin of 100 COIN."""
    with Wallet.create(tmp_path / "wallet.json", "pw", PARAMS, kdf=FAST_KDF) as opened:
        address = opened.new_address()
        opened.add_coin(FUNDING, Coin(amount=100 * COIN, address=address, height=1))
        yield opened


def _chain(wallet: Wallet) -> MemoryUtxoSet:
    return MemoryUtxoSet(dict(wallet.coins()))


def _change(tx: Transaction) -> OutPoint:
    return OutPoint(txid=compute_txid(tx), index=len(tx.outputs) - 1)


def test_change_of_a_final_payment_is_spendable_at_once(wallet: Wallet) -> None:
    view = FinalUtxoView(_chain(wallet), (), 2)
    first = wallet.build_and_sign(PAYEE, 10 * COIN)
    assert wallet.spendable_balance() == 0
    first_txid = compute_txid(first)
    view.add_final(first, first_txid)

    assert apply_final_transaction(wallet, view, first, first_txid) == 1

    change = first.outputs[-1].amount
    assert wallet.spendable_balance() == change
    assert wallet.locked_balance() == 0
    assert wallet.pending_transactions() == {}
    assert [op for op, _ in wallet.coins()] == [_change(first)]
    second = wallet.build_and_sign(PAYEE, 10 * COIN)
    assert [txin.prevout for txin in second.inputs] == [_change(first)]


def test_applying_a_final_transaction_twice_changes_nothing(wallet: Wallet) -> None:
    view = FinalUtxoView(_chain(wallet), (), 2)
    tx = wallet.build_and_sign(PAYEE, 10 * COIN)
    txid = compute_txid(tx)
    view.add_final(tx, txid)
    apply_final_transaction(wallet, view, tx, txid)
    coins = wallet.coins()
    apply_final_transaction(wallet, view, tx, txid)
    assert wallet.coins() == coins
    assert wallet.pending_transactions() == {}


def test_a_block_does_not_bring_back_change_spent_by_a_final_transaction(wallet: Wallet) -> None:
    chain = _chain(wallet)
    view = FinalUtxoView(chain, (), 2)
    first = wallet.build_and_sign(PAYEE, 10 * COIN)
    first_txid = compute_txid(first)
    view.add_final(first, first_txid)
    apply_final_transaction(wallet, view, first, first_txid)
    second = wallet.build_and_sign(PAYEE, 10 * COIN)
    second_txid = compute_txid(second)
    view.add_final(second, second_txid)
    apply_final_transaction(wallet, view, second, second_txid)
    assert [op for op, _ in wallet.coins()] == [_change(second)]

    # A block includes the first transaction only: its change is created on
    # chain, but the final second transaction spends it.
    delta = UtxoDelta(
        created={
            OutPoint(first_txid, i): Coin(o.amount, o.address, 2)
            for i, o in enumerate(first.outputs)
        },
        spent=[FUNDING],
    )
    chain.apply_delta(delta)
    after = FinalUtxoView(chain, [second], 3)
    assert apply_block(wallet, after, delta.spent, delta.created) == 0
    assert [op for op, _ in wallet.coins()] == [_change(second)]
    assert wallet.spendable_balance() == second.outputs[-1].amount


def test_a_block_adds_coins_paying_the_wallet(wallet: Wallet) -> None:
    address = wallet.addresses()[0]
    outpoint = OutPoint(txid=bytes(32), index=3)
    created = {outpoint: Coin(5 * COIN, address, 2), OutPoint(bytes(32), 4): Coin(1, PAYEE, 2)}
    chain = MemoryUtxoSet(dict(created))
    assert apply_block(wallet, FinalUtxoView(chain, (), 3), [FUNDING], created) == 1
    assert wallet.coins() == [(outpoint, Coin(5 * COIN, address, 2))]
    assert apply_block(wallet, None, [], created) == 1

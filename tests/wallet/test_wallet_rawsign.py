"""The wallet's raw-transaction operations: funding a transaction with
several outputs, signing one built elsewhere (journaled like a payment), and
backups."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from wallet_helpers import (
    PARAMS,
    PASSWORD,
    create_wallet,
    fund,
    make_outpoint,
    open_wallet,
)

from timecoin.ledger import (
    MemoryUtxoSet,
    check_transaction,
    compute_min_fee,
    compute_tx_size,
    validate_transaction,
)
from timecoin.params import COIN
from timecoin.types import TX_VERSION, Coin, Transaction, TxInput, TxOutput, compute_txid
from timecoin.wallet import (
    CoinAlreadySignedError,
    FeePolicy,
    InsufficientFundsError,
    InvalidPaymentError,
    Wallet,
    WalletExistsError,
)
from timecoin.wallet.wallet import PLACEHOLDER_PUBLIC_KEY

RECIPIENT_A = bytes([7]) * 20
RECIPIENT_B = bytes([8]) * 20


def _validate(tx: Transaction, wallet_coins: dict[object, Coin]) -> None:
    size = compute_tx_size(tx)
    check_transaction(tx, PARAMS, size_bytes=size)
    view = MemoryUtxoSet({txin.prevout: wallet_coins[txin.prevout] for txin in tx.inputs})
    validate_transaction(tx, compute_txid(tx), view, PARAMS, tx.lock_time, size_bytes=size)


def test_fund_then_sign_pays_every_output_with_a_valid_fee(tmp_path: Path) -> None:
    wallet = create_wallet(tmp_path)
    coins = dict(fund(wallet, [3 * COIN, 5 * COIN, 1 * COIN]))
    outputs = [TxOutput(4 * COIN, RECIPIENT_A), TxOutput(2 * COIN, RECIPIENT_B)]
    funded = wallet.fund_transaction(outputs)
    tx = funded.tx
    assert tx.outputs[:2] == outputs
    assert funded.change_index == 2
    assert tx.outputs[2].address == wallet.addresses()[0]
    total_in = sum(coins[txin.prevout].amount for txin in tx.inputs)
    assert total_in == sum(o.amount for o in tx.outputs) + funded.fee_units
    assert not any(wallet.is_marked(txin.prevout) for txin in tx.inputs), "funding signs nothing"

    outcome = wallet.sign_transaction(tx)
    assert outcome.is_complete and outcome.errors == ()
    signed = outcome.tx
    assert funded.fee_units >= compute_min_fee(compute_tx_size(signed), PARAMS)
    _validate(signed, coins)
    assert all(wallet.is_marked(txin.prevout) for txin in signed.inputs)
    assert wallet.pending_transactions() == {
        compute_txid(signed): frozenset(txin.prevout for txin in signed.inputs)
    }
    wallet.close()


def test_fund_respects_a_fee_rate_and_refuses_bad_outputs(tmp_path: Path) -> None:
    wallet = create_wallet(tmp_path)
    fund(wallet, [10 * COIN])
    outputs = [TxOutput(1 * COIN, RECIPIENT_A)]
    cheap = wallet.fund_transaction(outputs)
    dear = wallet.fund_transaction(outputs, FeePolicy(fee_per_kb=COIN // 100))
    size = compute_tx_size(wallet.sign_transaction(dear.tx).tx)
    assert dear.fee_units >= COIN // 100 * size // 1000 > cheap.fee_units
    with pytest.raises(InvalidPaymentError):
        wallet.fund_transaction([])
    with pytest.raises(InvalidPaymentError):
        wallet.fund_transaction([TxOutput(0, RECIPIENT_A)])
    with pytest.raises(InsufficientFundsError):
        wallet.fund_transaction([TxOutput(20 * COIN, RECIPIENT_A)])
    wallet.close()


def _raw(inputs: list[TxInput], outputs: list[TxOutput]) -> Transaction:
    return Transaction(
        version=TX_VERSION,
        inputs=inputs,
        outputs=outputs,
        lock_time=0,
        payload=None,
        signatures=[],
        owner_signature=None,
    )


def test_sign_fills_public_keys_and_survives_a_restart(tmp_path: Path) -> None:
    wallet = create_wallet(tmp_path)
    coins = dict(fund(wallet, [2 * COIN]))
    (outpoint,) = coins
    tx = _raw([TxInput(outpoint, PLACEHOLDER_PUBLIC_KEY)], [TxOutput(COIN, RECIPIENT_A)])
    first = wallet.sign_transaction(tx)
    again = wallet.sign_transaction(tx)
    assert first.is_complete and again.tx == first.tx, "signing twice is idempotent"
    _validate(first.tx, coins)
    wallet.close()

    reopened = open_wallet(tmp_path)
    reopened.add_coin(outpoint, coins[outpoint])
    assert reopened.is_marked(outpoint)
    other = _raw([TxInput(outpoint, PLACEHOLDER_PUBLIC_KEY)], [TxOutput(COIN, RECIPIENT_B)])
    with pytest.raises(CoinAlreadySignedError):
        reopened.sign_transaction(other)
    with pytest.raises(InsufficientFundsError):
        reopened.build_and_sign(RECIPIENT_B, COIN // 2)
    reopened.close()


def test_sign_reports_inputs_it_cannot_sign_and_journals_nothing_then(tmp_path: Path) -> None:
    wallet = create_wallet(tmp_path)
    coins = dict(fund(wallet, [2 * COIN]))
    (outpoint,) = coins
    foreign = make_outpoint(99)
    tx = _raw(
        [TxInput(outpoint, PLACEHOLDER_PUBLIC_KEY), TxInput(foreign, PLACEHOLDER_PUBLIC_KEY)],
        [TxOutput(COIN, RECIPIENT_A)],
    )
    outcome = wallet.sign_transaction(tx)
    assert not outcome.is_complete
    assert outcome.errors == ((1, "Input not found or already spent"),)
    assert outcome.tx == tx, "a foreign input without a key leaves the txid open: no signature"
    assert not wallet.is_marked(outpoint)

    foreign_key = bytes([5]) * 32
    tx = msgspec.structs.replace(
        tx, inputs=[TxInput(outpoint, PLACEHOLDER_PUBLIC_KEY), TxInput(foreign, foreign_key)]
    )
    partial = wallet.sign_transaction(tx)
    assert [index for index, _ in partial.errors] == [1]
    assert partial.tx.signatures[1] == bytes(64) and partial.tx.signatures[0] != bytes(64)
    assert wallet.is_marked(outpoint), "the wallet's own input is journaled before it is signed"
    wallet.close()


def test_backup_copies_key_file_and_journal_and_never_overwrites(tmp_path: Path) -> None:
    live = tmp_path / "live"
    live.mkdir()
    wallet = create_wallet(live)
    coins = dict(fund(wallet, [2 * COIN]))
    wallet.build_and_sign(RECIPIENT_A, COIN)
    target = tmp_path / "backup.json"
    key_copy, journal_copy = wallet.backup(target)
    assert key_copy == target and journal_copy.name == "backup.json.journal"
    with pytest.raises(WalletExistsError):
        wallet.backup(target)
    wallet.close()

    restored = Wallet.open(target, PASSWORD, PARAMS)
    for outpoint, coin in coins.items():
        restored.add_coin(outpoint, coin)
    assert restored.locked_balance() == 2 * COIN, "the restored journal keeps the coin signed"
    restored.close()

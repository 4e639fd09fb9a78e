"""Coin selection: the documented rule, the fee from the encoded size, change
and dust, typed failures, and properties over random coin sets."""

from __future__ import annotations

import dataclasses
import random

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from wallet_helpers import PARAMS, make_outpoint

from timecoin.crypto import SigningKey, address_from_public_key
from timecoin.ledger import (
    MemoryUtxoSet,
    check_transaction,
    compute_input_signing_message,
    compute_min_fee,
    compute_tx_size,
    validate_transaction,
)
from timecoin.params import MAX_MONEY, SizeLimits
from timecoin.types import TX_VERSION, Coin, OutPoint, Transaction, TxInput, TxOutput, compute_txid
from timecoin.wallet import (
    DEFAULT_FEE_POLICY,
    FeePolicy,
    InsufficientFundsError,
    InvalidPaymentError,
    Selection,
    TransactionTooLargeError,
    compute_required_fee,
    compute_signed_size,
    select_coins,
)

KEY = SigningKey.from_seed(bytes(32))
ADDRESS = address_from_public_key(KEY.public_key)
DUST = PARAMS.dust_limit
MIN_FEE = PARAMS.min_fee


def coins_of(amounts: list[int]) -> list[tuple[OutPoint, Coin]]:
    return [(make_outpoint(i), Coin(a, ADDRESS, 1)) for i, a in enumerate(amounts)]


def amounts_of(selection: Selection) -> list[int]:
    return sorted(coin.amount for _, coin in selection.inputs)


def sign_selection(selection: Selection) -> Transaction:
    """The signed transaction the wallet would build from `selection`."""
    outputs = [TxOutput(selection.amount, bytes(20))]
    if selection.change:
        outputs.append(TxOutput(selection.change, ADDRESS))
    unsigned = Transaction(
        TX_VERSION,
        [TxInput(op, KEY.public_key) for op, _ in selection.inputs],
        outputs,
        0,
        None,
        [],
        None,
    )
    txid = compute_txid(unsigned)
    sigs = [
        KEY.sign(compute_input_signing_message(PARAMS.chain_id, txid, i))
        for i in range(len(selection.inputs))
    ]
    return msgspec.structs.replace(unsigned, signatures=sigs)


def test_smallest_single_coin_that_covers() -> None:
    selection = select_coins(
        coins_of([5_000, 50_000, 20_000, 9_000]), 7_000, DEFAULT_FEE_POLICY, PARAMS
    )
    assert amounts_of(selection) == [9_000]
    assert selection.fee == MIN_FEE
    assert selection.change == 9_000 - 7_000 - MIN_FEE


def test_largest_first_when_no_single_coin_covers() -> None:
    selection = select_coins(
        coins_of([3_000, 8_000, 1_000, 7_000, 6_000]), 14_000, DEFAULT_FEE_POLICY, PARAMS
    )
    assert amounts_of(selection) == [7_000, 8_000]
    assert selection.total_in == selection.amount + selection.fee + selection.change


def test_change_below_dust_is_folded_into_the_fee() -> None:
    coin = 10_000 + MIN_FEE + DUST - 1
    selection = select_coins(coins_of([coin]), 10_000, DEFAULT_FEE_POLICY, PARAMS)
    assert selection.change == 0
    assert selection.fee == MIN_FEE + DUST - 1
    exact = select_coins(coins_of([coin + 1]), 10_000, DEFAULT_FEE_POLICY, PARAMS)
    assert exact.change == DUST
    assert exact.fee == MIN_FEE


def test_exact_amount_without_change() -> None:
    selection = select_coins(coins_of([10_000 + MIN_FEE]), 10_000, DEFAULT_FEE_POLICY, PARAMS)
    assert (selection.fee, selection.change) == (MIN_FEE, 0)


def test_fee_follows_the_size_under_a_per_kb_policy() -> None:
    policy = FeePolicy(fee_per_kb=10_000)
    coins = coins_of([40_000] * 6)
    selection = select_coins(coins, 150_000, policy, PARAMS)
    assert len(selection.inputs) == 4
    tx = sign_selection(selection)
    size = compute_tx_size(tx)
    assert size <= selection.size_bytes <= size + 8
    assert selection.fee == -(-10_000 * selection.size_bytes // 1000)
    assert selection.fee >= compute_required_fee(size, policy, PARAMS)


def test_policy_min_fee_applies() -> None:
    selection = select_coins(coins_of([100_000]), 10_000, FeePolicy(min_fee=5_000), PARAMS)
    assert selection.fee == 5_000
    assert selection.change == 100_000 - 10_000 - 5_000


def test_required_fee_is_the_consensus_minimum_or_the_policy() -> None:
    for size in (0, 1, 999, 1000, 1001, 150_000):
        consensus = compute_min_fee(size, PARAMS)
        assert compute_required_fee(size, DEFAULT_FEE_POLICY, PARAMS) == consensus
        by_rate = compute_required_fee(size, FeePolicy(fee_per_kb=7_777), PARAMS)
        assert by_rate == max(consensus, -(-7_777 * size // 1000))


def test_signed_size_is_exact_without_change() -> None:
    for n in (1, 2, 15, 16, 40):
        selection = Selection(tuple(coins_of([10_000] * n)), 5_000, 10_000 * n - 5_000, 0, 0)
        tx = sign_selection(selection)
        outpoints = [op for op, _ in selection.inputs]
        assert compute_signed_size(outpoints, 5_000, with_change=False) == compute_tx_size(tx)


def test_insufficient_funds_reports_amounts() -> None:
    with pytest.raises(InsufficientFundsError) as info:
        select_coins(coins_of([3_000, 4_000]), 7_000, DEFAULT_FEE_POLICY, PARAMS)
    assert info.value.needed_units == 7_000 + MIN_FEE
    assert info.value.available_units == 7_000
    assert info.value.reject_code == "insufficient-funds"
    assert "8000" in str(info.value)


def test_no_coins_is_insufficient() -> None:
    with pytest.raises(InsufficientFundsError) as info:
        select_coins([], 1_000, DEFAULT_FEE_POLICY, PARAMS)
    assert info.value.available_units == 0
    assert info.value.needed_units >= 1_000 + MIN_FEE


@pytest.mark.parametrize("amount", [0, DUST - 1, MAX_MONEY + 1, -5])
def test_amount_outside_dust_and_supply_is_rejected(amount: int) -> None:
    with pytest.raises(InvalidPaymentError):
        select_coins(coins_of([MAX_MONEY]), amount, DEFAULT_FEE_POLICY, PARAMS)


def test_too_many_inputs_is_typed() -> None:
    params = dataclasses.replace(PARAMS, sizes=SizeLimits(max_tx_inputs=5))
    with pytest.raises(TransactionTooLargeError, match="consolidate"):
        select_coins(coins_of([2_000] * 20), 20_000, DEFAULT_FEE_POLICY, params)
    assert len(select_coins(coins_of([2_000] * 20), 8_000, DEFAULT_FEE_POLICY, params).inputs) == 5


def test_too_many_bytes_is_typed() -> None:
    params = dataclasses.replace(PARAMS, sizes=SizeLimits(max_tx_bytes=1_000))
    with pytest.raises(TransactionTooLargeError):
        select_coins(coins_of([2_000] * 20), 20_000, DEFAULT_FEE_POLICY, params)


def test_selection_does_not_depend_on_coin_order() -> None:
    coins = coins_of([random.Random(1).randrange(1_000, 100_000) for _ in range(60)])
    reference = select_coins(coins, 400_000, DEFAULT_FEE_POLICY, PARAMS)
    rng = random.Random(7)
    for _ in range(5):
        shuffled = coins[:]
        rng.shuffle(shuffled)
        assert select_coins(shuffled, 400_000, DEFAULT_FEE_POLICY, PARAMS) == reference


def test_equal_amounts_tie_break_by_outpoint() -> None:
    coins = coins_of([50_000] * 4)
    selection = select_coins(coins, 10_000, DEFAULT_FEE_POLICY, PARAMS)
    assert selection.inputs[0][0] == min((op for op, _ in coins), key=lambda o: o.txid)


@given(
    amounts=st.lists(st.integers(min_value=1, max_value=10**9), max_size=40),
    amount=st.integers(min_value=DUST, max_value=2 * 10**9),
    fee_per_kb=st.sampled_from([0, 1_000, 50_000]),
)
def test_selection_properties(amounts: list[int], amount: int, fee_per_kb: int) -> None:
    coins = coins_of(amounts)
    policy = FeePolicy(fee_per_kb=fee_per_kb)
    try:
        selection = select_coins(coins, amount, policy, PARAMS)
    except InsufficientFundsError as exc:
        assert exc.available_units == sum(amounts)
        assert exc.available_units < exc.needed_units
        # No subset can pay: not even all of the coins together.
        every = [op for op, _ in coins]
        assert sum(amounts) < amount + compute_required_fee(
            compute_signed_size(every, amount, with_change=False), policy, PARAMS
        )
        return
    spent = [op for op, _ in selection.inputs]
    assert len(set(spent)) == len(spent)
    assert set(selection.inputs) <= set(coins)
    assert spent == sorted(spent, key=lambda op: (op.txid, op.index))
    assert selection.total_in == amount + selection.fee + selection.change
    assert selection.change == 0 or selection.change >= DUST
    tx = sign_selection(selection)
    size = compute_tx_size(tx)
    assert size <= selection.size_bytes
    assert selection.fee >= compute_required_fee(size, policy, PARAMS)
    check_transaction(tx, PARAMS)
    view = MemoryUtxoSet(dict(selection.inputs))
    assert validate_transaction(tx, compute_txid(tx), view, PARAMS, 0) == selection.fee

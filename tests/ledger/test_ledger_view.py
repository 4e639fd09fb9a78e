"""UTXO views: overlay semantics, the in-memory set, and commitment elements."""

from __future__ import annotations

import pytest
from ledger_helpers import ALICE, TEN, address_of, funded_set

from timecoin.crypto import MuHash3072, sha256
from timecoin.encoding import encode
from timecoin.ledger import (
    CachedUtxoView,
    MemoryUtxoSet,
    UtxoDelta,
    compute_utxo_commitment,
    encode_utxo_element,
)
from timecoin.types import Coin, OutPoint, SpentCoin

NEW = OutPoint(txid=sha256(b"new"), index=3)
COIN_A = Coin(amount=TEN, address=address_of(ALICE), height=5)


def test_overlay_reads_through_and_never_writes_base() -> None:
    base, outpoints = funded_set(ALICE, [TEN, 2 * TEN])
    before = dict(base.coins)
    overlay = CachedUtxoView(base)
    assert overlay.get_coin(outpoints[0]) == base.coins[outpoints[0]]
    assert overlay.spend_coin(outpoints[0]) == before[outpoints[0]]
    overlay.add_coin(NEW, COIN_A)
    assert overlay.get_coin(outpoints[0]) is None
    assert overlay.is_spent_here(outpoints[0])
    assert overlay.get_coin(NEW) == COIN_A
    assert base.coins == before


def test_overlay_spend_missing_and_twice() -> None:
    base, outpoints = funded_set(ALICE, [TEN])
    overlay = CachedUtxoView(base)
    assert overlay.spend_coin(NEW) is None
    assert overlay.spend_coin(outpoints[0]) is not None
    assert overlay.spend_coin(outpoints[0]) is None


def test_overlay_created_then_spent_is_in_neither_side_of_delta() -> None:
    base, outpoints = funded_set(ALICE, [TEN])
    overlay = CachedUtxoView(base)
    overlay.add_coin(NEW, COIN_A)
    assert overlay.is_created_here(NEW)
    assert overlay.spend_coin(NEW) == COIN_A
    assert overlay.is_spent_here(NEW)
    assert overlay.spend_coin(NEW) is None
    overlay.spend_coin(outpoints[0])
    delta = overlay.delta()
    assert delta.created == {}
    assert delta.spent == [outpoints[0]]
    assert overlay.spent_coins() == [
        SpentCoin(outpoint=outpoints[0], coin=base.coins[outpoints[0]])
    ]


def test_overlay_spent_coins_in_spending_order() -> None:
    base, outpoints = funded_set(ALICE, [TEN, TEN, TEN])
    overlay = CachedUtxoView(base)
    for op in (outpoints[2], outpoints[0], outpoints[1]):
        overlay.spend_coin(op)
    assert [s.outpoint for s in overlay.spent_coins()] == [outpoints[2], outpoints[0], outpoints[1]]


def test_memory_set_apply_delta() -> None:
    base, outpoints = funded_set(ALICE, [TEN, TEN])
    base.apply_delta(UtxoDelta(created={NEW: COIN_A}, spent=[outpoints[0]]))
    assert set(base) == {outpoints[1], NEW}
    assert len(base) == 2


def test_memory_set_rejects_foreign_delta_without_change() -> None:
    base, outpoints = funded_set(ALICE, [TEN])
    before = dict(base.coins)
    with pytest.raises(AssertionError):
        base.apply_delta(UtxoDelta(created={NEW: COIN_A}, spent=[NEW]))
    with pytest.raises(AssertionError):
        base.apply_delta(UtxoDelta(created={outpoints[0]: COIN_A}, spent=[]))
    assert base.coins == before


def test_commitment_element_layout() -> None:
    element = encode_utxo_element(NEW, COIN_A)
    assert element[:32] == NEW.txid
    assert element[32:36] == (3).to_bytes(4, "big")
    assert element[36:] == encode(COIN_A)
    assert element[36] == 0x93  # msgpack fixarray of 3


def test_commitment_is_order_independent_and_of_empty_set() -> None:
    items = [(NEW, COIN_A), (OutPoint(txid=sha256(b"x"), index=0), COIN_A)]
    assert compute_utxo_commitment(items) == compute_utxo_commitment(list(reversed(items)))
    assert compute_utxo_commitment([]) == MuHash3072().digest()
    assert MemoryUtxoSet(dict(items)).commitment() == compute_utxo_commitment(items)


def test_commitment_distinguishes_height() -> None:
    other = Coin(amount=COIN_A.amount, address=COIN_A.address, height=6)
    assert compute_utxo_commitment([(NEW, COIN_A)]) != compute_utxo_commitment([(NEW, other)])

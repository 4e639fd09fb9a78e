"""validate_transaction: every contextual rule, the signature sink and the cache."""

from __future__ import annotations

from dataclasses import replace as dc_replace

import pytest
from ledger_helpers import (
    ALICE,
    BOB,
    CAROL,
    FEE,
    PARAMS,
    TEN,
    address_of,
    funded_set,
    make_coinbase,
    make_tx,
    replace,
)

from timecoin.crypto import verify
from timecoin.ledger import (
    MemoryUtxoSet,
    SignatureCache,
    SignatureItem,
    UtxoView,
    check_transaction,
    compute_input_signing_message,
    compute_min_fee,
    compute_owner_signing_message,
    compute_tx_size,
    errors,
    validate_transaction,
)
from timecoin.params import MAX_MONEY, Tier
from timecoin.types import (
    Coin,
    InvalidTransaction,
    MasternodeRegistration,
    OperatorUpdate,
    OutPoint,
    Transaction,
    compute_txid,
)

HEIGHT = 10


def pay(
    view_amounts: list[int], outputs: list[int], **kwargs: object
) -> tuple[MemoryUtxoSet, Transaction]:
    view, outpoints = funded_set(ALICE, view_amounts)
    tx = make_tx(
        [(op, ALICE) for op in outpoints],
        [(amount, address_of(BOB)) for amount in outputs],
        **kwargs,  # type: ignore[arg-type]
    )
    return view, tx


def validate(tx: Transaction, view: UtxoView, height: int = HEIGHT, **kwargs: object) -> int:
    check_transaction(tx, PARAMS)
    return validate_transaction(tx, compute_txid(tx), view, PARAMS, height, **kwargs)  # type: ignore[arg-type]


def reject_code(tx: Transaction, view: UtxoView, height: int = HEIGHT) -> str:
    with pytest.raises(InvalidTransaction) as info:
        validate(tx, view, height)
    return info.value.reject_code


def test_valid_transfer_returns_fee() -> None:
    view, tx = pay([TEN], [TEN // 2, TEN // 2 - FEE])
    assert validate(tx, view) == FEE


def test_valid_multi_input_returns_fee() -> None:
    view, tx = pay([TEN, TEN, 5_000], [2 * TEN])
    assert validate(tx, view) == 5_000


def test_rule_coinbase_standalone() -> None:
    tx = make_coinbase(HEIGHT, [(TEN, address_of(ALICE))])
    with pytest.raises(InvalidTransaction) as info:
        validate_transaction(tx, compute_txid(tx), MemoryUtxoSet(), PARAMS, HEIGHT)
    assert info.value.reject_code == errors.REJECT_COINBASE_STANDALONE


def test_rule_lock_time() -> None:
    view, tx = pay([TEN], [TEN - FEE], lock_time=HEIGHT + 1)
    assert reject_code(tx, view) == errors.REJECT_LOCK_TIME
    assert validate(tx, view, height=HEIGHT + 1) == FEE


def test_rule_missing_input() -> None:
    _, tx = pay([TEN], [TEN - FEE])
    assert reject_code(tx, MemoryUtxoSet()) == errors.REJECT_MISSING_INPUT


def test_rule_wrong_key() -> None:
    view, outpoints = funded_set(ALICE, [TEN])
    tx = make_tx([(outpoints[0], BOB)], [(TEN - FEE, address_of(BOB))])
    assert reject_code(tx, view) == errors.REJECT_WRONG_KEY


def test_rule_insufficient_funds() -> None:
    view, tx = pay([TEN], [TEN + 1])
    assert reject_code(tx, view) == errors.REJECT_INSUFFICIENT_FUNDS


def test_rule_amount_overflow_sum_of_inputs() -> None:
    # Only a corrupt UTXO set can hold more than MAX_MONEY; the rule still holds.
    view, tx = pay([MAX_MONEY, MAX_MONEY], [TEN])
    assert reject_code(tx, view) == errors.REJECT_AMOUNT_OVERFLOW


def test_rule_fee_too_low_flat_minimum() -> None:
    view, tx = pay([TEN], [TEN - PARAMS.min_fee + 1])
    assert reject_code(tx, view) == errors.REJECT_FEE_TOO_LOW
    view, tx = pay([TEN], [TEN - PARAMS.min_fee])
    assert validate(tx, view) == PARAMS.min_fee


def test_rule_fee_too_low_per_kb() -> None:
    params = dc_replace(PARAMS, min_fee=0, min_fee_per_kb=1_000_000)
    view, tx = pay([TEN], [TEN - FEE])
    size = compute_tx_size(tx)
    required = compute_min_fee(size, params)
    assert required == 1_000_000 * size // 1000 > FEE
    with pytest.raises(InvalidTransaction) as info:
        validate_transaction(tx, compute_txid(tx), view, params, HEIGHT)
    assert info.value.reject_code == errors.REJECT_FEE_TOO_LOW
    assert str(size) in info.value.message


def test_min_fee_rounds_down() -> None:
    params = dc_replace(PARAMS, min_fee=0, min_fee_per_kb=1_000)
    assert compute_min_fee(1_999, params) == 1_999
    params = dc_replace(PARAMS, min_fee=0, min_fee_per_kb=999)
    assert compute_min_fee(1_001, params) == 999_999 // 1000


def test_rule_bad_signature_wrong_chain() -> None:
    view, tx = pay([TEN], [TEN - FEE], params=dc_replace(PARAMS, chain_id=PARAMS.chain_id + 1))
    assert reject_code(tx, view) == errors.REJECT_BAD_SIGNATURE


def test_rule_bad_signature_swapped_between_inputs() -> None:
    view, tx = pay([TEN, TEN], [TEN])
    swapped = replace(tx, signatures=[tx.signatures[1], tx.signatures[0]])
    with pytest.raises(InvalidTransaction) as info:
        validate(swapped, view)
    assert info.value.reject_code == errors.REJECT_BAD_SIGNATURE
    assert "input 0" in info.value.message


def test_rule_bad_signature_over_other_transaction() -> None:
    view, tx = pay([TEN], [TEN - FEE])
    _, other = pay([TEN], [TEN - 2 * FEE])
    assert (
        reject_code(replace(tx, signatures=other.signatures), view) == errors.REJECT_BAD_SIGNATURE
    )


def registration_tx(owner_signer: object = BOB) -> tuple[MemoryUtxoSet, Transaction]:
    collateral = PARAMS.tier_params(Tier.BRONZE).collateral
    view, outpoints = funded_set(ALICE, [collateral + FEE])
    payload = MasternodeRegistration(
        tier=Tier.BRONZE,
        collateral_index=0,
        owner_key=BOB.public_key,
        operator_key=CAROL.public_key,
        reward_address=address_of(CAROL),
        network_address=b"10.0.0.3:24300",
    )
    tx = make_tx(
        [(outpoints[0], ALICE)],
        [(collateral, address_of(BOB))],
        payload=payload,
        owner=owner_signer,  # type: ignore[arg-type]
    )
    return view, tx


def test_valid_registration() -> None:
    view, tx = registration_tx()
    assert validate(tx, view) == FEE


def test_rule_bad_owner_signature() -> None:
    view, tx = registration_tx(owner_signer=CAROL)
    assert reject_code(tx, view) == errors.REJECT_BAD_OWNER_SIGNATURE


def test_operator_update_owner_signature_is_only_checked_for_form() -> None:
    # The owner of a masternode is known to the registry (masternode layer),
    # so the ledger accepts any 64-byte owner signature here.
    view, outpoints = funded_set(ALICE, [TEN])
    payload = OperatorUpdate(
        masternode_id=bytes(32),
        operator_key=CAROL.public_key,
        reward_address=address_of(CAROL),
        network_address=b"10.0.0.4:1",
    )
    tx = make_tx([(outpoints[0], ALICE)], [(TEN - FEE, address_of(ALICE))], payload=payload)
    tx = replace(tx, owner_signature=bytes(64))
    assert validate(tx, view) == FEE


def test_sig_sink_collects_instead_of_verifying() -> None:
    view, tx = registration_tx(owner_signer=CAROL)  # bad owner signature
    sink: list[SignatureItem] = []
    txid = compute_txid(tx)
    assert validate_transaction(tx, txid, view, PARAMS, HEIGHT, sink) == FEE
    assert sink == [
        (
            ALICE.public_key,
            compute_input_signing_message(PARAMS.chain_id, txid, 0),
            tx.signatures[0],
        ),
        (BOB.public_key, compute_owner_signing_message(PARAMS.chain_id, txid), tx.owner_signature),
    ]
    assert [verify(*item) for item in sink] == [True, False]


def test_sig_sink_untouched_when_a_rule_fails_first() -> None:
    view, tx = pay([TEN], [TEN + 1])
    sink: list[SignatureItem] = []
    with pytest.raises(InvalidTransaction):
        validate_transaction(tx, compute_txid(tx), view, PARAMS, HEIGHT, sink)
    assert sink == []


def test_sig_cache_skips_known_and_records_verified() -> None:
    view, tx = pay([TEN, TEN], [TEN])
    cache = SignatureCache(max_entries=10)
    txid = compute_txid(tx)
    validate_transaction(tx, txid, view, PARAMS, HEIGHT, sig_cache=cache)
    assert len(cache) == 2
    sink: list[SignatureItem] = []
    validate_transaction(tx, txid, view, PARAMS, HEIGHT, sink, sig_cache=cache)
    assert sink == []


def test_sig_cache_does_not_record_invalid() -> None:
    view, tx = pay([TEN], [TEN - FEE])
    bad = replace(tx, signatures=[bytes(64)])
    cache = SignatureCache(max_entries=10)
    with pytest.raises(InvalidTransaction):
        validate_transaction(bad, compute_txid(bad), view, PARAMS, HEIGHT, sig_cache=cache)
    assert len(cache) == 0


def test_signature_cache_is_bounded_lru() -> None:
    cache = SignatureCache(max_entries=2)
    a, b, c = (
        (b"a" * 32, b"m", b"b" * 64),
        (b"k" * 32, b"m2", b"s" * 64),
        (b"x" * 32, b"", b"y" * 64),
    )
    cache.add(*a)
    cache.add(*b)
    assert cache.contains(*a)  # a is now the most recently used
    cache.add(*c)
    assert cache.contains(*a)
    assert not cache.contains(*b)
    assert cache.contains(*c)
    assert len(cache) == 2
    cache.clear()
    assert len(cache) == 0


def test_signature_cache_key_separates_fields() -> None:
    key = SignatureCache.compute_key
    assert key(b"ab", b"c", b"d") != key(b"a", b"bc", b"d")
    assert key(b"a", b"bc", b"d") != key(b"a", b"b", b"cd")


def test_signature_cache_verify() -> None:
    _, tx = pay([TEN], [TEN - FEE])
    message = compute_input_signing_message(PARAMS.chain_id, compute_txid(tx), 0)
    cache = SignatureCache(max_entries=4)
    assert cache.verify(ALICE.public_key, message, tx.signatures[0])
    assert cache.contains(ALICE.public_key, message, tx.signatures[0])
    assert not cache.verify(ALICE.public_key, message + b"x", tx.signatures[0])
    assert len(cache) == 1


def test_signature_cache_rejects_non_positive_size() -> None:
    with pytest.raises(ValueError):
        SignatureCache(max_entries=0)


def test_coins_of_any_height_are_spendable_at_once() -> None:
    # Blocks are final: no coinbase maturity.
    view = MemoryUtxoSet()
    coinbase = make_coinbase(HEIGHT, [(TEN, address_of(ALICE))])
    op = OutPoint(txid=compute_txid(coinbase), index=0)
    view.coins[op] = Coin(amount=TEN, address=address_of(ALICE), height=HEIGHT)
    tx = make_tx([(op, ALICE)], [(TEN - FEE, address_of(BOB))])
    assert validate(tx, view, height=HEIGHT) == FEE

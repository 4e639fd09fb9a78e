"""check_transaction: every stateless rule, each with a transaction that breaks it."""

from __future__ import annotations

from dataclasses import replace as dc_replace

import pytest
from ledger_helpers import (
    ALICE,
    BOB,
    PARAMS,
    TEN,
    address_of,
    funding_outpoint,
    make_coinbase,
    make_tx,
    replace,
)

from timecoin.crypto import SigningKey
from timecoin.ledger import check_transaction, compute_tx_size, errors
from timecoin.params import COIN, MAX_MONEY, ChainParams, SizeLimits, Tier
from timecoin.types import (
    NO_COLLATERAL,
    InvalidTransaction,
    MasternodeRegistration,
    OperatorUpdate,
    OutPoint,
    Transaction,
)

BRONZE = PARAMS.tier_params(Tier.BRONZE).collateral


def simple_tx(n_inputs: int = 1, n_outputs: int = 2) -> Transaction:
    spends = [(funding_outpoint(i), ALICE) for i in range(n_inputs)]
    outputs = [(COIN, address_of(BOB))] * n_outputs
    return make_tx(spends, outputs)


def registration(
    tier: int = Tier.BRONZE,
    collateral_index: int = 0,
    network_address: bytes = b"10.0.0.1:24300",
    owner_key: bytes | None = None,
) -> MasternodeRegistration:
    return MasternodeRegistration(
        tier=tier,
        collateral_index=collateral_index,
        owner_key=owner_key if owner_key is not None else BOB.public_key,
        operator_key=ALICE.public_key,
        reward_address=address_of(ALICE),
        network_address=network_address,
    )


def registration_tx(
    payload: MasternodeRegistration, amount: int = BRONZE, owner: SigningKey | None = BOB
) -> Transaction:
    return make_tx(
        [(funding_outpoint(0), ALICE)],
        [(amount, address_of(BOB))],
        payload=payload,
        owner=owner,
    )


def reject_code(tx: Transaction, params: ChainParams = PARAMS) -> str:
    with pytest.raises(InvalidTransaction) as info:
        check_transaction(tx, params)
    return info.value.reject_code


def test_valid_transfer_passes() -> None:
    check_transaction(simple_tx(), PARAMS)


def test_valid_coinbase_passes() -> None:
    check_transaction(make_coinbase(5, [(TEN, address_of(ALICE))]), PARAMS)


def test_coinbase_without_outputs_passes() -> None:
    check_transaction(make_coinbase(5, []), PARAMS)


def test_size_bytes_given_is_used() -> None:
    tx = simple_tx()
    check_transaction(tx, PARAMS, size_bytes=compute_tx_size(tx))
    with pytest.raises(InvalidTransaction) as info:
        check_transaction(tx, PARAMS, size_bytes=PARAMS.sizes.max_tx_bytes + 1)
    assert info.value.reject_code == errors.REJECT_OVERSIZED


def test_rule_bad_version() -> None:
    assert reject_code(replace(simple_tx(), version=2)) == errors.REJECT_BAD_VERSION


def test_rule_too_many_inputs() -> None:
    params = dc_replace(PARAMS, sizes=SizeLimits(max_tx_inputs=2))
    check_transaction(simple_tx(n_inputs=2), params)
    assert reject_code(simple_tx(n_inputs=3), params) == errors.REJECT_TOO_MANY_INPUTS


def test_rule_too_many_outputs() -> None:
    params = dc_replace(PARAMS, sizes=SizeLimits(max_tx_outputs=2))
    check_transaction(simple_tx(n_outputs=2), params)
    assert reject_code(simple_tx(n_outputs=3), params) == errors.REJECT_TOO_MANY_OUTPUTS


def test_rule_oversized() -> None:
    tx = simple_tx()
    size = compute_tx_size(tx)
    check_transaction(tx, dc_replace(PARAMS, sizes=SizeLimits(max_tx_bytes=size)))
    params = dc_replace(PARAMS, sizes=SizeLimits(max_tx_bytes=size - 1))
    err = reject_code(tx, params)
    assert err == errors.REJECT_OVERSIZED


def test_rule_coinbase_signatures() -> None:
    tx = replace(make_coinbase(1, [(TEN, address_of(ALICE))]), signatures=[bytes(64)])
    assert reject_code(tx) == errors.REJECT_COINBASE_SIGNATURES


def test_rule_coinbase_owner_signature() -> None:
    tx = replace(make_coinbase(1, [(TEN, address_of(ALICE))]), owner_signature=bytes(64))
    assert reject_code(tx) == errors.REJECT_COINBASE_OWNER_SIGNATURE


def test_rule_coinbase_payload() -> None:
    tx = replace(make_coinbase(1, [(BRONZE, address_of(BOB))]), payload=registration())
    assert reject_code(tx) == errors.REJECT_COINBASE_PAYLOAD


def test_rule_no_outputs() -> None:
    tx = make_tx([(funding_outpoint(0), ALICE)], [])
    assert reject_code(tx) == errors.REJECT_NO_OUTPUTS


def test_rule_signature_count_too_few() -> None:
    tx = simple_tx(n_inputs=2)
    assert reject_code(replace(tx, signatures=tx.signatures[:1])) == errors.REJECT_SIGNATURE_COUNT


def test_rule_signature_count_too_many() -> None:
    tx = simple_tx(n_inputs=1)
    tx = replace(tx, signatures=tx.signatures * 2)
    assert reject_code(tx) == errors.REJECT_SIGNATURE_COUNT


def test_rule_duplicate_input() -> None:
    op = funding_outpoint(0)
    tx = make_tx([(funding_outpoint(1), ALICE), (op, ALICE), (op, ALICE)], [(COIN, b"\x01" * 20)])
    with pytest.raises(InvalidTransaction) as info:
        check_transaction(tx, PARAMS)
    assert info.value.reject_code == errors.REJECT_DUPLICATE_INPUT
    assert "input 2" in info.value.message


def test_rule_duplicate_input_same_txid_other_index_is_fine() -> None:
    txid = funding_outpoint(0).txid
    spends = [(OutPoint(txid=txid, index=0), ALICE), (OutPoint(txid=txid, index=1), ALICE)]
    check_transaction(make_tx(spends, [(COIN, b"\x01" * 20)]), PARAMS)


def test_rule_dust_output_below_limit() -> None:
    tx = make_tx([(funding_outpoint(0), ALICE)], [(PARAMS.dust_limit - 1, address_of(BOB))])
    assert reject_code(tx) == errors.REJECT_DUST_OUTPUT


def test_rule_dust_output_at_limit_is_fine() -> None:
    check_transaction(
        make_tx([(funding_outpoint(0), ALICE)], [(PARAMS.dust_limit, address_of(BOB))]), PARAMS
    )


def test_rule_dust_output_zero_even_without_dust_limit() -> None:
    params = dc_replace(PARAMS, dust_limit=0)
    tx = make_tx([(funding_outpoint(0), ALICE)], [(0, address_of(BOB))])
    assert reject_code(tx, params) == errors.REJECT_DUST_OUTPUT


def test_rule_dust_output_in_coinbase() -> None:
    assert reject_code(make_coinbase(1, [(1, address_of(BOB))])) == errors.REJECT_DUST_OUTPUT


def test_rule_amount_overflow_single_output() -> None:
    # Only a directly built object can carry it: the decoder caps amounts.
    tx = make_tx([(funding_outpoint(0), ALICE)], [(MAX_MONEY + 1, address_of(BOB))])
    assert reject_code(tx) == errors.REJECT_AMOUNT_OVERFLOW


def test_rule_amount_overflow_sum_of_outputs() -> None:
    tx = make_tx(
        [(funding_outpoint(0), ALICE)], [(MAX_MONEY, address_of(BOB)), (1_000, address_of(BOB))]
    )
    assert reject_code(tx) == errors.REJECT_AMOUNT_OVERFLOW


def test_rule_sum_of_outputs_at_max_money_is_fine() -> None:
    tx = make_tx(
        [(funding_outpoint(0), ALICE)],
        [(MAX_MONEY - 1_000, address_of(BOB)), (1_000, address_of(BOB))],
    )
    check_transaction(tx, PARAMS)


def test_rule_owner_signature_without_payload() -> None:
    tx = replace(simple_tx(), owner_signature=bytes(64))
    assert reject_code(tx) == errors.REJECT_OWNER_SIGNATURE


def test_rule_owner_signature_missing_with_payload() -> None:
    tx = registration_tx(registration(), owner=None)
    assert reject_code(tx) == errors.REJECT_OWNER_SIGNATURE


def test_rule_owner_signature_wrong_length() -> None:
    tx = replace(registration_tx(registration()), owner_signature=bytes(63))
    assert reject_code(tx) == errors.REJECT_OWNER_SIGNATURE


def test_valid_staked_registration_passes() -> None:
    check_transaction(registration_tx(registration()), PARAMS)


def test_valid_free_registration_passes() -> None:
    payload = registration(tier=Tier.FREE, collateral_index=NO_COLLATERAL)
    check_transaction(registration_tx(payload, amount=COIN), PARAMS)


@pytest.mark.parametrize("tier", [Tier.BRONZE, Tier.SILVER, Tier.GOLD])
def test_every_staked_tier_needs_its_collateral(tier: Tier) -> None:
    collateral = PARAMS.tier_params(tier).collateral
    check_transaction(registration_tx(registration(tier=tier), amount=collateral), PARAMS)
    tx = registration_tx(registration(tier=tier), amount=collateral + 1)
    assert reject_code(tx) == errors.REJECT_BAD_COLLATERAL


def test_rule_bad_payload_tier() -> None:
    assert reject_code(registration_tx(registration(tier=4))) == errors.REJECT_BAD_PAYLOAD


def test_rule_bad_payload_network_address_too_long() -> None:
    limit = PARAMS.sizes.max_network_address_bytes
    check_transaction(registration_tx(registration(network_address=b"a" * limit)), PARAMS)
    tx = registration_tx(registration(network_address=b"a" * (limit + 1)))
    assert reject_code(tx) == errors.REJECT_BAD_PAYLOAD


def test_rule_bad_collateral_free_tier_with_index() -> None:
    payload = registration(tier=Tier.FREE, collateral_index=0)
    assert reject_code(registration_tx(payload, amount=COIN)) == errors.REJECT_BAD_COLLATERAL


def test_rule_bad_collateral_index_out_of_range() -> None:
    payload = registration(collateral_index=1)
    assert reject_code(registration_tx(payload)) == errors.REJECT_BAD_COLLATERAL


def test_rule_bad_collateral_staked_tier_without_collateral() -> None:
    payload = registration(collateral_index=NO_COLLATERAL)
    assert reject_code(registration_tx(payload)) == errors.REJECT_BAD_COLLATERAL


def test_rule_bad_collateral_wrong_amount() -> None:
    tx = registration_tx(registration(), amount=BRONZE - 1)
    assert reject_code(tx) == errors.REJECT_BAD_COLLATERAL


def test_rule_bad_collateral_not_paid_to_owner() -> None:
    payload = registration(owner_key=ALICE.public_key)  # output pays BOB
    assert reject_code(registration_tx(payload, owner=ALICE)) == errors.REJECT_BAD_COLLATERAL


def operator_update(network_address: bytes = b"10.0.0.2:24300") -> OperatorUpdate:
    return OperatorUpdate(
        masternode_id=bytes(range(32)),
        operator_key=BOB.public_key,
        reward_address=address_of(BOB),
        network_address=network_address,
    )


def test_valid_operator_update_passes() -> None:
    tx = make_tx(
        [(funding_outpoint(0), ALICE)],
        [(COIN, address_of(ALICE))],
        payload=operator_update(),
        owner=BOB,
    )
    check_transaction(tx, PARAMS)


def test_rule_bad_payload_operator_update_network_address() -> None:
    limit = PARAMS.sizes.max_network_address_bytes
    tx = make_tx(
        [(funding_outpoint(0), ALICE)],
        [(COIN, address_of(ALICE))],
        payload=operator_update(b"x" * (limit + 1)),
        owner=BOB,
    )
    assert reject_code(tx) == errors.REJECT_BAD_PAYLOAD


def test_messages_state_expected_and_actual() -> None:
    with pytest.raises(InvalidTransaction) as info:
        check_transaction(replace(simple_tx(), version=7), PARAMS)
    assert "expected 1" in info.value.message
    assert "got 7" in info.value.message
    assert str(info.value).startswith("bad-version: ")


def test_rule_order_counts_before_witness() -> None:
    # An input-less transaction with an input's worth of witness is a broken coinbase.
    tx = replace(simple_tx(), inputs=[])
    assert reject_code(tx) == errors.REJECT_COINBASE_SIGNATURES

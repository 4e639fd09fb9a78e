"""Registrations: tiers, collateral, duplicate keys, deregistration by spend."""

from __future__ import annotations

import pytest
from masternode_helpers import (
    PARAMS,
    advance_to_boundary,
    genesis_state,
    make_key,
    process,
    registration_tx,
    spend_tx,
)

from timecoin.ledger import errors as ledger_errors
from timecoin.masternode import errors as mn_errors
from timecoin.masternode import (
    get_active_entries,
    get_entry,
    is_active,
    validate_registry_transaction,
)
from timecoin.params import Tier
from timecoin.types import InvalidTransaction, OutPoint, compute_txid


@pytest.mark.parametrize(
    ("tier", "weight"),
    [(Tier.FREE, 0), (Tier.BRONZE, 1), (Tier.SILVER, 10), (Tier.GOLD, 100)],
)
def test_registration_per_tier(tier: Tier, weight: int) -> None:
    state = genesis_state([Tier.GOLD])
    owner, operator = make_key("new-owner"), make_key("new-op")
    tx = registration_tx(owner, operator.public_key, tier)
    txid = compute_txid(tx)
    after, _undo = process(state, [tx])

    entry = get_entry(after, txid)
    assert entry is not None
    assert entry.tier == tier
    assert entry.owner_key == owner.public_key
    assert entry.operator_key == operator.public_key
    assert entry.registered_height == 1
    assert entry.active_from_epoch == 1
    if tier == Tier.FREE:
        assert entry.collateral is None
    else:
        assert entry.collateral == OutPoint(txid, 0)
    assert not is_active(entry, 0)
    assert is_active(entry, 1)

    later = advance_to_boundary(after)
    assert later.epoch == 1
    index = later.voting_set.index_of(operator.public_key)
    if weight == 0:
        assert index is None
        assert entry in get_active_entries(later, 1)
    else:
        assert index is not None
        assert later.voting_set.voters[index].weight == weight
        assert later.voting_set.voters[index].masternode_id == txid


def test_entries_stay_sorted_by_masternode_id() -> None:
    state = genesis_state([Tier.BRONZE] * 3)
    txs = [
        registration_tx(make_key(f"o{i}"), make_key(f"p{i}").public_key, Tier.FREE)
        for i in range(6)
    ]
    after, _undo = process(state, txs)
    ids = [e.masternode_id for e in after.entries]
    assert ids == sorted(ids)
    assert len(ids) == 9


def test_wrong_collateral_amount_rejected() -> None:
    state = genesis_state([Tier.GOLD])
    tx = registration_tx(
        make_key("o"),
        make_key("p").public_key,
        Tier.SILVER,
        collateral_amount=PARAMS.tier_params(Tier.SILVER).collateral - 1,
    )
    with pytest.raises(InvalidTransaction) as info:
        process(state, [tx])
    assert info.value.reject_code == ledger_errors.REJECT_BAD_COLLATERAL


def test_duplicate_owner_key_rejected() -> None:
    state = genesis_state([Tier.GOLD])
    tx = registration_tx(make_key("owner0"), make_key("fresh-op").public_key, Tier.BRONZE)
    with pytest.raises(InvalidTransaction) as info:
        validate_registry_transaction(tx, compute_txid(tx), state, PARAMS)
    assert info.value.reject_code == mn_errors.REJECT_DUPLICATE_OWNER_KEY


def test_duplicate_operator_key_rejected_even_while_pending() -> None:
    state = genesis_state([Tier.GOLD])
    first = registration_tx(make_key("a"), make_key("shared-op").public_key, Tier.BRONZE)
    second = registration_tx(make_key("b"), make_key("shared-op").public_key, Tier.SILVER)
    after, _undo = process(state, [first])
    with pytest.raises(InvalidTransaction) as info:
        process(after, [second])
    assert info.value.reject_code == mn_errors.REJECT_DUPLICATE_OPERATOR_KEY
    # Within one block, too.
    with pytest.raises(InvalidTransaction) as info:
        process(state, [first, second])
    assert info.value.reject_code == mn_errors.REJECT_DUPLICATE_OPERATOR_KEY


def test_genesis_operator_key_cannot_be_reused() -> None:
    state = genesis_state([Tier.GOLD])
    tx = registration_tx(make_key("x"), make_key("op0").public_key, Tier.BRONZE)
    with pytest.raises(InvalidTransaction) as info:
        process(state, [tx])
    assert info.value.reject_code == mn_errors.REJECT_DUPLICATE_OPERATOR_KEY


def test_spending_collateral_deregisters_at_next_boundary() -> None:
    state = genesis_state([Tier.GOLD, Tier.SILVER])
    silver = next(e for e in state.entries if e.tier == Tier.SILVER)
    assert silver.collateral is not None
    after, _undo = process(state, [spend_tx([silver.collateral])])

    marked = get_entry(after, silver.masternode_id)
    assert marked is not None
    assert marked.deregistered_from_epoch == 1
    assert is_active(marked, 0)
    assert not is_active(marked, 1)
    # The voting set of the running epoch keeps it until the boundary.
    assert after.voting_set.index_of(silver.operator_key) is not None

    later = advance_to_boundary(after)
    assert get_entry(later, silver.masternode_id) is None
    assert later.voting_set.index_of(silver.operator_key) is None
    assert [v.weight for v in later.voting_set.voters] == [100]


def test_spending_a_collateral_created_in_the_same_block() -> None:
    state = genesis_state([Tier.GOLD])
    tx = registration_tx(make_key("o"), make_key("p").public_key, Tier.BRONZE)
    txid = compute_txid(tx)
    after, _undo = process(state, [tx, spend_tx([OutPoint(txid, 0)])])
    entry = get_entry(after, txid)
    assert entry is not None
    assert entry.deregistered_from_epoch == 1
    later = advance_to_boundary(after)
    assert get_entry(later, txid) is None
    assert later.voting_set == advance_to_boundary(state).voting_set


def test_deregistered_keys_are_free_for_a_new_registration_in_the_same_tx() -> None:
    """An upgrade: spend the Bronze collateral and register Silver with the same keys."""
    state = genesis_state([Tier.GOLD, Tier.BRONZE])
    bronze = next(e for e in state.entries if e.tier == Tier.BRONZE)
    assert bronze.collateral is not None
    owner, operator = make_key("owner1"), make_key("op1")
    upgrade = registration_tx(
        owner, operator.public_key, Tier.SILVER, extra_inputs=[bronze.collateral]
    )
    validate_registry_transaction(upgrade, compute_txid(upgrade), state, PARAMS)
    after, _undo = process(state, [upgrade])
    later = advance_to_boundary(after)
    index = later.voting_set.index_of(operator.public_key)
    assert index is not None
    assert later.voting_set.voters[index].weight == 10
    assert later.voting_set.voters[index].masternode_id == compute_txid(upgrade)
    assert get_entry(later, bronze.masternode_id) is None


def test_rejected_block_leaves_state_unchanged() -> None:
    state = genesis_state([Tier.GOLD])
    snapshot = state
    good = registration_tx(make_key("o"), make_key("p").public_key, Tier.BRONZE)
    bad = registration_tx(make_key("owner0"), make_key("q").public_key, Tier.BRONZE)
    with pytest.raises(InvalidTransaction):
        process(state, [good, bad])
    assert state == snapshot
    assert len(state.entries) == 1


def test_validate_ignores_plain_transactions() -> None:
    state = genesis_state([Tier.GOLD])
    gold = state.entries[0]
    assert gold.collateral is not None
    tx = spend_tx([gold.collateral])
    validate_registry_transaction(tx, compute_txid(tx), state, PARAMS)

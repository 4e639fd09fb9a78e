"""Operator updates: owner signature, unknown masternodes, key uniqueness."""

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
    update_tx,
)

from timecoin.ledger import errors as ledger_errors
from timecoin.masternode import (
    MasternodeEntry,
    RegistryState,
    get_entry,
    validate_registry_transaction,
)
from timecoin.masternode import errors as mn_errors
from timecoin.params import Tier
from timecoin.types import InvalidTransaction, compute_txid


def _silver_state() -> tuple[RegistryState, MasternodeEntry]:
    state = genesis_state([Tier.GOLD, Tier.SILVER])
    silver = next(e for e in state.entries if e.tier == Tier.SILVER)
    return state, silver


def test_update_changes_entry_at_once_and_voting_set_at_boundary() -> None:
    state, silver = _silver_state()
    new_operator = make_key("new-op").public_key
    reward = bytes(range(20))
    tx = update_tx(
        silver.masternode_id,
        make_key("owner1"),
        new_operator,
        reward_address=reward,
        network_address=b"[::1]:1",
    )
    validate_registry_transaction(tx, compute_txid(tx), state, PARAMS)
    after, _undo = process(state, [tx])

    entry = get_entry(after, silver.masternode_id)
    assert entry is not None
    assert entry.operator_key == new_operator
    assert entry.reward_address == reward
    assert entry.network_address == b"[::1]:1"
    assert entry.owner_key == silver.owner_key
    assert entry.collateral == silver.collateral
    # The running epoch's committee still signs with the old key.
    assert after.voting_set == state.voting_set
    assert after.voting_set.index_of(silver.operator_key) is not None

    later = advance_to_boundary(after)
    assert later.voting_set.index_of(silver.operator_key) is None
    index = later.voting_set.index_of(new_operator)
    assert index is not None
    assert later.voting_set.voters[index].masternode_id == silver.masternode_id


def test_update_with_wrong_owner_signature() -> None:
    state, silver = _silver_state()
    # Signed by the operator key, not the owner key.
    tx = update_tx(silver.masternode_id, make_key("op1"), make_key("new-op").public_key)
    with pytest.raises(InvalidTransaction) as info:
        process(state, [tx])
    assert info.value.reject_code == ledger_errors.REJECT_BAD_OWNER_SIGNATURE
    # The owner of another masternode cannot sign for this one either.
    tx = update_tx(silver.masternode_id, make_key("owner0"), make_key("new-op").public_key)
    with pytest.raises(InvalidTransaction) as info:
        validate_registry_transaction(tx, compute_txid(tx), state, PARAMS)
    assert info.value.reject_code == ledger_errors.REJECT_BAD_OWNER_SIGNATURE


def test_update_without_owner_signature() -> None:
    state, silver = _silver_state()
    tx = update_tx(silver.masternode_id, None, make_key("new-op").public_key)
    with pytest.raises(InvalidTransaction) as info:
        process(state, [tx])
    assert info.value.reject_code == ledger_errors.REJECT_OWNER_SIGNATURE


def test_update_of_unknown_masternode() -> None:
    state, _silver = _silver_state()
    tx = update_tx(bytes(32), make_key("owner1"), make_key("new-op").public_key)
    with pytest.raises(InvalidTransaction) as info:
        process(state, [tx])
    assert info.value.reject_code == mn_errors.REJECT_UNKNOWN_MASTERNODE


def test_update_of_deregistered_masternode() -> None:
    state, silver = _silver_state()
    assert silver.collateral is not None
    after, _undo = process(state, [spend_tx([silver.collateral])])
    tx = update_tx(silver.masternode_id, make_key("owner1"), make_key("new-op").public_key)
    with pytest.raises(InvalidTransaction) as info:
        process(after, [tx])
    assert info.value.reject_code == mn_errors.REJECT_DEREGISTERED_MASTERNODE
    # Spending the collateral in the update itself deregisters first.
    tx = update_tx(
        silver.masternode_id,
        make_key("owner1"),
        make_key("new-op").public_key,
        extra_inputs=[silver.collateral],
    )
    with pytest.raises(InvalidTransaction) as info:
        process(state, [tx])
    assert info.value.reject_code == mn_errors.REJECT_DEREGISTERED_MASTERNODE


def test_update_to_another_masternodes_operator_key() -> None:
    state, silver = _silver_state()
    tx = update_tx(silver.masternode_id, make_key("owner1"), make_key("op0").public_key)
    with pytest.raises(InvalidTransaction) as info:
        process(state, [tx])
    assert info.value.reject_code == mn_errors.REJECT_DUPLICATE_OPERATOR_KEY


def test_update_keeping_or_restoring_own_operator_key() -> None:
    state, silver = _silver_state()
    owner = make_key("owner1")
    same = update_tx(silver.masternode_id, owner, silver.operator_key, funding="same")
    after, _undo = process(state, [same])
    away = update_tx(silver.masternode_id, owner, make_key("tmp").public_key, funding="away")
    back = update_tx(silver.masternode_id, owner, silver.operator_key, funding="back")
    after, _undo = process(after, [away, back])
    entry = get_entry(after, silver.masternode_id)
    assert entry is not None
    assert entry.operator_key == silver.operator_key


def test_released_operator_key_can_be_taken_by_a_new_registration() -> None:
    """Once replaced, a key is free: the two never share a voting set."""
    state, silver = _silver_state()
    moved = update_tx(silver.masternode_id, make_key("owner1"), make_key("moved").public_key)
    taker = registration_tx(make_key("taker"), silver.operator_key, Tier.BRONZE)
    after, _undo = process(state, [moved, taker])
    assert after.voting_set.index_of(silver.operator_key) is not None
    later = advance_to_boundary(after)
    index = later.voting_set.index_of(silver.operator_key)
    assert index is not None
    assert later.voting_set.voters[index].masternode_id == compute_txid(taker)
    keys = [v.operator_key for v in later.voting_set.voters]
    assert len(keys) == len(set(keys))

"""Epoch boundaries, bans by evidence, voting-set lookups and genesis."""

from __future__ import annotations

import dataclasses

import pytest
from masternode_helpers import (
    PARAMS,
    advance,
    block_hash,
    genesis_block,
    genesis_state,
    make_key,
    process,
    registration_tx,
    spend_tx,
    update_tx,
)

from timecoin.ledger import errors as ledger_errors
from timecoin.masternode import (
    compute_voting_set,
    get_entry,
    is_last_height_of_epoch,
    next_voting_set_hash,
    on_epoch_boundary,
    process_block_registry,
    registry_from_genesis,
    voting_set_for_height,
)
from timecoin.masternode import errors as mn_errors
from timecoin.params import Tier
from timecoin.types import (
    ZERO_HASH,
    InvalidBlock,
    InvalidTransaction,
    OutPoint,
    Transaction,
    TxInput,
    compute_txid,
)


def test_genesis_registrations_count_in_epoch_zero() -> None:
    state = genesis_state([Tier.BRONZE, Tier.GOLD, Tier.FREE, Tier.SILVER])
    assert state.height == 0
    assert state.epoch == 0
    assert state.previous_voting_set is None
    assert all(e.active_from_epoch == 0 and e.registered_height == 0 for e in state.entries)
    assert [v.weight for v in state.voting_set.voters] == [100, 10, 1]
    assert state.voting_set == compute_voting_set(state, 0, ZERO_HASH, PARAMS)


def test_changes_take_effect_only_at_the_epoch_boundary() -> None:
    state = genesis_state([Tier.GOLD, Tier.SILVER])
    genesis_set = state.voting_set
    tx = registration_tx(make_key("late"), make_key("late-op").public_key, Tier.SILVER)

    after, _undo = process(state, [tx])  # height 1, epoch 0
    assert after.voting_set == genesis_set
    assert next_voting_set_hash(after) == genesis_set.compute_hash()
    after = advance(after, 1)  # height 2
    assert after.voting_set == genesis_set
    assert not is_last_height_of_epoch(2, PARAMS)
    assert is_last_height_of_epoch(3, PARAMS)

    after, undo = process(after)  # height 3: the last block of epoch 0
    assert undo.crossed_epoch
    assert after.epoch == 1
    assert after.previous_voting_set == genesis_set
    assert after.voting_set.index_of(make_key("late-op").public_key) is not None
    assert next_voting_set_hash(after) == after.voting_set.compute_hash()
    assert next_voting_set_hash(after) != genesis_set.compute_hash()
    # The boundary is seeded by the prev_hash of the epoch's last block.
    expected = compute_voting_set(after, 1, block_hash(2), PARAMS)
    assert after.voting_set == expected


def test_change_in_the_last_block_of_an_epoch_counts_in_the_next() -> None:
    state = advance(genesis_state([Tier.GOLD]), 2)  # height 2
    tx = registration_tx(make_key("edge"), make_key("edge-op").public_key, Tier.BRONZE)
    after, _undo = process(state, [tx])  # height 3
    entry = get_entry(after, compute_txid(tx))
    assert entry is not None
    assert entry.active_from_epoch == 1
    assert after.voting_set.epoch == 1
    assert after.voting_set.index_of(make_key("edge-op").public_key) is not None


def test_evidence_bans_from_next_epoch_and_keeps_keys_reserved() -> None:
    state = genesis_state([Tier.GOLD, Tier.SILVER, Tier.BRONZE])
    silver = next(e for e in state.entries if e.tier == Tier.SILVER)
    after, undo = process(state, offenders=[silver.masternode_id])
    entry = get_entry(after, silver.masternode_id)
    assert entry is not None
    assert entry.banned_from_epoch == 1
    assert after.voting_set == state.voting_set
    assert [u.masternode_id for u in undo.entries_before] == [silver.masternode_id]

    # A second piece of evidence, or an unknown id, changes nothing.
    again, undo = process(after, offenders=[silver.masternode_id, bytes(32)])
    assert again.entries == after.entries
    assert undo.entries_before == ()

    later = advance(again, 1)
    assert later.epoch == 1
    assert later.voting_set.index_of(silver.operator_key) is None
    assert get_entry(later, silver.masternode_id) is not None
    reuse = registration_tx(make_key("thief"), silver.operator_key, Tier.BRONZE)
    with pytest.raises(InvalidTransaction) as info:
        process(later, [reuse])
    assert info.value.reject_code == mn_errors.REJECT_DUPLICATE_OPERATOR_KEY

    # An update cannot lift the ban; spending the collateral removes the entry.
    update = update_tx(silver.masternode_id, make_key("owner1"), make_key("x").public_key)
    updated, _undo = process(later, [update])
    banned = get_entry(updated, silver.masternode_id)
    assert banned is not None
    assert banned.banned_from_epoch == 1
    assert silver.collateral is not None
    gone = advance(process(updated, [spend_tx([silver.collateral])])[0], 3)
    assert gone.epoch == 2
    assert get_entry(gone, silver.masternode_id) is None


def test_voting_set_for_height() -> None:
    state = genesis_state([Tier.GOLD, Tier.BRONZE])
    assert voting_set_for_height(state, 1, PARAMS) == state.voting_set
    assert voting_set_for_height(state, 3, PARAMS) == state.voting_set
    assert voting_set_for_height(state, 4, PARAMS) is None
    crossed = advance(state, 3)  # after block 3
    assert voting_set_for_height(crossed, 3, PARAMS) == state.voting_set
    assert voting_set_for_height(crossed, 4, PARAMS) == crossed.voting_set
    assert voting_set_for_height(crossed, 8, PARAMS) is None
    two = advance(crossed, 4)  # after block 7
    assert voting_set_for_height(two, 3, PARAMS) is None
    assert voting_set_for_height(two, 7, PARAMS) == crossed.voting_set


def test_process_rejects_wrong_height_and_txids() -> None:
    state = genesis_state([Tier.GOLD])
    with pytest.raises(ValueError, match="height"):
        process_block_registry(state, 2, block_hash(1), [], [], [], PARAMS)
    tx = spend_tx([])
    with pytest.raises(ValueError, match="txids"):
        process_block_registry(state, 1, block_hash(0), [tx], [], [], PARAMS)


def test_on_epoch_boundary_direct_call() -> None:
    state = advance(genesis_state([Tier.GOLD, Tier.SILVER]), 2)
    with pytest.raises(ValueError, match="new epoch"):
        on_epoch_boundary(state, 2, block_hash(2), PARAMS)
    with pytest.raises(ValueError, match="seed"):
        on_epoch_boundary(state, 1, b"short", PARAMS)
    direct = on_epoch_boundary(state, 1, block_hash(2), PARAMS)
    via_block, _undo = process(state)
    assert direct.voting_set == via_block.voting_set
    assert direct.previous_voting_set == state.voting_set
    assert direct.entries == via_block.entries


def test_genesis_rejects_operator_updates_and_inputs() -> None:
    reg = registration_tx(make_key("g"), make_key("g-op").public_key, Tier.GOLD, genesis=True)
    update = update_tx(compute_txid(reg), make_key("g"), make_key("other").public_key)
    with pytest.raises(InvalidBlock) as info:
        registry_from_genesis(genesis_block([reg, update]), PARAMS)
    assert info.value.reject_code == ledger_errors.REJECT_BAD_GENESIS

    with_input = registration_tx(make_key("h"), make_key("h-op").public_key, Tier.GOLD)
    with pytest.raises(InvalidBlock) as info:
        registry_from_genesis(genesis_block([with_input]), PARAMS)
    assert info.value.reject_code == ledger_errors.REJECT_BAD_GENESIS

    with pytest.raises(InvalidBlock) as info:
        registry_from_genesis(genesis_block([reg], height=1), PARAMS)
    assert info.value.reject_code == ledger_errors.REJECT_BAD_GENESIS


def test_genesis_rejects_duplicate_keys_and_ignores_plain_transactions() -> None:
    a = registration_tx(make_key("a"), make_key("op").public_key, Tier.GOLD, genesis=True)
    b = registration_tx(make_key("b"), make_key("op").public_key, Tier.GOLD, genesis=True)
    with pytest.raises(InvalidBlock) as info:
        registry_from_genesis(genesis_block([a, b]), PARAMS)
    assert info.value.reject_code == mn_errors.REJECT_DUPLICATE_OPERATOR_KEY

    allocation = Transaction(
        version=1,
        inputs=[],
        outputs=spend_tx([]).outputs,
        lock_time=0,
        payload=None,
        signatures=[],
        owner_signature=None,
    )
    state = registry_from_genesis(genesis_block([allocation, a]), PARAMS)
    assert [e.masternode_id for e in state.entries] == [compute_txid(a)]


def test_genesis_with_one_block_epochs_moves_to_epoch_one() -> None:
    params = dataclasses.replace(PARAMS, epoch_length=1)
    state = genesis_state([Tier.GOLD, Tier.SILVER], params=params)
    assert state.epoch == 1
    assert state.previous_voting_set is not None
    assert state.previous_voting_set.epoch == 0
    assert state.voting_set.voters == state.previous_voting_set.voters
    after, undo = process(state, params=params)
    assert undo.crossed_epoch
    assert after.epoch == 2


def test_spend_input_with_unrelated_outpoints_changes_nothing() -> None:
    state = genesis_state([Tier.GOLD])
    tx = spend_tx([])
    tx = Transaction(
        version=tx.version,
        inputs=[*tx.inputs, TxInput(OutPoint(bytes(32), 7), bytes(32))],
        outputs=tx.outputs,
        lock_time=0,
        payload=None,
        signatures=[*tx.signatures, bytes(64)],
        owner_signature=None,
    )
    after, undo = process(state, [tx])
    assert after.entries is state.entries
    assert undo.entries_before == ()

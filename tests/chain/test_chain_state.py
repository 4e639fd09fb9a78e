"""The chain state from genesis, voting sets by height, undo of the tip, and
the certificate functions shared with consensus."""

from __future__ import annotations

from dataclasses import replace as dc_replace

import msgspec
import pytest
from chain_helpers import (
    ALICE,
    ALLOCATION_AMOUNT,
    BOB,
    GENESIS,
    OPERATORS,
    PARAMS,
    Node,
    allocation,
    genesis_spec,
    transfer,
    vote_evidence,
)

import timecoin.consensus as consensus
import timecoin.consensus.signing as consensus_signing
from timecoin import chain
from timecoin.chain import (
    build_genesis_state,
    chain_state_from_genesis,
    errors,
    undo_applied_block,
    voting_set_at,
)
from timecoin.crypto import sha256
from timecoin.ledger import MemoryUtxoSet
from timecoin.ledger import errors as ledger_errors
from timecoin.masternode import next_voting_set_hash, registry_from_genesis
from timecoin.params import DEVNET
from timecoin.types import (
    Block,
    InvalidBlock,
    compute_block_hash,
    compute_evidence_hash,
)

replace = msgspec.structs.replace


def genesis_code(block: Block, params: object = PARAMS) -> str:
    with pytest.raises(InvalidBlock) as info:
        chain_state_from_genesis(block, params)  # type: ignore[arg-type]
    return info.value.reject_code


def test_state_from_genesis_matches_the_builder() -> None:
    built = build_genesis_state(genesis_spec())
    state, delta = chain_state_from_genesis(built.block, PARAMS)
    assert state.height == 0
    assert state.block_hash == compute_block_hash(built.block.header)
    assert state.header == built.block.header
    assert delta.created == built.delta.created
    assert state.utxo_state.digest() == built.block.header.utxo_commitment
    assert state.registry == registry_from_genesis(built.block, PARAMS)
    assert built.block.header.next_voting_set_hash == next_voting_set_hash(state.registry)
    assert MemoryUtxoSet(delta.created).commitment() == state.header.utxo_commitment


def test_genesis_pinned_by_params() -> None:
    pinned = PARAMS.with_genesis(compute_block_hash(GENESIS.header))
    chain_state_from_genesis(GENESIS, pinned)
    other = PARAMS.with_genesis(sha256(b"another genesis"))
    assert genesis_code(GENESIS, other) == errors.REJECT_WRONG_GENESIS


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"utxo_commitment": sha256(b"x")}, errors.REJECT_BAD_UTXO_COMMITMENT),
        ({"next_voting_set_hash": sha256(b"x")}, errors.REJECT_BAD_NEXT_VOTING_SET_HASH),
        ({"tx_root": sha256(b"x")}, errors.REJECT_BAD_TX_ROOT),
        ({"witness_root": sha256(b"x")}, errors.REJECT_BAD_WITNESS_ROOT),
        ({"height": 1}, ledger_errors.REJECT_BAD_GENESIS),
        ({"prev_hash": sha256(b"x")}, ledger_errors.REJECT_BAD_GENESIS),
        ({"evidence_hash": sha256(b"x")}, ledger_errors.REJECT_BAD_GENESIS),
        ({"version": 2}, errors.REJECT_BAD_BLOCK_VERSION),
        ({"chain_id": DEVNET.chain_id}, errors.REJECT_WRONG_CHAIN_ID),
    ],
)
def test_genesis_rules(changes: dict[str, object], code: str) -> None:
    block = replace(GENESIS, header=replace(GENESIS.header, **changes))
    assert genesis_code(block) == code


def test_genesis_with_evidence_is_rejected() -> None:
    evidence = [vote_evidence(OPERATORS[0], 0)]
    block = replace(
        GENESIS,
        header=replace(GENESIS.header, evidence_hash=compute_evidence_hash(evidence)),
        evidence=evidence,
    )
    assert genesis_code(block) == ledger_errors.REJECT_BAD_GENESIS


def test_voting_set_at_holds_the_current_and_previous_epoch() -> None:
    node = Node.from_genesis()
    for _ in range(5):
        node.accept(node.build())
    state = node.state  # height 5, epoch 1; the next block is 6
    assert PARAMS.epoch_length == 4
    for height in (4, 5, 6, 7):
        voting_set = voting_set_at(state, height)
        assert voting_set is not None and voting_set.epoch == 1
    for height in (0, 3):
        voting_set = voting_set_at(state, height)
        assert voting_set is not None and voting_set.epoch == 0
    assert voting_set_at(state, 8) is None
    voting_set = voting_set_at(state, 6)
    assert voting_set is not None
    assert sorted(v.operator_key for v in voting_set.voters) == sorted(
        k.public_key for k in OPERATORS
    )


def test_undo_restores_the_parent_state() -> None:
    node = Node.from_genesis()
    node.accept(node.build([transfer(allocation(0), ALLOCATION_AMOUNT, ALICE, BOB)]))
    parent, parent_coins = node.state, dict(node.view.coins)
    applied = node.build([transfer(allocation(1), ALLOCATION_AMOUNT, ALICE, BOB)])
    node.accept(applied)
    before, delta = undo_applied_block(
        node.state, applied.block, applied.undo, applied.registry_undo, parent.header
    )
    assert (before.height, before.block_hash, before.header) == (
        parent.height,
        parent.block_hash,
        parent.header,
    )
    assert before.registry == parent.registry
    assert before.utxo_state.digest() == parent.utxo_state.digest()
    view = MemoryUtxoSet(node.view.coins)
    view.apply_delta(delta)
    assert view.coins == parent_coins
    # The state after is a value: undo did not change it.
    assert node.state.utxo_state.digest() == applied.block.header.utxo_commitment


def test_undo_refuses_records_that_do_not_fit() -> None:
    node = Node.from_genesis()
    first = node.build([transfer(allocation(0), ALLOCATION_AMOUNT, ALICE, BOB)])
    node.accept(first)
    second = node.build([transfer(allocation(1), ALLOCATION_AMOUNT, ALICE, BOB)])
    node.accept(second)
    tip, parent_header = node.state, first.block.header
    digest = tip.utxo_state.digest()
    cases = [
        (first.block, second.undo, second.registry_undo, parent_header),  # not the tip
        (second.block, second.undo, second.registry_undo, GENESIS.header),  # wrong parent
        (second.block, first.undo, second.registry_undo, parent_header),  # wrong ledger undo
        (second.block, second.undo, first.registry_undo, parent_header),  # wrong registry undo
    ]
    for block, undo, registry_undo, prev_header in cases:
        with pytest.raises(InvalidBlock) as info:
            undo_applied_block(tip, block, undo, registry_undo, prev_header)
        assert info.value.reject_code == ledger_errors.REJECT_BAD_UNDO
    assert tip.utxo_state.digest() == digest


def test_chain_state_is_immutable() -> None:
    state = Node.from_genesis().state
    with pytest.raises(AttributeError):
        state.height = 1  # type: ignore[misc]
    assert dc_replace(state, height=1).height == 1 and state.height == 0


@pytest.mark.parametrize(
    "name",
    [
        "check_vote_type",
        "compute_proposal_signing_message",
        "compute_vote_signing_message",
        "encode_proposal_payload",
        "encode_vote_payload",
        "is_vote_type",
        "verify_certificate",
        "verify_proposal_signature",
        "verify_vote_signature",
    ],
)
def test_consensus_uses_the_chain_certificate_functions(name: str) -> None:
    assert getattr(consensus_signing, name) is getattr(chain, name)
    assert getattr(consensus, name) is getattr(chain, name)

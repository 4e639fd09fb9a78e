"""A full chain in the style of btcd's full-block tests: blocks 1..13 with
transfers, a registration, a deregistration and evidence, crossing three
epoch boundaries; every block built by one node and validated by another on
its own state and UTXO set; then every block undone."""

from __future__ import annotations

from pathlib import Path

import pytest
from chain_helpers import (
    ALICE,
    ALLOCATION_AMOUNT,
    BOB,
    FEE,
    GENESIS,
    GENESIS_MASTERNODE_IDS,
    OPERATORS,
    OWNERS,
    PARAMS,
    Node,
    address_of,
    allocation,
    collateral_of,
    make_key,
    make_tx,
    registration,
    transfer,
    vote_evidence,
)

from timecoin.chain import (
    AppliedBlock,
    ChainState,
    chain_state_from_genesis,
    undo_applied_block,
    voting_set_at,
)
from timecoin.encoding import decode, encode
from timecoin.masternode import get_entry, next_voting_set_hash
from timecoin.params import COIN
from timecoin.storage import ChainStore, LmdbStore
from timecoin.storage.chainstate import (
    StoredVotingSets,
    commit_applied,
    init_genesis_state,
    read_chain_state,
)
from timecoin.types import Block, OutPoint, compute_block_hash, compute_txid

NEW_OWNER = make_key("owner/new")
NEW_OPERATOR = make_key("operator/new")


def operators_of(state: ChainState, height: int) -> list[bytes]:
    voting_set = voting_set_at(state, height)
    assert voting_set is not None
    return sorted(v.operator_key for v in voting_set.voters)


def sorted_keys(*keys: bytes) -> list[bytes]:
    return sorted(keys)


def same_state(a: ChainState, b: ChainState) -> bool:
    return (
        a.height == b.height
        and a.block_hash == b.block_hash
        and a.header == b.header
        and a.registry == b.registry
        and a.utxo_state.digest() == b.utxo_state.digest()
    )


class Chain:
    """The builder node and an independent validating node, in lockstep."""

    def __init__(self) -> None:
        self.builder = Node.from_genesis()
        self.follower = Node.from_genesis()
        self.states: list[ChainState] = [self.builder.state]
        self.views: list[dict[OutPoint, object]] = [dict(self.builder.view.coins)]
        self.applied: list[AppliedBlock] = []

    def add(self, transactions: list[object] | None = None, **kwargs: object) -> AppliedBlock:
        applied = self.builder.build(transactions or [], **kwargs)  # type: ignore[arg-type]
        # The follower gets the block as bytes from the wire.
        block = decode(encode(applied.block), Block, PARAMS.sizes.max_block_bytes)
        checked = self.follower.validate(block)
        assert checked.block_hash == applied.block_hash == compute_block_hash(block.header)
        assert same_state(checked.state_after, applied.state_after)
        assert checked.delta == applied.delta and checked.undo == applied.undo
        assert checked.registry_undo == applied.registry_undo and checked.fees == applied.fees
        self.builder.accept(applied)
        self.follower.accept(checked)
        header = block.header
        assert header.utxo_commitment == self.follower.view.commitment()
        assert header.next_voting_set_hash == next_voting_set_hash(checked.state_after.registry)
        assert header.epoch == PARAMS.epoch_of(header.height)
        self.states.append(self.builder.state)
        self.views.append(dict(self.builder.view.coins))
        self.applied.append(applied)
        return applied


@pytest.fixture(scope="module")
def chain() -> Chain:
    chain = Chain()
    genesis_operators = [k.public_key for k in OPERATORS]
    state0 = chain.builder.state
    assert state0.height == 0 and state0.block_hash == compute_block_hash(GENESIS.header)
    assert operators_of(state0, 1) == sorted(genesis_operators)

    # 1: a transfer from a genesis allocation.
    tx1 = transfer(allocation(0), ALLOCATION_AMOUNT, ALICE, BOB, 100 * COIN)
    applied = chain.add([tx1])
    assert applied.fees == FEE
    coinbase = applied.block.transactions[0]
    assert coinbase.lock_time == 1 and coinbase.outputs[0].amount == PARAMS.block_subsidy + FEE

    # 2: a Bronze registration; it joins the voting set of epoch 1.
    reg = registration(allocation(1), ALLOCATION_AMOUNT, ALICE, NEW_OWNER, NEW_OPERATOR)
    chain.add([reg])
    assert operators_of(chain.builder.state, 3) == sorted(genesis_operators)

    # 3: last block of epoch 0, with a chain of two transfers inside the block.
    bob_coin = OutPoint(compute_txid(tx1), 0)
    tx3a = transfer(bob_coin, 100 * COIN, BOB, ALICE, 40 * COIN)
    tx3b = transfer(OutPoint(compute_txid(tx3a), 1), 60 * COIN - FEE, BOB, ALICE)
    applied = chain.add([tx3a, tx3b])
    assert applied.fees == 2 * FEE
    assert operators_of(chain.builder.state, 4) == sorted(
        [*genesis_operators, NEW_OPERATOR.public_key]
    )

    # 4: first block of epoch 1 (certificate by the 4 voters of epoch 0),
    # proposed by the new masternode.
    applied = chain.add([], proposer=NEW_OPERATOR.public_key)
    assert applied.block.prev_certificate is not None
    assert len(applied.block.prev_certificate.signatures) == 4
    reg_id = compute_txid(reg)
    entry = get_entry(chain.builder.state.registry, reg_id)
    assert entry is not None
    assert applied.block.transactions[0].outputs[0].address == address_of(NEW_OWNER)

    # 5: masternode 0's owner spends its collateral (deregistration), and
    # evidence against operator 1's double prevote at height 4.
    dereg = make_tx(
        [(collateral_of(GENESIS_MASTERNODE_IDS[0]), OWNERS[0])],
        [(1_000 * COIN - FEE, address_of(OWNERS[0]))],
    )
    chain.add([dereg], evidence=[vote_evidence(OPERATORS[1], 4)])
    registry = chain.builder.state.registry
    dropped = get_entry(registry, GENESIS_MASTERNODE_IDS[0])
    banned = get_entry(registry, GENESIS_MASTERNODE_IDS[1])
    assert dropped is not None and dropped.deregistered_from_epoch == 2
    assert banned is not None and banned.banned_from_epoch == 2
    # Both still vote in epoch 1.
    assert len(operators_of(chain.builder.state, 6)) == 5

    # 6, 7: transfers; 7 ends epoch 1.
    chain.add([transfer(allocation(2), ALLOCATION_AMOUNT, ALICE, BOB)])
    chain.add([transfer(allocation(3), ALLOCATION_AMOUNT, ALICE, BOB)])
    assert operators_of(chain.builder.state, 8) == sorted(
        [OPERATORS[2].public_key, OPERATORS[3].public_key, NEW_OPERATOR.public_key]
    )
    assert get_entry(chain.builder.state.registry, GENESIS_MASTERNODE_IDS[0]) is None

    # 8..13: epoch 2 (certificate by epoch 1's 5 voters at 8) and into epoch 3.
    applied = chain.add([transfer(allocation(4), ALLOCATION_AMOUNT, ALICE, BOB)])
    assert applied.block.prev_certificate is not None
    assert len(applied.block.prev_certificate.signatures) == 5
    for n in range(5):
        chain.add([transfer(allocation(5 + n % 3), ALLOCATION_AMOUNT, ALICE, BOB)] if n < 3 else [])
    assert chain.builder.state.height == 13
    assert chain.builder.state.header.epoch == 3
    return chain


def test_chain_reaches_height_13_across_three_boundaries(chain: Chain) -> None:
    epochs = [s.header.epoch for s in chain.states]
    assert epochs == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3]
    hashes = [s.next_voting_set_hash for s in (st.header for st in chain.states)]
    # The commitment changes exactly at the last block of each epoch.
    changes = [h for h in range(1, 14) if hashes[h] != hashes[h - 1]]
    assert changes == [3, 7, 11]


def test_follower_recomputes_the_builder_state(chain: Chain) -> None:
    assert same_state(chain.builder.state, chain.follower.state)
    assert chain.builder.view.coins == chain.follower.view.coins


def test_supply_is_conserved(chain: Chain) -> None:
    # Fees go to the coinbase, so the supply grows by exactly the subsidy.
    genesis_supply = sum(c.amount for c in chain.views[0].values())  # type: ignore[attr-defined]
    supply = sum(c.amount for c in chain.builder.view.coins.values())
    assert supply == genesis_supply + 13 * PARAMS.block_subsidy


def test_undo_back_to_genesis_restores_every_state(chain: Chain) -> None:
    node = Node(chain.builder.state, chain.builder.view.__class__(chain.builder.view.coins))
    state = chain.builder.state
    for height in range(13, 0, -1):
        applied = chain.builder.applied[height - 1]
        prev_header = chain.builder.headers[height - 1]
        state, delta = undo_applied_block(
            state, applied.block, applied.undo, applied.registry_undo, prev_header
        )
        node.view.apply_delta(delta)
        assert same_state(state, chain.states[height - 1])
        assert node.view.coins == chain.views[height - 1]
    genesis_state, _ = chain_state_from_genesis(GENESIS, PARAMS)
    assert same_state(state, genesis_state)


def test_a_second_builder_makes_the_same_blocks(chain: Chain) -> None:
    replay = Node.from_genesis()
    for applied in chain.builder.applied:
        block = applied.block
        rebuilt = replay.build(
            block.transactions[1:],
            evidence=block.evidence,
            proposer=block.header.proposer,
            timestamp_ms=block.header.timestamp_ms,
        )
        assert encode(rebuilt.block) == encode(block)
        replay.accept(rebuilt)


def test_stored_chain_state_reads_back_at_every_height(chain: Chain, tmp_path: Path) -> None:
    """Each block committed with its chain state (registration, deregistration,
    evidence, three epoch boundaries) reads back as the builder's state, with
    no replay (ADR 0010)."""
    with LmdbStore(tmp_path / "chain") as kv:
        store = ChainStore(kv)
        init_genesis_state(store, GENESIS, *chain_state_from_genesis(GENESIS, PARAMS))
        assert same_state(read_chain_state(store, PARAMS), chain.states[0])
        for applied, expected in zip(chain.applied, chain.states[1:], strict=True):
            commit_applied(store, applied)
            restored = read_chain_state(store, PARAMS)
            assert same_state(restored, expected)
            assert restored.reported_locks == expected.reported_locks
        voting_sets = StoredVotingSets(kv)
        assert sorted(voting_sets) == [0, 1, 2, 3]
        for state in chain.states:
            assert voting_sets[state.registry.epoch] == state.registry.voting_set

"""select_block_transactions and build_block: what gets in, and that a built
block always passes validate_block on an independent node."""

from __future__ import annotations

from dataclasses import replace as dc_replace

import msgspec
import pytest
from chain_helpers import (
    ALICE,
    ALLOCATION_AMOUNT,
    BOB,
    FEE,
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
from hypothesis import given, settings
from hypothesis import strategies as st

from timecoin.chain import (
    ChainState,
    build_block,
    check_block,
    compute_block_overhead_bytes,
    select_block_transactions,
)
from timecoin.crypto import verify
from timecoin.encoding import encode
from timecoin.ledger import MemoryUtxoSet, SignatureCache, compute_tx_size
from timecoin.masternode import get_entry
from timecoin.params import COIN, SizeLimits
from timecoin.types import OperatorUpdate, OutPoint, Transaction, compute_txid

replace = msgspec.structs.replace


def build_base() -> Node:
    """A node at height 5 (epoch 1); allocations 0, 1 and 2 are spent."""
    node = Node.from_genesis()
    for height in range(1, 6):
        spend = [transfer(allocation(height - 1), ALLOCATION_AMOUNT, ALICE, BOB)]
        node.accept(node.build(spend if height <= 3 else []))
    return node


BASE = build_base()


def fresh(node: Node = BASE) -> Node:
    return Node(node.state, MemoryUtxoSet(node.view.coins))


PAY_3 = transfer(allocation(3), ALLOCATION_AMOUNT, ALICE, BOB)
PAY_3_AGAIN = transfer(allocation(3), ALLOCATION_AMOUNT, ALICE, BOB, 7 * COIN)
CHILD_OF_PAY_3 = transfer(OutPoint(compute_txid(PAY_3), 0), ALLOCATION_AMOUNT // 2, BOB, ALICE)
PAY_4 = transfer(allocation(4), ALLOCATION_AMOUNT, ALICE, BOB)
SPENT_COIN = transfer(allocation(0), ALLOCATION_AMOUNT, ALICE, BOB)
BAD_SIGNATURE = replace(
    transfer(allocation(5), ALLOCATION_AMOUNT, ALICE, BOB), signatures=[bytes(64)]
)
TOO_EXPENSIVE = make_tx([(allocation(6), ALICE)], [(ALLOCATION_AMOUNT, address_of(BOB))])
LOCKED = make_tx(
    [(allocation(6), ALICE)], [(ALLOCATION_AMOUNT - FEE, address_of(BOB))], lock_time=100
)
REGISTER_A = registration(allocation(7), ALLOCATION_AMOUNT, ALICE, make_key("a/o"), make_key("a/p"))
REGISTER_B_SAME_OPERATOR = registration(
    allocation(6), ALLOCATION_AMOUNT, ALICE, make_key("b/o"), make_key("a/p")
)
DEREGISTER_0 = make_tx(
    [(collateral_of(GENESIS_MASTERNODE_IDS[0]), OWNERS[0])],
    [(1_000 * COIN - FEE, address_of(OWNERS[0]))],
)
UPDATE_0 = make_tx(
    [(OutPoint(compute_txid(PAY_4), 1), ALICE)],
    [(ALLOCATION_AMOUNT // 2 - 2 * FEE, address_of(ALICE))],
    payload=OperatorUpdate(
        masternode_id=GENESIS_MASTERNODE_IDS[0],
        operator_key=make_key("new operator 0").public_key,
        reward_address=address_of(OWNERS[0]),
        network_address=b"127.0.0.1:1",
    ),
    owner=OWNERS[0],
)
COINBASE = Node.from_genesis().build().block.transactions[0]

POOL = [
    PAY_3,
    PAY_3_AGAIN,
    CHILD_OF_PAY_3,
    PAY_4,
    SPENT_COIN,
    BAD_SIGNATURE,
    TOO_EXPENSIVE,
    LOCKED,
    REGISTER_A,
    REGISTER_B_SAME_OPERATOR,
    DEREGISTER_0,
    UPDATE_0,
    COINBASE,
]
NEVER_VALID = {compute_txid(tx) for tx in (SPENT_COIN, BAD_SIGNATURE, TOO_EXPENSIVE, LOCKED)}


def select(candidates: list[Transaction], node: Node = BASE, **kwargs: object) -> list[bytes]:
    kept = select_block_transactions(candidates, node.state, node.view, **kwargs)  # type: ignore[arg-type]
    return [compute_txid(tx) for tx in kept]


def ids(*txs: Transaction) -> list[bytes]:
    return [compute_txid(tx) for tx in txs]


def test_keeps_valid_transactions_in_order() -> None:
    assert select([PAY_4, PAY_3, CHILD_OF_PAY_3]) == ids(PAY_4, PAY_3, CHILD_OF_PAY_3)


def test_skips_invalid_conflicting_and_repeated_transactions() -> None:
    candidates = [SPENT_COIN, PAY_3, PAY_3, PAY_3_AGAIN, BAD_SIGNATURE, TOO_EXPENSIVE, LOCKED]
    assert select([*candidates, COINBASE]) == ids(PAY_3)


def test_a_child_before_its_parent_is_skipped() -> None:
    assert select([CHILD_OF_PAY_3, PAY_3]) == ids(PAY_3)


def test_registry_rules_apply_after_earlier_kept_transactions() -> None:
    assert select([REGISTER_A, REGISTER_B_SAME_OPERATOR]) == ids(REGISTER_A)
    # Spending the collateral deregisters: a later update is refused, an
    # earlier one is kept.
    assert select([PAY_4, DEREGISTER_0, UPDATE_0]) == ids(PAY_4, DEREGISTER_0)
    assert select([PAY_4, UPDATE_0, DEREGISTER_0]) == ids(PAY_4, UPDATE_0, DEREGISTER_0)


def test_max_count_and_the_transaction_limit() -> None:
    assert select([PAY_3, PAY_4], max_count=1) == ids(PAY_3)
    tight = fresh()
    tight.state = dc_replace(
        BASE.state, params=dc_replace(PARAMS, sizes=SizeLimits(max_block_transactions=2))
    )
    assert select([PAY_3, PAY_4], tight) == ids(PAY_3)


def test_selected_transactions_fit_the_block_size() -> None:
    overhead = compute_block_overhead_bytes(PARAMS)
    size = compute_tx_size(PAY_3)
    params = dc_replace(PARAMS, sizes=SizeLimits(max_block_bytes=overhead + size + size // 2))
    node = fresh()
    node.state = dc_replace(BASE.state, params=params)
    kept = select_block_transactions([PAY_3, PAY_4], node.state, node.view)
    assert ids(*kept) == ids(PAY_3)
    applied = node.build(kept)
    check_block(applied.block, params)
    assert len(encode(applied.block)) <= params.sizes.max_block_bytes


def test_overhead_bounds_a_block_with_full_certificate_and_evidence() -> None:
    node = fresh()
    evidence = [vote_evidence(OPERATORS[i], 5) for i in range(2)]
    block = node.build([], evidence=evidence).block
    without_txs = len(encode(msgspec.structs.replace(block, transactions=block.transactions[:1])))
    assert without_txs <= compute_block_overhead_bytes(PARAMS)


def test_signature_cache_is_filled_by_selection() -> None:
    cache = SignatureCache()
    kept = select_block_transactions([PAY_3, PAY_4], BASE.state, BASE.view, sig_cache=cache)
    assert len(cache) == 2
    applied = build_block(
        BASE.state,
        BASE.view,
        kept,
        timestamp_ms=BASE.state.header.timestamp_ms + PARAMS.block_interval_ms,
        proposer=OPERATORS[0].public_key,
        prev_certificate=BASE.build().block.prev_certificate,
        verifier=verify,
        sig_cache=cache,
    )
    assert applied.fees == 2 * FEE


def test_coinbase_pays_the_proposer_reward_address_or_nothing_below_dust() -> None:
    block = BASE.build([PAY_3], proposer=OPERATORS[2].public_key).block
    coinbase = block.transactions[0]
    entry = get_entry(BASE.state.registry, GENESIS_MASTERNODE_IDS[2])
    assert entry is not None
    assert [(o.amount, o.address) for o in coinbase.outputs] == [
        (PARAMS.block_subsidy + FEE, entry.reward_address)
    ]
    node = fresh()
    node.state = dc_replace(BASE.state, params=dc_replace(PARAMS, block_subsidy=0))
    empty = node.build([]).block
    assert empty.transactions[0].outputs == []
    node.validate(empty)


def _state_digest(state: ChainState) -> tuple[object, ...]:
    return (state.height, state.block_hash, encode(state.registry), state.utxo_state.digest())


@settings(max_examples=40)
@given(
    picks=st.lists(st.sampled_from(range(len(POOL))), max_size=12),
    with_evidence=st.booleans(),
    max_count=st.none() | st.integers(min_value=0, max_value=6),
)
def test_built_blocks_always_pass_validate_block(
    picks: list[int], with_evidence: bool, max_count: int | None
) -> None:
    builder = fresh()
    candidates = [POOL[i] for i in picks]
    kept = select_block_transactions(candidates, builder.state, builder.view, max_count=max_count)
    kept_ids = ids(*kept)
    assert not NEVER_VALID & set(kept_ids)
    assert len(set(kept_ids)) == len(kept_ids)
    # The kept transactions are a subsequence of the candidates.
    remaining = iter(ids(*candidates))
    assert all(txid in remaining for txid in kept_ids)
    evidence = [vote_evidence(OPERATORS[3], 4)] if with_evidence else []
    applied = builder.build(kept, evidence=evidence)
    follower = fresh()
    checked = follower.validate(applied.block)
    assert checked.block_hash == applied.block_hash
    assert _state_digest(checked.state_after) == _state_digest(applied.state_after)
    assert checked.delta == applied.delta
    follower.accept(checked)
    assert follower.view.commitment() == applied.block.header.utxo_commitment


@pytest.mark.parametrize("height_offset", [0, 1, 2, 3])
def test_built_blocks_across_a_boundary_commit_to_the_next_voting_set(height_offset: int) -> None:
    node = fresh()
    for _ in range(height_offset):
        node.accept(node.build())
    applied = node.build()
    checked = fresh(node).validate(applied.block)
    assert checked.state_after.registry.voting_set.epoch == PARAMS.epoch_of(
        applied.block.header.height + 1
    )

"""Hypothesis state machine: blocks committed and reverted with their chain
state and indexes (`commit_applied`, `revert_applied`) against a model.

The model is the crash chain applied forward once: at each height, the
chain state, the UTXO set and the index entries. After every step the store
must read back exactly the model of its height: the state (tip, registry,
UTXO commitment, reported locks) through `read_chain_state`, the coins,
and every index entry.
"""

from __future__ import annotations

from functools import cache

from chain_helpers import GENESIS, PARAMS, Node
from chain_state_crash_chain import CRASH_CHAIN_BLOCKS, build_crash_chain
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from timecoin.chain import ChainState, chain_state_from_genesis
from timecoin.storage import ChainStore, KVStore, MemoryStore
from timecoin.storage.chainstate import (
    commit_applied,
    init_genesis_state,
    read_chain_state,
    revert_applied,
)
from timecoin.storage.indexes import INDEX_NAMES
from timecoin.storage.schema import (
    ADDRESS_INDEX_PREFIX,
    INDEX_STATE_PREFIX,
    SPENT_INDEX_PREFIX,
    TX_INDEX_PREFIX,
)
from timecoin.types import Coin, OutPoint

INDEX_PREFIXES = (TX_INDEX_PREFIX, SPENT_INDEX_PREFIX, ADDRESS_INDEX_PREFIX, INDEX_STATE_PREFIX)


def _indexes(kv: KVStore) -> dict[bytes, bytes]:
    return {k: v for prefix in INDEX_PREFIXES for k, v in kv.iter_prefix(prefix)}


@cache
def _model() -> tuple[list[ChainState], list[dict[OutPoint, Coin]], list[dict[bytes, bytes]]]:
    """States, coins and index entries at heights 0..CRASH_CHAIN_BLOCKS."""
    blocks = build_crash_chain()
    node = Node.from_genesis(GENESIS)
    store = ChainStore(MemoryStore())
    store.indexes = frozenset(INDEX_NAMES)
    init_genesis_state(store, GENESIS, *chain_state_from_genesis(GENESIS, PARAMS))
    states, coins, indexes = [node.state], [dict(node.view.coins)], [_indexes(store.kv)]
    for applied in blocks:
        commit_applied(store, applied)
        node.accept(applied)
        states.append(node.state)
        coins.append(dict(node.view.coins))
        indexes.append(_indexes(store.kv))
    return states, coins, indexes


class CommitAndRevert(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = build_crash_chain()
        self.store = ChainStore(MemoryStore())
        self.store.indexes = frozenset(INDEX_NAMES)
        init_genesis_state(self.store, GENESIS, *chain_state_from_genesis(GENESIS, PARAMS))
        self.height = 0

    @precondition(lambda self: self.height < CRASH_CHAIN_BLOCKS)
    @rule()
    def commit(self) -> None:
        commit_applied(self.store, self.blocks[self.height])
        self.height += 1

    @precondition(lambda self: self.height > 0)
    @rule()
    def revert(self) -> None:
        before = revert_applied(self.store, self.blocks[self.height - 1])
        self.height -= 1
        assert before.block_hash == _model()[0][self.height].block_hash

    @invariant()
    def matches_the_model(self) -> None:
        states, coins, indexes = _model()
        state = read_chain_state(self.store, PARAMS)
        expected = states[self.height]
        assert state.block_hash == expected.block_hash
        assert state.registry == expected.registry
        assert state.utxo_state.digest() == expected.utxo_state.digest()
        assert dict(state.reported_locks) == dict(expected.reported_locks)
        assert dict(self.store.iter_utxos()) == coins[self.height]
        assert _indexes(self.store.kv) == indexes[self.height]


CommitAndRevert.TestCase.settings = settings(max_examples=30, stateful_step_count=60)
TestCommitAndRevert = CommitAndRevert.TestCase

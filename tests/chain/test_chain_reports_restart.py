"""Reported locks survive a node restart (ADR 0004).

The node's driver writes each block's lock changes to the store's
`reported_lock` key space with the block (`ChainStore.commit_block`
`locks_created`/`locks_released`), and a restarted node rebuilds its state
from the stored chain state (`storage.chainstate.read_chain_state`), and a
store migrated from schema 3 by replaying its blocks: all must give
the locks of the chain that was followed, after the lock's creation at an
epoch's last block, across a later epoch boundary, and after its release
by the block that spends the outpoint.
"""

from __future__ import annotations

from chain_helpers import GENESIS, make_certificate, proposer_for
from test_chain_reports import PARAMS, PAY, Chain, Committee, entry, lock_chain, report_for

from timecoin.chain import AppliedBlock, build_block, chain_state_from_genesis
from timecoin.crypto import verify
from timecoin.storage import ChainStore, MemoryStore
from timecoin.storage.chainstate import (
    StoredVotingSets,
    commit_applied,
    init_genesis_state,
    read_chain_state,
)
from timecoin.types import VotingSet, compute_txid


def _store_of(applied: list[AppliedBlock]) -> ChainStore:
    """A chain store holding genesis and `applied`, written as the driver does."""
    store = ChainStore(MemoryStore())
    state, delta = chain_state_from_genesis(GENESIS, PARAMS)
    init_genesis_state(store, GENESIS, state, delta)
    for block in applied:
        commit_applied(store, block)
    return store


def _assert_restart_matches(chain: Chain) -> StoredVotingSets:
    """Restart from the store of `chain`; the voting sets by epoch it stored."""
    store = _store_of(chain.applied)
    assert dict(store.iter_reported_locks()) == chain.state.reported_locks
    restarted = read_chain_state(store, PARAMS)
    assert restarted.block_hash == chain.state.block_hash
    assert restarted.reported_locks == chain.state.reported_locks
    assert restarted.utxo_state.digest() == chain.state.utxo_state.digest()
    assert restarted.registry == chain.state.registry
    return StoredVotingSets(store.kv)


def test_restart_rebuilds_locks_created_kept_and_released() -> None:
    committee = Committee(Chain.start().state)
    committee.offer(PAY)
    held = {compute_txid(PAY): committee.proofs[compute_txid(PAY)]}
    chain = lock_chain({i: [entry(PAY)] for i in range(3)}, [PAY])
    assert chain.state.reported_locks == {PAY.inputs[0].prevout: compute_txid(PAY)}
    _assert_restart_matches(chain)
    for _ in range(PARAMS.epoch_length):  # across the next epoch's last block
        chain.accept(chain.build(reports=[report_for(chain, i) for i in range(4)]))
    assert chain.state.reported_locks
    voting_sets = _assert_restart_matches(chain)
    assert 0 in voting_sets  # the proof's epoch, no longer in the chain state
    assert isinstance(voting_sets[0], VotingSet)
    spend = build_block(
        chain.state,
        chain.view,
        [PAY],
        timestamp_ms=chain.state.header.timestamp_ms + PARAMS.block_interval_ms,
        proposer=proposer_for(chain.state),
        prev_certificate=make_certificate(chain.state),
        verifier=verify,
        finality_proof_of=held.get,
        voting_set_of_epoch=voting_sets.get,
    )
    chain.accept(spend)
    assert chain.state.reported_locks == {}
    assert spend.delta.locks_released == [PAY.inputs[0].prevout]
    _assert_restart_matches(chain)

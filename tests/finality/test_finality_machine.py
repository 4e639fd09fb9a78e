"""The finality machine, rule by rule: first-seen locks, batching, quorum and
proofs, parents, deferral, split votes, equivocation evidence, blocks."""

from __future__ import annotations

import msgspec
import pytest
from finality_helpers import (
    CHAIN_ID,
    OPERATORS,
    PARAMS,
    batches,
    coin,
    finals,
    make_machine,
    make_tx,
    make_voting_set,
)

from timecoin.chain import verify_evidence, verify_finality_proof
from timecoin.consensus import (
    BroadcastVotes,
    FinalityConfig,
    FinalityEffect,
    FinalityMachine,
    PersistFinalityWal,
    Reannounce,
    RecordEvidence,
    RequestTransaction,
    ScheduleTick,
    TxStatus,
    WalTxLocks,
    WalVotedTxs,
    sign_tx_vote_batch,
)
from timecoin.crypto import sha256, verify
from timecoin.types import (
    BLOCK_VERSION,
    ZERO_HASH,
    Block,
    BlockHeader,
    InvalidVote,
    OutPoint,
    Transaction,
    TxVoteEquivocationEvidence,
    VoteLeaf,
    compute_txid,
)


def deliver(
    machine: FinalityMachine, effects: list[FinalityEffect], now_ms: int = 0
) -> list[FinalityEffect]:
    """Feed every vote batch among `effects` to `machine`."""
    out: list[FinalityEffect] = []
    for effect in batches(effects):
        out.extend(machine.on_tx_votes(effect.batch, effect.leaves, now_ms))
    return out


def vote_now(machine: FinalityMachine, tx: Transaction, now_ms: int = 0) -> list[FinalityEffect]:
    """Offer `tx` and force the batch out."""
    effects = machine.on_transaction(tx, now_ms)
    effects.extend(machine.on_tick(now_ms + 1_000))
    return effects


def make_block(height: int, transactions: list[Transaction]) -> Block:
    """A block shell: only height and transactions matter to the machine."""
    header = BlockHeader(
        version=BLOCK_VERSION,
        chain_id=CHAIN_ID,
        height=height,
        epoch=PARAMS.epoch_of(height),
        prev_hash=ZERO_HASH,
        timestamp_ms=0,
        proposer=bytes(32),
        tx_root=ZERO_HASH,
        witness_root=ZERO_HASH,
        prev_certificate_hash=ZERO_HASH,
        evidence_hash=ZERO_HASH,
        attestations_hash=ZERO_HASH,
        utxo_commitment=ZERO_HASH,
        next_voting_set_hash=ZERO_HASH,
    )
    return Block(
        header=header,
        transactions=transactions,
        prev_certificate=None,
        evidence=[],
        attestations=[],
    )


def test_batch_waits_for_interval_then_locks_before_broadcast() -> None:
    machine = make_machine(0)
    tx = make_tx([coin("a")])
    effects = machine.on_transaction(tx, 1_000)
    assert effects == [ScheduleTick(1_025)]
    assert machine.get_status(compute_txid(tx)) == TxStatus.VOTED
    assert machine.get_lock(coin("a")) == compute_txid(tx)
    effects = machine.on_tick(1_025)
    kinds = [type(e) for e in effects if not isinstance(e, ScheduleTick | Reannounce)]
    assert kinds[:3] == [PersistFinalityWal, PersistFinalityWal, BroadcastVotes]
    bodies, wal = effects[0], effects[1]
    assert isinstance(bodies, PersistFinalityWal) and isinstance(bodies.record, WalVotedTxs)
    assert bodies.record.transactions == [tx]
    assert isinstance(wal, PersistFinalityWal) and isinstance(wal.record, WalTxLocks)
    assert [(e.outpoint, e.txid) for e in wal.record.entries] == [(coin("a"), compute_txid(tx))]
    assert machine.get_vote_weight(compute_txid(tx)) == 1


def test_batch_flushes_at_max_txids() -> None:
    machine = make_machine(0, config=FinalityConfig(max_batch_txids=3))
    effects: list[FinalityEffect] = []
    for i in range(3):
        effects = machine.on_transaction(make_tx([coin(f"max/{i}")]), 0)
    [batch] = batches(effects)
    assert batch.batch.count == 3 and len(batch.leaves) == 3


def test_conflicting_transaction_is_never_voted() -> None:
    machine = make_machine(0)
    first, second = make_tx([coin("c")], 100_000), make_tx([coin("c")], 90_000)
    vote_now(machine, first)
    effects = vote_now(machine, second, 2_000)
    assert not batches(effects)
    assert machine.get_status(compute_txid(second)) == TxStatus.PENDING
    assert machine.get_lock(coin("c")) == compute_txid(first)


def test_a_node_outside_the_committee_never_votes() -> None:
    outsider = make_machine(None)
    assert not outsider.is_member
    assert not batches(vote_now(outsider, make_tx([coin("n")])))


def test_quorum_makes_final_with_a_proof_that_verifies() -> None:
    observer = make_machine(None)
    tx = make_tx([coin("q")])
    observer.on_transaction(tx, 0)
    votes = [vote_now(make_machine(i), tx) for i in range(3)]
    out = deliver(observer, votes[0]) + deliver(observer, votes[1])
    assert not finals(out)  # 2 of 4 is no quorum
    assert observer.get_vote_weight(compute_txid(tx)) == 2
    out = deliver(observer, votes[2])
    [announced] = finals(out)
    assert observer.has_proof(compute_txid(tx))
    verify_finality_proof(announced.proof, tx, make_voting_set(0), CHAIN_ID, verify)
    assert observer.get_final_transactions() == [tx]
    assert observer.get_status(compute_txid(tx)) == TxStatus.FINAL


def test_votes_without_the_body_request_it() -> None:
    observer = make_machine(None)
    tx = make_tx([coin("body")])
    out: list[FinalityEffect] = []
    for i in range(3):
        out += deliver(observer, vote_now(make_machine(i), tx))
    assert out == [RequestTransaction(compute_txid(tx))]
    assert finals(observer.on_transaction(tx, 0))


def test_bad_batches_are_rejected() -> None:
    observer = make_machine(None)
    effects = vote_now(make_machine(1), make_tx([coin("bad")]))
    [sent] = batches(effects)
    with pytest.raises(InvalidVote, match="bad-branch"):
        observer.on_tx_votes(sent.batch, [*sent.leaves, sent.leaves[0]], 0)
    other = vote_now(make_machine(2), make_tx([coin("other")]))
    with pytest.raises(InvalidVote, match="bad-branch"):
        observer.on_tx_votes(sent.batch, batches(other)[0].leaves, 0)
    with pytest.raises(InvalidVote, match="bad-signature"):
        observer.on_tx_votes(
            msgspec.structs.replace(sent.batch, voter=OPERATORS[3].public_key), sent.leaves, 0
        )
    with pytest.raises(InvalidVote, match="unknown-voter"):
        observer.on_tx_votes(msgspec.structs.replace(sent.batch, voter=bytes(32)), sent.leaves, 0)
    # another epoch's batch is ignored
    assert observer.on_tx_votes(msgspec.structs.replace(sent.batch, epoch=5), sent.leaves, 0) == []


def test_child_waits_for_its_parents_proof() -> None:
    machines = [make_machine(i) for i in range(4)]
    parent = make_tx([coin("parent")])
    child = make_tx([OutPoint(compute_txid(parent), 0)], 90_000)
    voter = machines[0]
    voter.on_transaction(parent, 0)
    effects = voter.on_transaction(child, 0)
    effects += voter.on_tick(100)
    [sent] = batches(effects)
    assert [leaf.txid for leaf in sent.leaves] == [compute_txid(parent)]
    assert voter.get_status(compute_txid(child)) == TxStatus.PENDING
    out: list[FinalityEffect] = []
    for other in machines[1:3]:
        out += deliver(voter, vote_now(other, parent), 200)
    assert finals(out)
    out += voter.on_tick(300)
    assert any(compute_txid(child) in [leaf.txid for leaf in b.leaves] for b in batches(out))


def test_votes_deferred_while_backlog_exceeds_a_block() -> None:
    config = FinalityConfig(backlog_txs=1)
    machines = [make_machine(i, config=config) for i in range(4)]
    voter = machines[0]
    txs = [make_tx([coin(f"backlog/{i}")]) for i in range(3)]
    for tx in txs[:2]:
        vote_now(voter, tx)
        for other in machines[1:3]:
            deliver(voter, vote_now(other, tx))
    assert voter.backlog_count == 2 and voter.is_deferring()
    effects = vote_now(voter, txs[2], 5_000)
    assert not batches(effects)
    assert voter.get_status(compute_txid(txs[2])) == TxStatus.PENDING
    effects = voter.on_block_committed(make_block(1, txs[:2]), b"\x01" * 32, 6_000)
    effects += voter.on_tick(7_000)
    assert voter.backlog_count == 0
    assert compute_txid(txs[2]) in [leaf.txid for b in batches(effects) for leaf in b.leaves]


def test_split_votes_leave_the_input_locked() -> None:
    machines = [make_machine(i) for i in range(4)]
    first, second = make_tx([coin("split")], 100_000), make_tx([coin("split")], 99_000)
    effects = [vote_now(m, first if i < 2 else second) for i, m in enumerate(machines)]
    for i, machine in enumerate(machines):
        machine.on_transaction(second if i < 2 else first, 0)
        for j, sent in enumerate(effects):
            if j != i:
                deliver(machine, sent)
        machine.on_tick(50_000)
    for i, machine in enumerate(machines):
        assert not machine.has_proof(compute_txid(first))
        assert not machine.has_proof(compute_txid(second))
        assert machine.get_lock(coin("split")) == compute_txid(first if i < 2 else second)
        # offered again, the other one is still refused
        again = vote_now(machine, second if i < 2 else first, 60_000)
        assert not batches(again)


def test_equivocating_voter_yields_evidence() -> None:
    observer = make_machine(0)
    byzantine_a = make_machine(3)
    byzantine_b = make_machine(3)  # the same key, lying with a fresh state
    first, second = make_tx([coin("eq"), coin("eq2")], 100_000), make_tx([coin("eq")], 99_000)
    observer.on_transaction(first, 0)
    observer.on_transaction(second, 0)
    out = deliver(observer, vote_now(byzantine_a, first))
    out += deliver(observer, vote_now(byzantine_b, second))
    [recorded] = [e for e in out if isinstance(e, RecordEvidence)]
    evidence = recorded.evidence
    assert isinstance(evidence, TxVoteEquivocationEvidence)
    assert evidence.outpoint == coin("eq")
    voter = verify_evidence(evidence, make_voting_set(0), CHAIN_ID, verify)
    assert voter.operator_key == OPERATORS[3].public_key
    # once per voter
    third = make_tx([coin("eq2")], 98_000)
    observer.on_transaction(third, 0)
    assert not [
        e for e in deliver(observer, vote_now(byzantine_b, third)) if isinstance(e, RecordEvidence)
    ]


def test_block_clears_final_and_drops_conflicts() -> None:
    machines = [make_machine(i) for i in range(4)]
    voter = machines[0]
    tx = make_tx([coin("blk")])
    rival = make_tx([coin("blk")], 1_000)
    vote_now(voter, tx)
    voter.on_transaction(rival, 0)
    for other in machines[1:3]:
        deliver(voter, vote_now(other, tx))
    assert voter.has_proof(compute_txid(tx))
    voter.on_block_committed(make_block(1, [tx]), b"\x02" * 32, 100)
    assert voter.get_status(compute_txid(tx)) is None
    assert voter.get_status(compute_txid(rival)) is None
    assert voter.get_lock(coin("blk")) is None
    assert voter.get_final_txids() == set()


def test_unblocked_transactions_are_reannounced() -> None:
    machine = make_machine(0, config=FinalityConfig(reannounce_interval_ms=1_000))
    tx = make_tx([coin("re")])
    vote_now(machine, tx, 0)
    effects = machine.on_tick(5_000)
    [announce] = [e for e in effects if isinstance(e, Reannounce)]
    assert announce.tx == tx and announce.proof is None
    assert [v.voter for v in announce.votes] == [OPERATORS[0].public_key]
    assert not [e for e in machine.on_tick(5_500) if isinstance(e, Reannounce)]
    assert [e for e in machine.on_tick(6_100) if isinstance(e, Reannounce)]


def test_missing_proofs_are_requested() -> None:
    machine = make_machine(None)
    txids = [compute_txid(make_tx([coin(f"miss/{i}")])) for i in range(2)]
    assert [r.txid for r in machine.missing_proofs(txids)] == txids


def test_junk_votes_cannot_crowd_out_known_transactions() -> None:
    observer = make_machine(None, config=FinalityConfig(max_unknown_vote_txids=10))
    junk = [VoteLeaf(txid=sha256(bytes([i])), inputs_root=sha256(b"r")) for i in range(50)]
    batch, _ = sign_tx_vote_batch(OPERATORS[3], CHAIN_ID, 0, junk)
    observer.on_tx_votes(batch, junk, 0)
    tx = make_tx([coin("crowd")])
    observer.on_transaction(tx, 0)
    out: list[FinalityEffect] = []
    for i in range(3):
        out += deliver(observer, vote_now(make_machine(i), tx))
    assert [f.txid for f in finals(out)] == [compute_txid(tx)]


def test_a_transaction_is_not_reannounced_within_an_interval_of_its_arrival() -> None:
    # It was relayed as it arrived; repeating it at the next tick would only
    # add traffic (under load, most transactions are in a block by then).
    machine = make_machine(0, config=FinalityConfig(reannounce_interval_ms=1_000))
    tx = make_tx([coin("fresh")])
    machine.on_transaction(tx, 5_000)
    assert not [e for e in machine.on_tick(5_100) if isinstance(e, Reannounce)]
    assert not [e for e in machine.on_tick(5_900) if isinstance(e, Reannounce)]
    assert [e for e in machine.on_tick(6_100) if isinstance(e, Reannounce)]

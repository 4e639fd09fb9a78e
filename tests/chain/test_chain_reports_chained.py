"""Reports naming a transaction whose final parent is not yet in a block
(docs/spec/finality.md section 7, "the overlay").

The last block carries both bodies; the child's outpoint (an output of the
carried parent, not yet a coin) is locked like any other and released by
the block spending it. An entry whose outpoint is not in the overlay, or
whose transaction misses another input there, is dead: no lock, and the
report still counts. Any other invalid entry still invalidates its report.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import pytest
from chain_helpers import (
    ALICE,
    ALLOCATION_AMOUNT,
    BOB,
    FEE,
    address_of,
    allocation,
    make_tx,
    transfer,
)
from test_chain_reports import (
    LAST,
    PARAMS,
    Chain,
    Committee,
    before_last,
    commitment_of,
    reject_code,
    report,
    reseal_reports,
    undo_all,
)
from test_chain_reports_restart import _assert_restart_matches

from timecoin.chain import (
    AppliedBlock,
    ChainState,
    compute_carried_order,
    select_epoch_reports,
    voting_set_at,
)
from timecoin.crypto import verify
from timecoin.types import Coin, OutPoint, ReportEntry, Transaction, compute_txid

HALF = ALLOCATION_AMOUNT // 2
PARENT = transfer(allocation(4), ALLOCATION_AMOUNT, ALICE, BOB)
"""Pays HALF to BOB at output 0."""
PARENT_OUT = OutPoint(compute_txid(PARENT), 0)
CHILD = transfer(PARENT_OUT, HALF, BOB, ALICE)
"""Spends only the parent's output."""
CHILD_TWO_INPUTS = make_tx(
    [(PARENT_OUT, BOB), (allocation(5), ALICE)],
    [(HALF + ALLOCATION_AMOUNT - FEE, address_of(ALICE))],
)
"""Spends the parent's output and a coin of the chain."""


def entries_of(tx: Transaction) -> list[ReportEntry]:
    txid = compute_txid(tx)
    return [ReportEntry(outpoint=txin.prevout, txid=txid) for txin in tx.inputs]


def unsigned(tx: Transaction) -> Transaction:
    """`tx` with zeroed signatures: the same txid, an invalid body."""
    return msgspec.structs.replace(tx, signatures=[bytes(64)] * len(tx.signatures))


def locks_of(*txs: Transaction) -> dict[OutPoint, bytes | None]:
    return {entry.outpoint: entry.txid for tx in txs for entry in entries_of(tx)}


class Recorder:
    """A chain that records the state before each block, for undo."""

    def __init__(self) -> None:
        self.chain = Chain.start()
        self.states: list[tuple[ChainState, dict[OutPoint, Coin]]] = []

    def accept(self, applied: AppliedBlock) -> AppliedBlock:
        self.states.append((self.chain.state, dict(self.chain.view.coins)))
        return self.chain.accept(applied)


@pytest.mark.parametrize("child", [CHILD, CHILD_TWO_INPUTS], ids=["one-input", "two-inputs"])
@pytest.mark.parametrize("together", [False, True], ids=["parent-then-child", "one-block"])
def test_child_of_a_final_unblocked_parent_is_locked_and_released(
    child: Transaction, together: bool
) -> None:
    recorder = Recorder()
    chain = recorder.chain
    committee = Committee(chain.state)
    committee.commit(recorder.accept(chain.build()))
    committee.offer(PARENT)
    committee.offer(child)
    parent_id, child_id = compute_txid(PARENT), compute_txid(child)
    assert parent_id in committee.proofs and child_id in committee.proofs
    committee.commit(recorder.accept(chain.build()))  # the last height is due: reports
    assert len(committee.reports) == 4
    expected = sorted(
        entries_of(PARENT) + entries_of(child),
        key=lambda e: e.outpoint.txid + e.outpoint.index.to_bytes(4, "big") + e.txid,
    )
    assert all(r.entries == expected for r in committee.reports)

    applied = chain.build(reports=committee.reports, bodies=[child, PARENT])
    assert applied.block.header.height == LAST
    assert len(applied.block.reports) == 4
    assert applied.block.reported_transactions == sorted([PARENT, child], key=compute_txid)
    validated = chain.validate(applied.block)  # another validator accepts it
    assert validated.block_hash == applied.block_hash
    recorder.accept(validated)
    assert chain.state.reported_locks == locks_of(PARENT, child)
    assert chain.view.get_coin(PARENT_OUT) is None  # locked, not a coin yet
    assert chain.state.header.utxo_commitment == commitment_of(chain)
    assert applied.delta.locks_created == locks_of(PARENT, child)

    proofs = committee.proofs.get
    if together:
        block = chain.build([PARENT, child], proofs=proofs).block
        spent = recorder.accept(chain.validate(block, proofs))
        assert set(spent.delta.locks_released) == set(locks_of(PARENT, child))
    else:
        assert reject_code(lambda: chain.build([child], proofs=proofs)) == "missing-input"
        block = chain.build([PARENT], proofs=proofs).block
        first = recorder.accept(chain.validate(block, proofs))
        assert first.delta.locks_released == [allocation(4)]
        assert chain.state.reported_locks == locks_of(child)
        assert chain.state.header.utxo_commitment == commitment_of(chain)
        block = chain.build([child], proofs=proofs).block
        second = recorder.accept(chain.validate(block, proofs))
        assert set(second.delta.locks_released) == set(locks_of(child))
    assert chain.state.reported_locks == {}
    assert chain.state.header.utxo_commitment == chain.view.commitment()
    _assert_restart_matches(chain)
    undo_all(chain, recorder.states)
    assert chain.state.height == 0 and chain.state.reported_locks == {}


def test_a_lock_on_an_output_not_yet_a_coin_survives_a_restart() -> None:
    chain = before_last()
    tip = chain.state.block_hash
    reports = [report(i, entries_of(PARENT) + entries_of(CHILD), tip) for i in range(3)]
    chain.accept(chain.build(reports=reports, bodies=[PARENT, CHILD]))
    assert PARENT_OUT in chain.state.reported_locks
    _assert_restart_matches(chain)


def test_a_child_whose_parent_nobody_reports_is_dead() -> None:
    chain = before_last()
    tip = chain.state.block_hash
    reports = [report(i, entries_of(CHILD), tip) for i in range(3)]
    applied = chain.build(reports=reports, bodies=[CHILD, PARENT])
    assert len(applied.block.reports) == 3  # the reports count
    assert applied.block.reported_transactions == []  # the entry is dead: no body needed
    assert applied.state_after.reported_locks == {}
    carrying = reseal_reports(applied.block, reported_transactions=[CHILD])
    assert reject_code(lambda: chain.validate(carrying)) == "unreported-transaction"


def test_entries_made_dead_by_the_block_count() -> None:
    """A report names T1 (its only input is spent by the block) and T2 (one
    of its two inputs is spent by the block): both entries are dead, the
    report counts, no lock is made. T2's body is carried, since its other
    input is still a coin: the body shows the entry dead."""
    chain = before_last()
    tip = chain.state.block_hash
    t1 = transfer(allocation(2), ALLOCATION_AMOUNT, ALICE, BOB)
    t2 = make_tx(
        [(allocation(3), ALICE), (allocation(6), ALICE)],
        [(2 * ALLOCATION_AMOUNT - FEE, address_of(BOB))],
    )
    x = transfer(allocation(2), ALLOCATION_AMOUNT, ALICE, ALICE)
    y = transfer(allocation(6), ALLOCATION_AMOUNT, ALICE, ALICE)
    reports = [report(i, entries_of(t1) + entries_of(t2), tip) for i in range(3)]
    applied = chain.build([x, y], reports=reports, bodies=[t1, t2])
    assert len(applied.block.reports) == 3
    assert applied.block.reported_transactions == [t2]
    assert applied.state_after.reported_locks == {}
    chain.validate(applied.block)
    unneeded = reseal_reports(
        applied.block, reported_transactions=sorted([t1, t2], key=compute_txid)
    )
    assert reject_code(lambda: chain.validate(unneeded)) == "unreported-transaction"
    missing = reseal_reports(applied.block, reported_transactions=[])
    assert reject_code(lambda: chain.validate(missing)) == "bad-report"


@pytest.mark.parametrize("broken", ["parent", "child"])
def test_a_bad_signature_on_a_carried_transaction_invalidates_the_report(broken: str) -> None:
    chain = before_last()
    tip = chain.state.block_hash
    reports = [report(i, entries_of(PARENT) + entries_of(CHILD), tip) for i in range(3)]
    good = chain.build(reports=reports, bodies=[PARENT, CHILD])
    bad_parent = unsigned(PARENT) if broken == "parent" else PARENT
    bad_child = unsigned(CHILD) if broken == "child" else CHILD
    assert compute_txid(bad_parent) == compute_txid(PARENT)
    offered = [bad_parent, bad_child]
    assert reject_code(lambda: chain.build(reports=reports, bodies=offered)) == (
        "insufficient-reports"
    )
    tampered = reseal_reports(good.block, reported_transactions=sorted(offered, key=compute_txid))
    assert reject_code(lambda: chain.validate(tampered)) == "bad-report"


def test_the_proposer_selection_is_a_fixpoint() -> None:
    """Member 3 alone reports PARENT, along with a transaction whose signature
    is bad: its report is invalid. Without it PARENT is not carried, so
    CHILD (reported by 0..2) is dead and its body is not needed either."""
    chain = before_last()
    tip = chain.state.block_hash
    forged = unsigned(transfer(allocation(7), ALLOCATION_AMOUNT, ALICE, BOB))
    honest = [report(i, entries_of(CHILD), tip) for i in range(3)]
    faulty = report(3, entries_of(PARENT) + entries_of(forged), tip)
    voting_set = voting_set_at(chain.state, LAST)
    assert voting_set is not None
    kept, bodies = select_epoch_reports(
        [faulty, *honest],
        [PARENT, CHILD, forged],
        voting_set,
        tip,
        chain.view,
        PARAMS,
        LAST,
        verify,
    )
    assert faulty not in kept and len(kept) == 3
    assert bodies == []
    applied = chain.build(reports=[faulty, *honest], bodies=[PARENT, CHILD, forged])
    assert applied.state_after.reported_locks == {}
    chain.validate(applied.block)


def test_carried_transactions_are_ordered_parents_first() -> None:
    grandchild = transfer(OutPoint(compute_txid(CHILD), 0), HALF // 2, ALICE, BOB)
    other = transfer(allocation(1), ALLOCATION_AMOUNT, ALICE, BOB)
    txs: Sequence[Transaction] = [grandchild, CHILD, other, PARENT]
    bodies = {compute_txid(tx): tx for tx in txs}
    order = compute_carried_order(bodies)
    position = {txid: index for index, txid in enumerate(order)}
    assert sorted(order) == sorted(bodies)
    assert position[compute_txid(PARENT)] < position[compute_txid(CHILD)]
    assert position[compute_txid(CHILD)] < position[compute_txid(grandchild)]
    roots = sorted([compute_txid(PARENT), compute_txid(other)])
    assert order[0] == roots[0]  # ties in ascending txid order

"""A member's epoch report never lists more than `max_report_entries`
entries (ADR 0006): it defers new votes while its votes not yet in a block
would exceed the bound, and votes again once a block includes them. A
longer report does not count."""

from __future__ import annotations

from dataclasses import replace

import pytest
from finality_helpers import (
    OPERATORS,
    PARAMS,
    batches,
    coin,
    make_tx,
    make_voting_set,
)
from test_finality_machine import make_block, vote_now

from timecoin.consensus import BroadcastReport, FinalityMachine, TxStatus, sign_epoch_report
from timecoin.crypto import verify
from timecoin.types import InvalidVote, ReportEntry, Transaction, compute_txid

BOUND = 3
SMALL = replace(PARAMS, epoch_length=100, sizes=replace(PARAMS.sizes, max_report_entries=BOUND))
"""Epochs long enough that the test blocks are not an epoch's last."""


def member(index: int = 0) -> FinalityMachine:
    return FinalityMachine(
        params=SMALL, voting_set=make_voting_set(0), verifier=verify, signer=OPERATORS[index]
    )


def voted(machine: FinalityMachine, tx: Transaction) -> bool:
    return machine.get_status(compute_txid(tx)) == TxStatus.VOTED


def test_votes_wait_while_the_report_is_full_and_resume_after_a_block() -> None:
    machine = member()
    single = make_tx([coin("bound/a")])
    double = make_tx([coin("bound/b"), coin("bound/c")])
    later = make_tx([coin("bound/d")])
    pair = make_tx([coin("bound/e"), coin("bound/f")])
    assert batches(vote_now(machine, single))
    assert machine.report_entry_count == 1 and not machine.is_deferring()
    assert batches(vote_now(machine, double, 2_000))  # one entry per input
    assert machine.report_entry_count == BOUND and machine.is_deferring()
    assert not batches(vote_now(machine, later, 4_000))
    assert machine.get_status(compute_txid(later)) == TxStatus.PENDING

    effects = machine.on_block_committed(make_block(1, [single]), b"\x01" * 32, 6_000)
    effects += machine.on_tick(7_000)
    assert voted(machine, later)  # room for one entry again
    assert compute_txid(later) in [leaf.txid for b in batches(effects) for leaf in b.leaves]
    assert machine.report_entry_count == BOUND

    machine.on_block_committed(make_block(2, [double]), b"\x02" * 32, 8_000)
    assert machine.report_entry_count == 1
    vote_now(machine, pair, 9_000)
    assert voted(machine, pair) and machine.report_entry_count == BOUND


def test_a_transaction_that_does_not_fit_waits_for_room() -> None:
    machine = member()
    first = make_tx([coin("fit/a"), coin("fit/b")])
    wide = make_tx([coin("fit/c"), coin("fit/d")])
    vote_now(machine, first)
    assert machine.report_entry_count == 2 and not machine.is_deferring()
    assert not batches(vote_now(machine, wide, 2_000))  # 2 + 2 > 3: it waits
    assert machine.get_status(compute_txid(wide)) == TxStatus.PENDING
    effects = machine.on_block_committed(make_block(1, [first]), b"\x01" * 32, 3_000)
    effects += machine.on_tick(4_000)
    assert voted(machine, wide)


def test_the_report_respects_the_bound() -> None:
    machine = member()
    txs = [make_tx([coin(f"report/{i}")]) for i in range(BOUND + 2)]
    for number, tx in enumerate(txs):
        vote_now(machine, tx, 1_000 * number)
    assert sum(voted(machine, tx) for tx in txs) == BOUND
    height = SMALL.epoch_length - 2  # the next height is the epoch's last
    effects = machine.on_block_committed(make_block(height, []), b"\x03" * 32, 10_000)
    [report] = [e.report for e in effects if isinstance(e, BroadcastReport)]
    assert len(report.entries) == BOUND


def test_a_longer_report_is_refused() -> None:
    machine = member()
    entries = [
        ReportEntry(outpoint=coin(f"long/{i}"), txid=compute_txid(make_tx([coin(f"long/{i}")])))
        for i in range(BOUND + 1)
    ]
    entries.sort(key=lambda e: e.outpoint.txid + e.outpoint.index.to_bytes(4, "big") + e.txid)
    long_report = sign_epoch_report(OPERATORS[1], PARAMS.chain_id, 0, bytes(32), entries)
    with pytest.raises(InvalidVote, match="oversized-report"):
        machine.on_epoch_report(long_report)
    machine.on_epoch_report(
        sign_epoch_report(OPERATORS[1], PARAMS.chain_id, 0, bytes(32), entries[:BOUND])
    )
    assert len(machine.get_reports(0)) == 1

"""Nothing waits forever on a report nobody sends again.

A member sends its epoch report once; a restart of the network (or of the
proposer) loses every push made before it. A restored member holds its own
logged report, and a node waiting for the epoch's last block asks its peers
for the reports (`RequestReports`) until it holds more than 2/3 of the
weight (docs/adr/0008-no-wait-without-resend.md).
"""

from __future__ import annotations

from finality_helpers import OPERATORS, PARAMS, batches, coin, make_tx, make_voting_set
from test_finality_epochs import restore, wal_records
from test_finality_machine import make_block, vote_now

from timecoin.consensus import BroadcastReport, FinalityMachine
from timecoin.consensus.finality import FinalityConfig, RequestReports, ScheduleTick
from timecoin.crypto import verify
from timecoin.types import EpochReport, compute_txid

PREV = b"\x07" * 32
INTERVAL_MS = FinalityConfig().report_request_interval_ms


def member(index: int) -> FinalityMachine:
    return FinalityMachine(
        params=PARAMS, voting_set=make_voting_set(0), verifier=verify, signer=OPERATORS[index]
    )


def report_of(machine: FinalityMachine) -> EpochReport:
    [sent] = [e for e in machine.on_last_height_due(PREV) if isinstance(e, BroadcastReport)]
    return sent.report


def requests(effects: list[object]) -> list[RequestReports]:
    return [e for e in effects if isinstance(e, RequestReports)]


def test_restored_member_holds_its_logged_report() -> None:
    before = member(0)
    records = wal_records(before.on_last_height_due(PREV))
    after, resent = restore(records)
    [own] = [e.report for e in resent if isinstance(e, BroadcastReport)]
    assert after.get_reports(0) == [own]
    assert after.get_reports_weight(0) == (1, 4)


def test_waiting_node_asks_for_reports_until_it_holds_a_quorum() -> None:
    machine = member(0)
    assert requests(machine.on_tick(1_000)) == []  # not at the epoch's end yet
    report_of(machine)
    assert machine.is_awaiting_reports()
    # The pushes of the others normally arrive within an interval: no request yet.
    assert machine.on_tick(1_000) == [ScheduleTick(1_000 + INTERVAL_MS)]
    assert requests(machine.on_tick(1_000 + INTERVAL_MS - 1)) == []
    effects = machine.on_tick(1_000 + INTERVAL_MS)
    assert requests(effects) == [RequestReports(0)]
    assert ScheduleTick(1_000 + 2 * INTERVAL_MS) in effects  # asks again without other input
    assert requests(machine.on_tick(1_000 + 2 * INTERVAL_MS)) == [RequestReports(0)]
    machine.on_epoch_report(report_of(member(1)))
    assert requests(machine.on_tick(10_000)) == [RequestReports(0)]  # 2 of 4: no quorum
    machine.on_epoch_report(report_of(member(2)))
    assert machine.get_reports_weight(0) == (3, 4)
    assert not machine.is_awaiting_reports()
    assert requests(machine.on_tick(20_000)) == []


def test_non_member_never_asks() -> None:
    """Only members propose the last block: a thousand observers asking every
    member for every report would cost more than the blocks themselves."""
    observer = FinalityMachine(params=PARAMS, voting_set=make_voting_set(0), verifier=verify)
    observer.on_last_height_due(PREV)
    assert not observer.is_awaiting_reports()
    assert requests(observer.on_tick(5)) == requests(observer.on_tick(5_000)) == []


def test_a_report_held_already_is_not_verified_again() -> None:
    calls: list[bytes] = []

    def counting_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
        calls.append(public_key)
        return verify(public_key, message, signature)

    machine = FinalityMachine(
        params=PARAMS, voting_set=make_voting_set(0), verifier=counting_verify
    )
    report = report_of(member(1))
    machine.on_epoch_report(report)
    verified = len(calls)
    assert verified > 0
    machine.on_epoch_report(report)
    assert len(calls) == verified


def test_next_epoch_vote_batches_are_kept_and_counted_on_entering_it() -> None:
    """A member of the next committee may vote before this node commits the
    epoch's last block: its batch is kept by the machine (either executor),
    not dropped, and counted once the node enters that epoch."""
    ahead = FinalityMachine(
        params=PARAMS, voting_set=make_voting_set(1), verifier=verify, signer=OPERATORS[1]
    )
    tx = make_tx([coin("ahead")])
    [sent] = batches(vote_now(ahead, tx))
    assert sent.batch.epoch == 1
    behind = member(0)
    behind.on_transaction(tx, 0)
    assert behind.on_tx_votes(sent.batch, sent.leaves, 10) == []
    assert behind.get_vote_weight(compute_txid(tx)) == 0
    behind.on_block_committed(make_block(2, []), b"\x02" * 32, 20)
    behind.on_block_committed(
        make_block(3, []), b"\x03" * 32, 30, next_voting_set=make_voting_set(1)
    )
    assert behind.epoch == 1
    assert behind.get_vote_weight(compute_txid(tx)) >= 1

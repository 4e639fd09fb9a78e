"""The finality WAL (restore never votes for a conflicting transaction),
epoch reports, and moving to the next epoch's voting set."""

from __future__ import annotations

import msgspec
import pytest
from finality_helpers import CHAIN_ID, OPERATORS, PARAMS, batches, coin, make_tx, make_voting_set
from test_finality_machine import make_block, vote_now

from timecoin.chain import verify_epoch_report
from timecoin.consensus import (
    BroadcastReport,
    FinalityEffect,
    FinalityMachine,
    InvalidWal,
    PersistFinalityWal,
    ScheduleTick,
    WalEpochReport,
    WalTxLocks,
    decode_finality_wal_record,
    encode_finality_wal_record,
    sign_epoch_report,
)
from timecoin.crypto import verify
from timecoin.types import InvalidVote, ReportEntry, compute_txid

# MINIMAL: epoch_length 4, so heights 0..3 are epoch 0 and block 3 is its last.
assert PARAMS.epoch_length == 4


def wal_records(effects: list[FinalityEffect]) -> list[WalTxLocks | WalEpochReport]:
    """The WAL records among `effects`, through their stored bytes."""
    return [
        decode_finality_wal_record(encode_finality_wal_record(e.record))
        for e in effects
        if isinstance(e, PersistFinalityWal)
    ]


def restore(
    records: list[WalTxLocks | WalEpochReport], epoch: int = 0
) -> tuple[FinalityMachine, list[FinalityEffect]]:
    return FinalityMachine.restore(
        records,
        params=PARAMS,
        voting_set=make_voting_set(epoch),
        verifier=verify,
        signer=OPERATORS[0],
    )


def test_restore_never_votes_for_a_conflicting_transaction() -> None:
    before = FinalityMachine(
        params=PARAMS, voting_set=make_voting_set(0), verifier=verify, signer=OPERATORS[0]
    )
    first, second = make_tx([coin("w")], 100_000), make_tx([coin("w")], 90_000)
    records = wal_records(vote_now(before, first))
    assert records
    after, effects = restore(records)
    assert effects == []
    assert after.get_lock(coin("w")) == compute_txid(first)
    assert not batches(vote_now(after, second))
    # the transaction it voted for may be voted again (same lock, no conflict)
    assert batches(vote_now(after, first, 5_000))


def test_restore_ignores_other_epochs_and_refuses_conflicting_logs() -> None:
    first, second = make_tx([coin("w2")], 100_000), make_tx([coin("w2")], 90_000)
    lock = ReportEntry(outpoint=coin("w2"), txid=compute_txid(first))
    other = ReportEntry(outpoint=coin("w2"), txid=compute_txid(second))
    after, _ = restore([WalTxLocks(epoch=0, entries=[lock])], epoch=1)
    assert after.get_lock(coin("w2")) is None
    with pytest.raises(InvalidWal, match="wal-conflict"):
        restore([WalTxLocks(epoch=0, entries=[lock]), WalTxLocks(epoch=0, entries=[other])])
    foreign = sign_epoch_report(OPERATORS[1], CHAIN_ID, 0, bytes(32), [])
    with pytest.raises(InvalidWal, match="wal-foreign-signer"):
        restore([WalEpochReport(foreign)])


def test_report_before_the_last_block_then_silence_even_after_restart() -> None:
    machine = FinalityMachine(
        params=PARAMS, voting_set=make_voting_set(0), verifier=verify, signer=OPERATORS[0]
    )
    voted = make_tx([coin("r1")])
    pending = make_tx([coin("r2")])
    records = wal_records(vote_now(machine, voted))
    machine.on_transaction(pending, 10)  # in the batch, not yet signed
    effects = machine.on_block_committed(make_block(1, []), b"\x01" * 32, 20)
    assert not [e for e in effects if isinstance(e, BroadcastReport)]
    effects = machine.on_block_committed(make_block(2, []), b"\x02" * 32, 30)
    # flush the last batch (bodies and locks logged), log the report, then send it
    kinds = [
        type(getattr(e, "record", e)).__name__
        for e in effects
        if type(e).__name__ in ("PersistFinalityWal", "BroadcastVotes", "BroadcastReport")
    ]
    assert kinds == [
        "WalVotedTxs",
        "WalTxLocks",
        "BroadcastVotes",
        "WalEpochReport",
        "BroadcastReport",
    ]
    [report_effect] = [e for e in effects if isinstance(e, BroadcastReport)]
    report = report_effect.report
    assert report.epoch == 0 and report.prev_hash == b"\x02" * 32
    assert {(e.outpoint, e.txid) for e in report.entries} == {
        (coin("r1"), compute_txid(voted)),
        (coin("r2"), compute_txid(pending)),
    }
    verify_epoch_report(report, make_voting_set(0), CHAIN_ID, verify)
    assert machine.has_reported
    assert not batches(vote_now(machine, make_tx([coin("r3")]), 40))
    # restart: the logged report keeps it silent and is sent again
    records += wal_records(effects)
    after, resent = restore(records)
    assert resent == [BroadcastReport(report), ScheduleTick(0)]
    # the bodies of the voted transactions come back from the log
    assert {compute_txid(tx) for tx in after.get_logged_transactions()} == {
        compute_txid(voted),
        compute_txid(pending),
    }
    assert after.has_reported
    assert not batches(vote_now(after, make_tx([coin("r4")]), 50))


def test_reports_verify_and_reject_tampering() -> None:
    entries = [ReportEntry(outpoint=coin(f"e{i}"), txid=bytes([i]) * 32) for i in range(3)]
    report = sign_epoch_report(OPERATORS[2], CHAIN_ID, 0, b"\x09" * 32, entries)
    voting_set = make_voting_set(0)
    assert (
        verify_epoch_report(report, voting_set, CHAIN_ID, verify).operator_key
        == OPERATORS[2].public_key
    )
    cases = [
        (msgspec.structs.replace(report, epoch=1), "wrong-epoch"),
        (
            msgspec.structs.replace(report, entries=list(reversed(report.entries))),
            "non-canonical-report",
        ),
        (msgspec.structs.replace(report, entries=[report.entries[0]] * 2), "non-canonical-report"),
        (msgspec.structs.replace(report, voter=bytes(32)), "unknown-voter"),
        (msgspec.structs.replace(report, prev_hash=bytes(32)), "bad-signature"),
        (msgspec.structs.replace(report, entries=report.entries[:2]), "bad-signature"),
    ]
    for bad, code in cases:
        with pytest.raises(InvalidVote) as info:
            verify_epoch_report(bad, voting_set, CHAIN_ID, verify)
        assert info.value.reject_code == code
    observer = FinalityMachine(params=PARAMS, voting_set=voting_set, verifier=verify)
    observer.on_epoch_report(report)
    assert observer.get_reports(0) == [report]


def test_next_epoch_votes_again_and_respects_reported_locks() -> None:
    machine = FinalityMachine(
        params=PARAMS, voting_set=make_voting_set(0), verifier=verify, signer=OPERATORS[0]
    )
    voted, rival = make_tx([coin("n1")], 100_000), make_tx([coin("n1")], 90_000)
    fresh, fresh_rival = make_tx([coin("n2")], 100_000), make_tx([coin("n2")], 90_000)
    vote_now(machine, voted)
    machine.on_block_committed(make_block(2, []), b"\x02" * 32, 10)
    assert machine.has_reported
    effects = machine.on_block_committed(
        make_block(3, []),
        b"\x03" * 32,
        20,
        next_voting_set=make_voting_set(1),
        reported_locks={coin("n1"): compute_txid(voted), coin("n3"): None},
    )
    effects += machine.on_tick(1_000)
    assert machine.epoch == 1 and not machine.has_reported
    # the new committee votes for the uniquely reported transaction again
    [sent] = batches(effects)
    assert sent.batch.epoch == 1 and [leaf.txid for leaf in sent.leaves] == [compute_txid(voted)]
    assert machine.get_lock(coin("n1")) == compute_txid(voted)
    # the reported input: only its reported txid
    assert not batches(vote_now(machine, rival, 30))
    # conflicting reports: no vote at all
    assert not batches(vote_now(machine, make_tx([coin("n3")]), 50))
    # an unreported input is free in the new epoch: first seen wins again
    assert batches(vote_now(machine, fresh_rival, 60))
    assert not batches(vote_now(machine, fresh, 70))


def test_restart_before_reporting_reports_when_told() -> None:
    before = FinalityMachine(
        params=PARAMS, voting_set=make_voting_set(0), verifier=verify, signer=OPERATORS[0]
    )
    records = wal_records(vote_now(before, make_tx([coin("late")])))
    after, effects = restore(records)
    assert effects == [] and not after.has_reported
    report_effects = after.on_last_height_due(b"\x05" * 32)
    [sent] = [e for e in report_effects if isinstance(e, BroadcastReport)]
    assert [e.outpoint for e in sent.report.entries] == [coin("late")]
    assert after.on_last_height_due(b"\x05" * 32) == []

"""`assemble_block`, the proposer's one call (ADR 0006): epoch reports and
their bodies are chosen first (the cheapest quorum), the actual size of
everything but the transactions is taken off the transaction budget, and
the block is never oversized; a report longer than `max_report_entries`
does not count."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest
from chain_helpers import (
    ALICE,
    ALLOCATION_AMOUNT,
    BOB,
    GENESIS,
    allocation,
    make_certificate,
    proposer_for,
    transfer,
)
from test_chain_reports import LAST, PARAMS, Chain, entry, report, reports_of
from test_chain_reports_chained import entries_of

from timecoin.chain import (
    AppliedBlock,
    assemble_block,
    build_block,
    chain_state_from_genesis,
    compute_block_overhead_bytes,
    compute_reported_locks,
    measure_block_overhead_bytes,
    select_block_transactions,
    select_epoch_reports,
    select_report_quorum,
    voting_set_at,
)
from timecoin.crypto import sha256, verify
from timecoin.encoding import encode
from timecoin.ledger import MemoryUtxoSet, compute_tx_size
from timecoin.params import ChainParams
from timecoin.types import (
    EpochReport,
    InvalidBlock,
    OutPoint,
    ReportEntry,
    Transaction,
    VotingSet,
    compute_txid,
)

SPENDS = [transfer(allocation(i), ALLOCATION_AMOUNT, ALICE, BOB) for i in range(4)]
REPORTED = transfer(allocation(7), ALLOCATION_AMOUNT, ALICE, BOB)


def chain_with(params: ChainParams) -> Chain:
    state, delta = chain_state_from_genesis(GENESIS, params)
    chain = Chain(state, MemoryUtxoSet(delta.created))
    chain.grow_to(LAST - 1)
    return chain


def assemble(
    chain: Chain,
    candidates: Sequence[Transaction] = (),
    *,
    reports: Sequence[EpochReport] = (),
    bodies: Sequence[Transaction] = (),
) -> AppliedBlock:
    state = chain.state
    return assemble_block(
        state,
        chain.view,
        candidates,
        timestamp_ms=state.header.timestamp_ms + state.params.block_interval_ms,
        proposer=proposer_for(state),
        prev_certificate=make_certificate(state),
        verifier=verify,
        reports=reports,
        reported_transactions=bodies,
    )


def voting_set_of(chain: Chain) -> VotingSet:
    voting_set = voting_set_at(chain.state, chain.state.height + 1)
    assert voting_set is not None
    return voting_set


def junk(count: int) -> list[ReportEntry]:
    """Entries on outpoints that exist nowhere: dead, yet they fill a table."""
    return [
        ReportEntry(outpoint=OutPoint(sha256(b"junk %d" % i), 0), txid=sha256(b"junk tx %d" % i))
        for i in range(count)
    ]


def test_reports_and_bodies_are_budgeted_before_the_transactions() -> None:
    tight = replace(PARAMS, sizes=replace(PARAMS.sizes, max_block_evidence=0))
    size = compute_tx_size(SPENDS[0])
    limit = compute_block_overhead_bytes(tight) + len(SPENDS) * size + 10
    params = replace(tight, sizes=replace(tight.sizes, max_block_bytes=limit))
    chain = chain_with(params)
    reports = [report(i, [entry(REPORTED)], chain.state.block_hash) for i in range(3)]
    # The old way: every candidate fits the overhead bound, the reports do not.
    selected = select_block_transactions(SPENDS, chain.state, chain.view)
    assert selected == SPENDS
    with pytest.raises(InvalidBlock, match="oversized-block"):
        build_block(
            chain.state,
            chain.view,
            selected,
            timestamp_ms=chain.state.header.timestamp_ms + params.block_interval_ms,
            proposer=proposer_for(chain.state),
            prev_certificate=make_certificate(chain.state),
            verifier=verify,
            reports=reports,
            reported_transactions=[REPORTED],
        )
    applied = assemble(chain, SPENDS, reports=reports, bodies=[REPORTED])
    assert 0 < len(applied.block.transactions) - 1 < len(SPENDS)
    assert applied.block.reported_transactions == [REPORTED]
    assert len(encode(applied.block)) <= limit
    chain.validate(applied.block)


def test_the_reserved_bytes_bound_the_block() -> None:
    chain = chain_with(PARAMS)
    reports = [report(i, entries_of(REPORTED), chain.state.block_hash) for i in range(4)]
    applied = assemble(chain, SPENDS, reports=reports, bodies=[REPORTED])
    block = applied.block
    without = measure_block_overhead_bytes(
        PARAMS,
        prev_certificate=block.prev_certificate,
        evidence=block.evidence,
        attestations=block.attestations,
        report_entries=block.report_entries,
        reports=block.reports,
        reported_transactions=block.reported_transactions,
    )
    assert len(encode(block)) <= without + sum(compute_tx_size(tx) for tx in block.transactions[1:])


def test_the_proposer_carries_the_cheapest_quorum() -> None:
    chain = chain_with(PARAMS)
    tip = chain.state.block_hash
    honest = [report(i, entries_of(REPORTED), tip) for i in range(3)]
    padded = report(3, entries_of(REPORTED) + junk(50), tip)
    valid, _ = select_epoch_reports(
        [padded, *honest],
        [REPORTED],
        voting_set_of(chain),
        tip,
        chain.view,
        PARAMS,
        LAST,
        verify,
    )
    assert len(valid) == 4  # the padded report is valid: its junk entries are dead
    applied = assemble(chain, reports=[padded, *honest], bodies=[REPORTED])
    assert reports_of(applied.block) == sorted(honest, key=lambda r: r.voter)
    assert len(applied.block.report_entries) == 1
    assert applied.state_after.reported_locks == {allocation(7): compute_txid(REPORTED)}


def test_select_report_quorum_prefers_reports_adding_fewest_entries() -> None:
    chain = chain_with(PARAMS)
    tip = chain.state.block_hash
    voting_set = voting_set_of(chain)
    shared = entries_of(REPORTED)
    reports = [
        report(0, shared + junk(3), tip),
        report(1, shared, tip),
        report(2, shared, tip),
        report(3, [], tip),
    ]
    chosen = select_report_quorum(reports, voting_set)
    assert {r.voter for r in chosen} == {reports[i].voter for i in (1, 2, 3)}
    assert [r.voter for r in chosen] == sorted(r.voter for r in chosen)
    assert select_report_quorum(reports[:2], voting_set) == sorted(
        reports[:2], key=lambda r: r.voter
    )  # short of a quorum: all of them


def test_nothing_is_selected_without_a_quorum_of_reports() -> None:
    chain = chain_with(PARAMS)
    two = [report(i, [], chain.state.block_hash) for i in range(2)]
    with pytest.raises(InvalidBlock, match="insufficient-reports"):
        assemble(chain, SPENDS, reports=two)


def test_parts_larger_than_a_block_are_refused() -> None:
    chain = chain_with(PARAMS)
    reports = [report(i, [], chain.state.block_hash) for i in range(4)]
    small = measure_block_overhead_bytes(PARAMS, prev_certificate=make_certificate(chain.state))
    chain.state = replace(
        chain.state,
        params=replace(PARAMS, sizes=replace(PARAMS.sizes, max_block_bytes=small)),
    )
    with pytest.raises(InvalidBlock, match="oversized-block"):
        assemble(chain, SPENDS, reports=reports)


def test_a_report_longer_than_the_bound_does_not_count() -> None:
    bounded = replace(PARAMS, sizes=replace(PARAMS.sizes, max_report_entries=1))
    chain = chain_with(bounded)
    tip = chain.state.block_hash
    two = [entry(REPORTED), entry(SPENDS[0])]
    long_report = report(3, two, tip)
    short = [report(i, [entry(REPORTED)], tip) for i in range(3)]
    voting_set = voting_set_of(chain)
    args = (voting_set, tip, chain.view, bounded, LAST, verify)
    kept, _ = select_epoch_reports([long_report, *short], [REPORTED, SPENDS[0]], *args)
    assert long_report not in kept and len(kept) == 3
    with pytest.raises(InvalidBlock, match="bad-report"):
        compute_reported_locks(
            sorted([long_report, *short[:2]], key=lambda r: r.voter),
            sorted([REPORTED, SPENDS[0]], key=compute_txid),
            *args,
        )

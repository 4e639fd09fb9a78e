"""Epoch reports in blocks are deduplicated (ADR 0006): one sorted table of
the entries any report lists, and per report its voter, signature and a
bitmap over the table. The signature is over the same bytes as the gossiped
report; the packing is canonical, and each malformation is rejected."""

from __future__ import annotations

import msgspec
import pytest
from chain_helpers import OPERATORS
from hypothesis import given
from hypothesis import strategies as st
from test_chain_reports import (
    PARAMS,
    before_last,
    reject_code,
    report,
    reports_of,
)
from test_chain_reports_chained import CHILD, PARENT, entries_of

from timecoin.chain import (
    pack_epoch_reports,
    report_entry_key,
    unpack_epoch_reports,
    verify_epoch_report,
    voting_set_at,
)
from timecoin.consensus import sign_epoch_report
from timecoin.crypto import sha256, verify
from timecoin.encoding import encode
from timecoin.types import (
    Block,
    EpochReport,
    InvalidBlock,
    OutPoint,
    PackedReport,
    ReportEntry,
    compute_reports_hash,
)

EPOCH = 0
PREV_HASH = sha256(b"prev")


def make_entry(number: int) -> ReportEntry:
    return ReportEntry(
        outpoint=OutPoint(sha256(b"coin %d" % number), number % 3),
        txid=sha256(b"tx %d" % number),
    )


def signed(member: int, numbers: list[int]) -> EpochReport:
    entries = sorted({make_entry(n) for n in numbers}, key=report_entry_key)
    return sign_epoch_report(OPERATORS[member], PARAMS.chain_id, EPOCH, PREV_HASH, entries)


def unpack_code(entries: list[ReportEntry], packed: list[PackedReport]) -> str:
    with pytest.raises(InvalidBlock) as info:
        unpack_epoch_reports(entries, packed, EPOCH, PREV_HASH)
    return info.value.reject_code


def test_pack_deduplicates_and_unpack_restores_the_signed_reports() -> None:
    reports = [signed(0, [1, 2, 3]), signed(1, [2, 3, 4]), signed(2, []), signed(3, list(range(9)))]
    table, packed = pack_epoch_reports(reports)
    assert len(table) == 9  # the union, once each
    assert [report_entry_key(e) for e in table] == sorted(report_entry_key(e) for e in table)
    assert [p.voter for p in packed] == sorted(r.voter for r in reports)
    assert all(len(p.selection) == 2 for p in packed)  # ceil(9 / 8)
    unpacked = unpack_epoch_reports(table, packed, EPOCH, PREV_HASH)
    assert unpacked == sorted(reports, key=lambda r: r.voter)
    state = before_last().state
    voting_set = voting_set_at(state, state.height)
    assert voting_set is not None
    for restored in unpacked:  # the signature covers the same bytes
        verify_epoch_report(restored, voting_set, PARAMS.chain_id, verify)


def test_identical_reports_cost_one_table() -> None:
    numbers = list(range(100))
    reports = [signed(member, numbers) for member in range(4)]
    table, packed = pack_epoch_reports(reports)
    assert all(p.selection == b"\xff" * 12 + b"\x0f" for p in packed)
    packed_bytes = len(encode((table, packed)))
    full_bytes = len(encode(reports))
    assert packed_bytes < full_bytes / 3
    assert packed_bytes < len(encode(reports[0])) + 4 * (32 + 64 + 13 + 8)


@given(
    st.lists(
        st.lists(st.integers(0, 40), max_size=20),
        max_size=4,
    )
)
def test_pack_then_unpack_is_the_identity(choices: list[list[int]]) -> None:
    reports = [signed(member, numbers) for member, numbers in enumerate(choices)]
    table, packed = pack_epoch_reports(reports)
    assert unpack_epoch_reports(table, packed, EPOCH, PREV_HASH) == sorted(
        reports, key=lambda r: r.voter
    )


def test_pack_refuses_two_reports_of_one_voter() -> None:
    with pytest.raises(ValueError, match="two reports"):
        pack_epoch_reports([signed(0, [1]), signed(0, [2])])


def test_malformed_packings_are_rejected() -> None:
    table, packed = pack_epoch_reports([signed(0, [1, 2, 3]), signed(1, [3, 4, 5, 6, 7, 8, 9])])
    assert len(table) == 9
    first, second = packed

    swapped = [table[1], table[0], *table[2:]]
    assert unpack_code(swapped, packed) == "non-canonical-report"
    repeated = [table[0], *table]
    assert unpack_code(repeated, packed) == "non-canonical-report"
    assert unpack_code(table, [second, first]) == "non-canonical-report"
    assert unpack_code(table, [first, first]) == "non-canonical-report"

    def with_selection(selection: bytes) -> PackedReport:
        return msgspec.structs.replace(first, selection=selection)

    assert unpack_code(table, [with_selection(first.selection[:1]), second]) == (
        "bad-report-selection"
    )
    assert unpack_code(table, [with_selection(first.selection + b"\x00"), second]) == (
        "bad-report-selection"
    )
    padded = first.selection[:1] + bytes([first.selection[1] | 0x02])  # bit 9 of a 9-entry table
    assert unpack_code(table, [with_selection(padded), second]) == "bad-report-selection"
    only_first = [msgspec.structs.replace(p, selection=b"\x01\x00") for p in packed]
    assert unpack_code(table, only_first) == "unused-report-entry"
    assert unpack_code(table, []) == "unused-report-entry"
    assert unpack_epoch_reports([], [], EPOCH, PREV_HASH) == []


def test_a_block_with_a_malformed_packing_is_rejected() -> None:
    chain = before_last()
    tip = chain.state.block_hash
    reports = [report(i, entries_of(PARENT) + entries_of(CHILD), tip) for i in range(3)]
    block = chain.build(reports=reports, bodies=[PARENT, CHILD]).block
    assert len(block.report_entries) == 2 and len(block.reports) == 3
    assert reports_of(block) == sorted(reports, key=lambda r: r.voter)

    def resealed(**changes: object) -> Block:
        body = msgspec.structs.replace(block, **changes)
        reports_hash = compute_reports_hash(
            body.report_entries, body.reports, body.reported_transactions
        )
        return msgspec.structs.replace(
            body, header=msgspec.structs.replace(block.header, reports_hash=reports_hash)
        )

    first = block.reports[0]
    padded = msgspec.structs.replace(first, selection=bytes([first.selection[0] | 0x80]))
    cases = {
        "bad-report-selection": resealed(reports=[padded, *block.reports[1:]]),
        "non-canonical-report": resealed(report_entries=block.report_entries[::-1]),
        "unused-report-entry": resealed(
            reports=[msgspec.structs.replace(r, selection=b"\x01") for r in block.reports]
        ),
    }
    for code, bad in cases.items():
        assert reject_code(lambda bad=bad: chain.validate(bad)) == code
    not_signed = msgspec.structs.replace(first, signature=bytes(64))
    assert (
        reject_code(lambda: chain.validate(resealed(reports=[not_signed, *block.reports[1:]])))
        == "bad-report"
    )

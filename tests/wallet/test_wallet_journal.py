"""The spend journal: state transitions, replay, torn tails, corruption and
compaction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from wallet_helpers import make_outpoint

from timecoin.crypto import sha256
from timecoin.types import OutPoint
from timecoin.wallet import JournalCorruptError, WalletExistsError
from timecoin.wallet.journal import (
    COMPACT_MIN_DEAD_RECORDS,
    Journal,
    SpendMarks,
    encode_line,
)

NETWORK = "minimal"
FINGERPRINT = "00112233aabbccdd"


def txid(n: int) -> bytes:
    return sha256(b"txid" + bytes([n]))


A, B, C, D = (make_outpoint(i) for i in range(4))


def new_journal(tmp_path: Path) -> Journal:
    return Journal.create(tmp_path / "w.journal", NETWORK, FINGERPRINT)


def reopen(tmp_path: Path) -> Journal:
    return Journal.open(tmp_path / "w.journal", NETWORK, FINGERPRINT)


class TestSpendMarks:
    def test_sign_marks_and_refuses_overlap(self) -> None:
        marks = SpendMarks()
        marks.apply_sign(txid(1), [A, B])
        assert marks.marks == {A: txid(1), B: txid(1)}
        with pytest.raises(ValueError, match="already spent by pending"):
            marks.apply_sign(txid(2), [C, B])
        with pytest.raises(ValueError, match="already pending"):
            marks.apply_sign(txid(1), [C])
        with pytest.raises(ValueError, match="twice"):
            marks.apply_sign(txid(3), [C, C])
        with pytest.raises(ValueError, match="spends nothing"):
            marks.apply_sign(txid(3), [])
        assert set(marks.marks) == {A, B}

    def test_release_unmarks(self) -> None:
        marks = SpendMarks()
        marks.apply_sign(txid(1), [A, B])
        marks.apply_release(txid(1))
        assert not marks.marks
        assert not marks.pending
        with pytest.raises(ValueError, match="not pending"):
            marks.apply_release(txid(1))

    def test_spent_settles_once_every_input_is_spent(self) -> None:
        marks = SpendMarks()
        marks.apply_sign(txid(1), [A, B])
        marks.apply_spent([A])
        assert txid(1) in marks.pending
        assert B in marks.marks
        assert A in marks.marks  # still marked until the transaction settles
        marks.apply_spent([B])
        assert not marks.pending
        assert not marks.marks
        with pytest.raises(ValueError, match="unmarked"):
            marks.apply_spent([C])


def test_records_replay_after_reopen(tmp_path: Path) -> None:
    journal = new_journal(tmp_path)
    journal.record_sign(txid(1), [A, B])
    journal.record_sign(txid(2), [C])
    journal.record_sign(txid(3), [D])
    journal.record_release(txid(2))
    journal.record_spent([D])
    journal.close()
    again = reopen(tmp_path)
    assert again.marks.marks == {A: txid(1), B: txid(1)}
    assert set(again.marks.pending) == {txid(1)}
    assert again.record_count == 5
    again.close()


def test_lines_are_checked_json(tmp_path: Path) -> None:
    journal = new_journal(tmp_path)
    journal.record_sign(txid(1), [B, A])
    journal.close()
    lines = (tmp_path / "w.journal").read_text().splitlines()
    header, record = (json.loads(line) for line in lines)
    assert header["format"] == "timecoin-wallet-journal"
    assert header["network"] == NETWORK
    assert header["wallet"] == FINGERPRINT
    assert record["op"] == "sign"
    assert record["txid"] == txid(1).hex()
    expected = sorted([[A.txid.hex(), 0], [B.txid.hex(), 0]])
    assert record["outpoints"] == expected
    assert len(record["check"]) == 16


def test_create_refuses_existing(tmp_path: Path) -> None:
    new_journal(tmp_path).close()
    with pytest.raises(WalletExistsError):
        new_journal(tmp_path)


def test_refused_transition_writes_nothing(tmp_path: Path) -> None:
    journal = new_journal(tmp_path)
    journal.record_sign(txid(1), [A])
    before = (tmp_path / "w.journal").read_bytes()
    with pytest.raises(ValueError):
        journal.record_sign(txid(2), [A])
    with pytest.raises(ValueError):
        journal.record_release(txid(9))
    with pytest.raises(ValueError):
        journal.record_spent([C])
    assert (tmp_path / "w.journal").read_bytes() == before
    journal.close()


@pytest.mark.parametrize("tail", [b'{"op":"sign","txid":"ab', b"\x00" * 57, b"{"])
def test_torn_final_append_is_dropped(tmp_path: Path, tail: bytes) -> None:
    journal = new_journal(tmp_path)
    journal.record_sign(txid(1), [A])
    journal.close()
    path = tmp_path / "w.journal"
    intact = path.read_bytes()
    path.write_bytes(intact + tail)
    again = reopen(tmp_path)
    assert again.torn_bytes_dropped == len(tail)
    assert set(again.marks.pending) == {txid(1)}
    assert path.read_bytes() == intact
    again.record_sign(txid(2), [B])
    again.close()
    assert set(reopen(tmp_path).marks.pending) == {txid(1), txid(2)}


def _journal_with_records(tmp_path: Path) -> Path:
    journal = new_journal(tmp_path)
    journal.record_sign(txid(1), [A])
    journal.record_sign(txid(2), [B])
    journal.close()
    return tmp_path / "w.journal"


def _replace_line(path: Path, number: int, line: bytes) -> None:
    lines = path.read_bytes().split(b"\n")
    lines[number - 1] = line
    path.write_bytes(b"\n".join(lines))


CORRUPT_LINES = {
    "garbage": b"not json at all",
    "flipped-check": encode_line({"op": "release", "txid": txid(1).hex()})[:-1].replace(
        b'"check":"', b'"check":"f'
    ),
    "unknown-op": encode_line({"op": "burn", "txid": txid(1).hex()})[:-1],
    "extra-field": encode_line({"op": "release", "txid": txid(1).hex(), "x": 1})[:-1],
    "short-txid": encode_line({"op": "release", "txid": "abcd"})[:-1],
    "bad-index": encode_line(
        {"op": "sign", "txid": txid(7).hex(), "outpoints": [[A.txid.hex(), -1]]}
    )[:-1],
    "double-spend": encode_line(
        {"op": "sign", "txid": txid(7).hex(), "outpoints": [[A.txid.hex(), 0]]}
    )[:-1],
    "release-unknown": encode_line({"op": "release", "txid": txid(9).hex()})[:-1],
    "not-object": b"[1, 2]",
}


@pytest.mark.parametrize("name", sorted(CORRUPT_LINES))
def test_corrupt_record_is_a_typed_error(tmp_path: Path, name: str) -> None:
    path = _journal_with_records(tmp_path)
    _replace_line(path, 3, CORRUPT_LINES[name])
    damaged = path.read_bytes()
    with pytest.raises(JournalCorruptError, match="line 3"):
        reopen(tmp_path)
    assert path.read_bytes() == damaged


def test_corrupt_middle_record_is_not_a_torn_tail(tmp_path: Path) -> None:
    path = _journal_with_records(tmp_path)
    data = path.read_bytes()
    index = data.index(b'"op":"sign"')
    path.write_bytes(data[:index] + b"X" + data[index + 1 :])
    with pytest.raises(JournalCorruptError, match="line 2"):
        reopen(tmp_path)


@pytest.mark.parametrize(
    ("network", "fingerprint"), [("mainnet", FINGERPRINT), (NETWORK, "ffffffffffffffff")]
)
def test_journal_of_another_wallet_is_refused(
    tmp_path: Path, network: str, fingerprint: str
) -> None:
    _journal_with_records(tmp_path)
    with pytest.raises(JournalCorruptError, match="line 1: header"):
        Journal.open(tmp_path / "w.journal", network, fingerprint)


@pytest.mark.parametrize("content", [b"", b"\n", b"garbage without newline"])
def test_empty_or_headerless_journal_is_corrupt(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "w.journal").write_bytes(content)
    with pytest.raises(JournalCorruptError):
        reopen(tmp_path)


def test_missing_journal_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        reopen(tmp_path)


def test_compaction_keeps_pending_state(tmp_path: Path) -> None:
    journal = new_journal(tmp_path)
    journal.record_sign(txid(1), [A, B])
    journal.record_spent([A])
    for n in range(COMPACT_MIN_DEAD_RECORDS + 5):
        op = OutPoint(txid(200), n)
        journal.record_sign(sha256(bytes([1]) + n.to_bytes(4, "big")), [op])
        journal.record_spent([op])
    journal.close()
    path = tmp_path / "w.journal"
    size_before = path.stat().st_size
    again = reopen(tmp_path)  # compacts: the dead records dominate
    assert again.record_count == 2
    assert path.stat().st_size < size_before // 50
    assert set(again.marks.pending) == {txid(1)}
    assert again.marks.pending[txid(1)].unspent == {B}
    again.record_spent([B])
    again.close()
    final = reopen(tmp_path)
    assert not final.marks.pending
    final.close()

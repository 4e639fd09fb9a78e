"""The sealed write-ahead logs on real LMDB: a record lost anywhere, a
changed byte or a lost head stops the log from opening (so the node refuses
to start rather than risk a conflicting vote); `accept_damage` keeps what is
left; pruning and logs written before sealing stay readable."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from timecoin.consensus.finality_wal import WalTxLocks
from timecoin.node.seqlog import SEAL_BYTES, WalDamagedError
from timecoin.node.store import (
    FINALITY_WAL_HEAD_KEY,
    FinalityWalLog,
    encode_finality_wal_record,
)
from timecoin.storage import LmdbStore, WriteBatch
from timecoin.storage.schema import FINALITY_WAL_PREFIX, finality_wal_key

RECORDS = 6


@pytest.fixture
def kv(tmp_path: Path) -> Iterator[LmdbStore]:
    store = LmdbStore(tmp_path / "chain", sync=False)
    yield store
    store.close()


def epochs(log: FinalityWalLog) -> list[int]:
    return [record.epoch for record in log.read()]  # type: ignore[union-attr]


def written(kv: LmdbStore) -> FinalityWalLog:
    """A finality WAL holding RECORDS records (epochs 0..5), appended in two groups."""
    log = FinalityWalLog(kv)
    log.append([WalTxLocks(epoch, []) for epoch in range(3)])
    log.append([WalTxLocks(epoch, []) for epoch in range(3, RECORDS)])
    return log


def delete(kv: LmdbStore, key: bytes) -> None:
    batch = WriteBatch()
    batch.delete(key)
    kv.write(batch)


def test_a_whole_log_reopens_with_every_record(kv: LmdbStore) -> None:
    written(kv)
    log = FinalityWalLog(kv)
    assert epochs(log) == list(range(RECORDS))
    log.append([WalTxLocks(RECORDS, [])])
    assert epochs(FinalityWalLog(kv)) == list(range(RECORDS + 1))


@pytest.mark.parametrize(
    ("sequence", "problem"),
    [
        (0, "records 0 to 0 are missing"),
        (2, "records 2 to 2 are missing"),
        (RECORDS - 1, "records 5 to 5 \\(the last written\\) are missing"),
    ],
)
def test_a_deleted_record_is_found_wherever_it_was(
    kv: LmdbStore, sequence: int, problem: str
) -> None:
    written(kv)
    delete(kv, finality_wal_key(sequence))
    with pytest.raises(WalDamagedError, match=f"finality WAL is damaged: {problem}.*refuses"):
        FinalityWalLog(kv)


def test_a_changed_record_or_a_lost_head_is_found(kv: LmdbStore) -> None:
    written(kv)
    value = bytearray(kv.get(finality_wal_key(3)) or b"")
    value[-1] ^= 1  # still decodes: the epoch changed
    batch = WriteBatch()
    batch.put(finality_wal_key(3), bytes(value))
    kv.write(batch)
    with pytest.raises(WalDamagedError, match="record 3 or its link changed"):
        FinalityWalLog(kv)
    batch = WriteBatch()
    value[-1] ^= 1
    batch.put(finality_wal_key(3), bytes(value))
    kv.write(batch)
    FinalityWalLog(kv)  # repaired: opens again
    delete(kv, FINALITY_WAL_HEAD_KEY)
    with pytest.raises(WalDamagedError, match="its head entry is missing"):
        FinalityWalLog(kv)


def test_accepting_damage_keeps_the_records_left(
    kv: LmdbStore, caplog: pytest.LogCaptureFixture
) -> None:
    written(kv)
    delete(kv, finality_wal_key(2))
    with caplog.at_level(logging.WARNING):
        log = FinalityWalLog(kv, accept_damage=True)
    assert "accept_damaged_wal is set: kept 5 records" in caplog.text
    assert epochs(log) == [0, 1, 3, 4, 5]
    log.append([WalTxLocks(9, [])])
    assert epochs(FinalityWalLog(kv)) == [0, 1, 3, 4, 5, 9]  # sealed anew


def test_pruning_deletes_from_the_front_and_the_log_still_opens(kv: LmdbStore) -> None:
    log = written(kv)
    assert log.prune(2) == 2
    assert epochs(FinalityWalLog(kv)) == [2, 3, 4, 5]
    assert log.prune(RECORDS) == 4
    log = FinalityWalLog(kv)
    assert epochs(log) == []
    log.append([WalTxLocks(7, [])])
    assert epochs(FinalityWalLog(kv)) == [7]
    # deleting the pruned log's only record is still found
    (key, _), *_ = kv.iter_prefix(FINALITY_WAL_PREFIX)
    delete(kv, key)
    with pytest.raises(WalDamagedError, match="the last written"):
        FinalityWalLog(kv)


def test_a_log_written_before_sealing_is_sealed_at_open(kv: LmdbStore) -> None:
    batch = WriteBatch()
    for epoch in range(3):
        batch.put(finality_wal_key(epoch), encode_finality_wal_record(WalTxLocks(epoch, [])))
    kv.write(batch)
    log = FinalityWalLog(kv)
    assert epochs(log) == [0, 1, 2]
    stored = [value for _, value in kv.iter_prefix(FINALITY_WAL_PREFIX)]
    assert all(len(value) > SEAL_BYTES and value[0] == 1 for value in stored)
    delete(kv, finality_wal_key(4))  # the middle one of the sealed copies (3, 4, 5)
    with pytest.raises(WalDamagedError, match="records 4 to 4 are missing"):
        FinalityWalLog(kv)

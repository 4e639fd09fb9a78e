"""WAL, tip certificate and address book persistence over the storage key spaces."""

from __future__ import annotations

from pathlib import Path

import pytest

from timecoin.consensus import WalRoundState
from timecoin.consensus.finality_wal import WalTxLocks
from timecoin.node.keys import KeyFileError, load_or_create_key, read_key_file
from timecoin.node.store import FinalityWalLog, FinalTxStore, StoreAddressBook, WalLog
from timecoin.p2p import AddressEntry
from timecoin.storage import MemoryStore, StoreCorruptError, WriteBatch
from timecoin.storage.schema import CONSENSUS_WAL_PREFIX, consensus_wal_key
from timecoin.types import TX_VERSION, ZERO_HASH, FinalityProof, Transaction, TxOutput, compute_txid


def _state(height: int) -> WalRoundState:
    return WalRoundState(height, 0, 1, -1, ZERO_HASH, -1, ZERO_HASH)


def test_wal_appends_in_order_and_prunes_lower_heights() -> None:
    kv = MemoryStore()
    wal = WalLog(kv)
    wal.append([_state(1), _state(2)])
    wal.append([_state(3)])
    assert [r.height for r in wal.read()] == [1, 2, 3]  # type: ignore[union-attr]
    assert wal.prune(3) == 2
    reopened = WalLog(kv)
    reopened.append([_state(4)])
    assert [r.height for r in reopened.read()] == [3, 4]  # type: ignore[union-attr]


def test_finality_wal_prunes_lower_epochs_and_keeps_order() -> None:
    kv = MemoryStore()
    wal = FinalityWalLog(kv)
    wal.append([WalTxLocks(0, []), WalTxLocks(1, [])])
    wal.append([WalTxLocks(2, [])])
    assert [r.epoch for r in wal.read()] == [0, 1, 2]  # type: ignore[union-attr]
    assert wal.prune(2) == 2
    reopened = FinalityWalLog(kv)
    reopened.append([WalTxLocks(3, [])])
    assert [r.epoch for r in reopened.read()] == [2, 3]  # type: ignore[union-attr]


class _CountingStore(MemoryStore):
    """A memory store that counts its synced writes."""

    def __init__(self) -> None:
        super().__init__()
        self.synced_writes = 0

    def write(self, batch: WriteBatch, *, sync: bool = True) -> None:
        self.synced_writes += int(sync)
        super().write(batch, sync=sync)


def _final_item(n: int) -> tuple[Transaction, FinalityProof]:
    tx = Transaction(
        version=TX_VERSION,
        inputs=[],
        outputs=[TxOutput(amount=n + 1, address=b"\x01" * 20)],
        lock_time=n,
        payload=None,
        signatures=[],
        owner_signature=None,
    )
    proof = FinalityProof(txid=compute_txid(tx), inputs_root=ZERO_HASH, epoch=0, votes=[])
    return tx, proof


def test_group_commit_writes_locks_and_final_transactions_in_one_synced_write() -> None:
    kv = _CountingStore()
    wal = FinalityWalLog(kv)
    finals = FinalTxStore(kv)
    wal.append([WalTxLocks(0, [])])
    finals.put([_final_item(0)])
    before = kv.synced_writes
    finals.put_with_wal(
        [_final_item(1), _final_item(2)], wal, [WalTxLocks(1, []), WalTxLocks(2, [])]
    )
    assert kv.synced_writes == before + 1
    # Both sequences continue after the group, also once reopened.
    finals.put_with_wal([_final_item(3)], wal, [WalTxLocks(3, [])])
    assert [r.epoch for r in FinalityWalLog(kv).read()] == [0, 1, 2, 3]  # type: ignore[union-attr]
    assert [tx.lock_time for tx, _ in FinalTxStore(kv).load()] == [0, 1, 2, 3]
    finals.put_with_wal([], wal, [])
    assert kv.synced_writes == before + 2  # an empty group writes nothing


def test_group_commit_refuses_logs_in_different_stores() -> None:
    with pytest.raises(ValueError, match="share one store"):
        FinalTxStore(MemoryStore()).put_with_wal(
            [_final_item(0)], FinalityWalLog(MemoryStore()), []
        )


def test_wal_read_refuses_corrupt_records_and_prune_keeps_them() -> None:
    kv = MemoryStore()
    wal = WalLog(kv)
    wal.append([_state(5)])
    batch = WriteBatch()
    batch.put(consensus_wal_key(7), b"\xc1 not a record")
    kv.write(batch)
    with pytest.raises(StoreCorruptError, match="WAL record"):
        wal.read()
    # Pruning stops at a record it cannot read: deleting it would hide the
    # damage that the next start-up reports.
    assert wal.prune(6) == 1
    assert len(list(kv.iter_prefix(CONSENSUS_WAL_PREFIX))) == 1
    with pytest.raises(
        StoreCorruptError, match=r"record 7 was not written by this log \(it holds: none\)"
    ):
        WalLog(kv)


def test_address_book_save_replaces_entries() -> None:
    book = StoreAddressBook(MemoryStore())
    book.save([AddressEntry("127.0.0.1", 1, 5), AddressEntry("127.0.0.1", 2, 6)])
    book.save([AddressEntry("127.0.0.1", 2, 7)])
    assert book.load() == [AddressEntry("127.0.0.1", 2, 7)]


def test_key_file_is_created_once(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    key = load_or_create_key(path)
    assert load_or_create_key(path) == key
    assert path.stat().st_mode & 0o777 == 0o600


def test_malformed_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    path.write_text("zz\n")
    with pytest.raises(KeyFileError, match="hex digits"):
        read_key_file(path)

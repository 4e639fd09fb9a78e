"""WAL, tip certificate and address book persistence over the storage key spaces."""

from __future__ import annotations

from pathlib import Path

import pytest

from timecoin.consensus import WalRoundState
from timecoin.node.keys import KeyFileError, load_or_create_key, read_key_file
from timecoin.node.store import StoreAddressBook, WalLog
from timecoin.p2p import AddressEntry
from timecoin.storage import MemoryStore
from timecoin.types import ZERO_HASH


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

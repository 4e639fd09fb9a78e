"""A damaged store is refused with a typed error naming the damage, never
mapped or served: a truncated LMDB file (which would SIGBUS when read)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from timecoin.storage import LmdbStore, StoreCorruptError, WriteBatch
from timecoin.storage.lmdb_store import DATA_FILE, check_data_file

VALUE_BYTES = 200
ITEMS = 2_000


def fill_store(path: Path) -> int:
    """A closed LMDB store at `path` holding ITEMS values; return the file's size."""
    with LmdbStore(path, sync=False) as store:
        batch = WriteBatch()
        for index in range(ITEMS):
            batch.put(b"k%06d" % index, bytes([index % 256]) * VALUE_BYTES)
        store.write(batch)
    return os.path.getsize(path / DATA_FILE)


@pytest.mark.parametrize("cut", ["half", "8KiB"])
def test_a_truncated_data_file_is_refused_at_open(tmp_path: Path, cut: str) -> None:
    path = tmp_path / "chain"
    size = fill_store(path)
    assert size > 64 * 1024
    os.truncate(path / DATA_FILE, size // 2 if cut == "half" else 8 * 1024)
    with pytest.raises(StoreCorruptError, match=r"data\.mdb is truncated: .* resyncs"):
        LmdbStore(path)
    # the refusal released the path: a repaired store opens in this process
    os.truncate(path / DATA_FILE, 0)
    LmdbStore(path).close()


def test_a_data_file_without_meta_pages_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "chain"
    fill_store(path)
    os.truncate(path / DATA_FILE, 100)
    with pytest.raises(StoreCorruptError, match="no valid LMDB meta pages"):
        check_data_file(path)
    with (path / DATA_FILE).open("r+b") as stream:
        stream.write(b"\0" * 100)
        stream.truncate(1 << 20)
    with pytest.raises(StoreCorruptError, match="no valid LMDB meta pages"):
        check_data_file(path)


def test_a_whole_data_file_passes_the_check(tmp_path: Path) -> None:
    path = tmp_path / "chain"
    check_data_file(path)  # absent: nothing to check
    fill_store(path)
    check_data_file(path)
    with LmdbStore(path) as store:
        assert store.get(b"k%06d" % (ITEMS - 1)) == bytes([(ITEMS - 1) % 256]) * VALUE_BYTES

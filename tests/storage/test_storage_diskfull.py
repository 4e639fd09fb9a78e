"""A full disk on a real (small tmpfs) file system: a failed write raises
StorageWriteError naming "no space left on device", writes nothing, tells
`on_failure` once and fails the store; the free-space reserve refuses
writes and opening before the disk is full. Skipped unless root."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from timecoin.storage import LmdbStore, StorageWriteError, WriteBatch

MIB = 1 << 20
VALUE_BYTES = 1_000


def batch_of(start: int, count: int) -> WriteBatch:
    batch = WriteBatch()
    for index in range(start, start + count):
        batch.put(b"k%08d" % index, os.urandom(VALUE_BYTES))
    return batch


def test_a_write_on_a_full_disk_fails_the_store(mount_tmpfs: Callable[[int], Path]) -> None:
    path = mount_tmpfs(2 * MIB) / "chain"
    failures: list[StorageWriteError] = []
    store = LmdbStore(path)
    store.on_failure = failures.append
    written = 0
    with pytest.raises(StorageWriteError, match="no space left on device") as caught:
        for _ in range(10_000):  # bounded: 2 MiB holds far fewer
            store.write(batch_of(written, 100))
            written += 100
    assert caught.value.disk_full
    assert failures == [caught.value]
    assert store.failure is caught.value
    # a failed store takes nothing more, however small
    with pytest.raises(StorageWriteError, match="takes no more writes"):
        store.write(batch_of(10**7, 1))
    assert len(failures) == 1
    store.close()
    with LmdbStore(path) as reopened:  # every acknowledged batch is there
        assert reopened.get(b"k%08d" % (written - 1)) is not None
        assert reopened.get(b"k%08d" % written) is None


def test_the_free_space_reserve_refuses_writes_and_opening(
    mount_tmpfs: Callable[[int], Path], fill_filesystem: Callable[[Path, int], Path]
) -> None:
    root = mount_tmpfs(8 * MIB)
    path = root / "chain"
    failures: list[StorageWriteError] = []
    store = LmdbStore(path, min_free_bytes=4 * MIB)
    store.on_failure = failures.append
    store.write(batch_of(0, 100))
    filler = fill_filesystem(root, 2 * MIB)
    with pytest.raises(StorageWriteError, match=r"no space left on device: .* at least 4194304"):
        store.write(batch_of(100, 1))
    assert len(failures) == 1 and failures[0].disk_full
    store.close()
    with pytest.raises(StorageWriteError, match="no space left on device"):
        LmdbStore(path, min_free_bytes=4 * MIB)
    filler.unlink()
    with LmdbStore(path, min_free_bytes=4 * MIB) as store:  # space again: writes again
        store.write(batch_of(100, 1))
        assert store.get(b"k%08d" % 99) is not None

"""The KVStore contract, run on both backends, plus LMDB-specific behaviour:
persistence, map growth, one environment per process, readers during growth."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from timecoin.storage import (
    MAX_KEY_BYTES,
    KVStore,
    LmdbStore,
    MemoryStore,
    StorageError,
    WriteBatch,
)
from timecoin.storage.lmdb_store import ITER_CHUNK_ITEMS


@pytest.fixture(params=["memory", "lmdb"])
def kv(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KVStore]:
    store: KVStore = (
        MemoryStore() if request.param == "memory" else LmdbStore(tmp_path / "kv", sync=False)
    )
    yield store
    store.close()


def put_all(kv: KVStore, items: dict[bytes, bytes]) -> None:
    batch = WriteBatch()
    for key, value in items.items():
        batch.put(key, value)
    kv.write(batch)


def contents(kv: KVStore) -> dict[bytes, bytes]:
    return dict(kv.iter_prefix(b""))


# -- WriteBatch -----------------------------------------------------------------


def test_write_batch_keeps_operations_in_order() -> None:
    batch = WriteBatch()
    batch.put(b"a", b"1")
    batch.delete(b"b")
    batch.put(b"a", b"2")
    assert len(batch) == 3
    assert list(batch) == [(b"a", b"1"), (b"b", None), (b"a", b"2")]


@pytest.mark.parametrize("key, value", [("a", b"1"), (b"a", "1"), (bytearray(b"a"), b"1")])
def test_write_batch_takes_only_bytes(key: object, value: object) -> None:
    with pytest.raises(TypeError):
        WriteBatch().put(key, value)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        WriteBatch().delete(memoryview(b"a"))  # type: ignore[arg-type]


# -- contract ---------------------------------------------------------------------


def test_get_put_overwrite_delete(kv: KVStore) -> None:
    assert kv.get(b"k") is None
    put_all(kv, {b"k": b"v1", b"empty": b""})
    assert kv.get(b"k") == b"v1"
    assert kv.get(b"empty") == b""
    put_all(kv, {b"k": b"v2"})
    assert kv.get(b"k") == b"v2"
    batch = WriteBatch()
    batch.delete(b"k")
    batch.delete(b"never-there")
    kv.write(batch)
    assert kv.get(b"k") is None
    assert contents(kv) == {b"empty": b""}


def test_later_operations_on_a_key_win(kv: KVStore) -> None:
    batch = WriteBatch()
    batch.put(b"a", b"1")
    batch.delete(b"a")
    batch.delete(b"b")
    batch.put(b"b", b"2")
    batch.put(b"c", b"1")
    batch.put(b"c", b"3")
    kv.write(batch)
    assert contents(kv) == {b"b": b"2", b"c": b"3"}


def test_empty_batch_is_a_no_op(kv: KVStore) -> None:
    kv.write(WriteBatch())
    assert contents(kv) == {}


def test_iter_prefix_is_sorted_and_filtered(kv: KVStore) -> None:
    items = {
        b"\x01": b"a",
        b"\x01\x00": b"b",
        b"\x01\xff\xff": b"c",
        b"\x02": b"d",
        b"\x00\xff": b"e",
        b"\x01\x01": b"f",
        b"\xff" * MAX_KEY_BYTES: b"g",
    }
    put_all(kv, items)
    assert list(kv.iter_prefix(b"\x01")) == [
        (b"\x01", b"a"),
        (b"\x01\x00", b"b"),
        (b"\x01\x01", b"f"),
        (b"\x01\xff\xff", b"c"),
    ]
    assert [k for k, _ in kv.iter_prefix(b"")] == sorted(items)
    assert list(kv.iter_prefix(b"\x03")) == []
    assert list(kv.iter_prefix(b"\x01\x00\x00")) == []
    assert list(kv.iter_prefix(b"\xff")) == [(b"\xff" * MAX_KEY_BYTES, b"g")]


def test_iter_prefix_across_chunks(kv: KVStore) -> None:
    n = 2 * ITER_CHUNK_ITEMS + 7
    items = {b"p" + i.to_bytes(4, "big"): i.to_bytes(4, "little") for i in range(n)}
    items[b"q"] = b"after"
    items[b"o"] = b"before"
    put_all(kv, items)
    got = list(kv.iter_prefix(b"p"))
    assert len(got) == n
    assert got == sorted((k, v) for k, v in items.items() if k.startswith(b"p"))


def test_iteration_survives_writes_between_items(kv: KVStore) -> None:
    n = ITER_CHUNK_ITEMS + 10
    put_all(kv, {b"p" + i.to_bytes(4, "big"): b"" for i in range(n)})
    seen = 0
    for key, _ in kv.iter_prefix(b"p"):
        batch = WriteBatch()
        batch.put(b"z" + key, b"x")
        kv.write(batch)
        seen += 1
    assert seen == n


@pytest.mark.parametrize("bad_key", [b"", b"k" * (MAX_KEY_BYTES + 1)])
def test_invalid_keys_are_rejected(kv: KVStore, bad_key: bytes) -> None:
    with pytest.raises(StorageError):
        kv.get(bad_key)
    batch = WriteBatch()
    batch.put(bad_key, b"v")
    with pytest.raises(StorageError):
        kv.write(batch)
    with pytest.raises(StorageError):
        list(kv.iter_prefix(b"k" * (MAX_KEY_BYTES + 1)))


@pytest.mark.parametrize("bad_key", [b"", b"k" * (MAX_KEY_BYTES + 1)])
def test_a_batch_failing_midway_writes_nothing(kv: KVStore, bad_key: bytes) -> None:
    before = {b"keep": b"old", b"gone": b"still here"}
    put_all(kv, before)
    batch = WriteBatch()
    for i in range(500):
        batch.put(b"new" + i.to_bytes(2, "big"), b"v" * 100)
    batch.put(b"keep", b"new")
    batch.delete(b"gone")
    batch.put(bad_key, b"v")  # rejected by the store, after all the others
    with pytest.raises(StorageError, match="batch operation 502"):
        kv.write(batch)
    assert contents(kv) == before
    # The store still works afterwards.
    put_all(kv, {b"after": b"ok"})
    assert kv.get(b"after") == b"ok"


def test_closed_store_refuses_every_operation(kv: KVStore) -> None:
    put_all(kv, {b"k": b"v"})
    kv.close()
    kv.close()
    with pytest.raises(StorageError):
        kv.get(b"k")
    with pytest.raises(StorageError):
        list(kv.iter_prefix(b""))
    with pytest.raises(StorageError):
        put_all(kv, {b"k": b"v"})


def test_concurrent_writers_and_readers(kv: KVStore) -> None:
    threads_n, batches_n, keys_n = 4, 25, 20
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            for b in range(batches_n):
                batch = WriteBatch()
                for k in range(keys_n):
                    batch.put(bytes([t, b, k]), b"x" * 50)
                kv.write(batch, sync=False)
                # A reader sees whole batches only.
                got = list(kv.iter_prefix(bytes([t, b])))
                assert len(got) == keys_n
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(threads_n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len(contents(kv)) == threads_n * batches_n * keys_n


# -- LMDB only --------------------------------------------------------------------


def test_lmdb_persists_across_reopen(tmp_path: Path) -> None:
    with LmdbStore(tmp_path / "db") as kv:
        put_all(kv, {b"a": b"1", b"b": b"2"})
    with LmdbStore(tmp_path / "db") as kv:
        assert contents(kv) == {b"a": b"1", b"b": b"2"}


def test_lmdb_store_opens_a_path_once_per_process(tmp_path: Path) -> None:
    with LmdbStore(tmp_path / "db"), pytest.raises(StorageError, match="already open"):
        LmdbStore(tmp_path / "db")
    LmdbStore(tmp_path / "db").close()


def test_lmdb_store_dropped_without_close_releases_its_path(tmp_path: Path) -> None:
    kv = LmdbStore(tmp_path / "db")
    put_all(kv, {b"a": b"1"})
    del kv
    gc.collect()
    with LmdbStore(tmp_path / "db") as kv:
        assert kv.get(b"a") == b"1"


def test_lmdb_rejects_bad_map_sizes(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        LmdbStore(tmp_path / "db", map_size_bytes=0)
    with pytest.raises(ValueError):
        LmdbStore(tmp_path / "db", map_size_bytes=2 << 20, max_map_size_bytes=1 << 20)
    LmdbStore(tmp_path / "db").close()  # the failed opens left nothing open


def test_lmdb_open_failure_is_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"not a directory")
    with pytest.raises(StorageError, match="cannot open"):
        LmdbStore(blocker / "db")


def test_lmdb_grows_the_map_when_a_batch_does_not_fit(tmp_path: Path) -> None:
    initial = 64 * 1024
    with LmdbStore(tmp_path / "db", map_size_bytes=initial, sync=False) as kv:
        assert kv.map_size_bytes == initial
        items = {i.to_bytes(4, "big"): bytes([i % 251]) * 1_000 for i in range(2_000)}
        put_all(kv, items)  # ~2 MB: several doublings inside one write
        assert kv.map_size_bytes >= 2 * 1024 * 1024
        assert kv.map_size_bytes & (kv.map_size_bytes - 1) == 0  # doubled from a power of 2
        assert contents(kv) == items
        grown = kv.map_size_bytes
    with LmdbStore(tmp_path / "db", map_size_bytes=initial) as kv:
        # Reopened with a small map: sized from the file, on the same doubling steps.
        assert kv.map_size_bytes == grown
        assert len(contents(kv)) == len(items)


def test_lmdb_batch_too_big_for_the_maximum_map_writes_nothing(tmp_path: Path) -> None:
    limit = 256 * 1024
    with LmdbStore(tmp_path / "db", map_size_bytes=64 * 1024, max_map_size_bytes=limit) as kv:
        put_all(kv, {b"small": b"v"})
        batch = WriteBatch()
        for i in range(1_000):
            batch.put(i.to_bytes(4, "big"), b"v" * 1_000)
        with pytest.raises(StorageError, match="maximum size"):
            kv.write(batch)
        assert kv.map_size_bytes == limit
        assert contents(kv) == {b"small": b"v"}
        put_all(kv, {b"after": b"ok"})
        assert kv.get(b"after") == b"ok"


GROW_IN_CHILD = """
import sys
from timecoin.storage import LmdbStore, WriteBatch
with LmdbStore(sys.argv[1], map_size_bytes=64 * 1024) as kv:
    batch = WriteBatch()
    for i in range(2_000):
        batch.put(b"child" + i.to_bytes(4, "big"), b"c" * 1_000)
    kv.write(batch)
"""


def test_lmdb_adopts_a_map_grown_by_another_process(tmp_path: Path) -> None:
    src = str(Path(__file__).resolve().parents[2] / "src")
    with LmdbStore(tmp_path / "db", map_size_bytes=64 * 1024) as kv:
        put_all(kv, {b"parent": b"p"})
        small = kv.map_size_bytes
        subprocess.run(
            [sys.executable, "-c", GROW_IN_CHILD, str(tmp_path / "db")],
            check=True,
            env={**os.environ, "PYTHONPATH": src},
            timeout=60,
        )
        # The file is now larger than this process's map: LMDB reports
        # MDB_MAP_RESIZED, and the store adopts the new size and retries.
        assert kv.get(b"child" + (1_999).to_bytes(4, "big")) == b"c" * 1_000
        assert kv.map_size_bytes > small
        assert len(list(kv.iter_prefix(b"child"))) == 2_000
        put_all(kv, {b"parent": b"again"})
        assert kv.get(b"parent") == b"again"


def test_lmdb_readers_keep_working_while_the_map_grows(tmp_path: Path) -> None:
    with LmdbStore(tmp_path / "db", map_size_bytes=64 * 1024, sync=False) as kv:
        put_all(kv, {b"a" + i.to_bytes(2, "big"): b"r" * 100 for i in range(100)})
        stop = threading.Event()
        errors: list[BaseException] = []
        reads = [0]

        def reader() -> None:
            try:
                while not stop.is_set():
                    assert kv.get(b"a\x00\x05") == b"r" * 100
                    assert len(list(kv.iter_prefix(b"a"))) == 100
                    reads[0] += 1
                    time.sleep(0.0005)  # tight loops would starve the writer of the GIL
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=reader) for _ in range(2)]
        for th in threads:
            th.start()
        try:
            for round_ in range(8):
                reads_before = reads[0]
                put_all(
                    kv,
                    {
                        b"b" + bytes([round_]) + i.to_bytes(2, "big"): b"w" * 2_000
                        for i in range(200)
                    },
                )
                deadline = time.monotonic() + 5.0
                while reads[0] == reads_before and time.monotonic() < deadline:
                    time.sleep(0.001)  # let the readers run between two growths
        finally:
            stop.set()
            for th in threads:
                th.join()
        assert errors == []
        assert reads[0] > 0
        assert kv.map_size_bytes >= 4 * 1024 * 1024

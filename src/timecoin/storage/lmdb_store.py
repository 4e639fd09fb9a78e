"""The on-disk `KVStore`: one LMDB environment.

Layout: a directory (`subdir=True`) holding `data.mdb` and `lock.mdb`, one
unnamed database, keys in byte order.

Atomicity: `write` is one LMDB write transaction. Any failure (an invalid
key, a full disk, an exception) aborts it, so either the whole batch is
committed or nothing is.

Durability: the environment is opened with `sync=True, metasync=False`
when the store is durable (the default). LMDB then fsyncs the data pages of
every commit but writes the meta page (which makes the commit visible after
a restart) without a flush, so an OS crash can at worst undo the latest
commits, never corrupt the file. `write(sync=True)` then flushes the meta
page too (`Environment.sync(force=True)`) before returning: the batch is on
stable storage when `write` returns. `write(sync=False)` skips that second
flush: cheaper, safe against a process crash, but the commit may be lost
(not corrupted) by an OS crash until the next synced write or `close`. This
matches LMDB's own default (`metasync=True`) in cost for a synced write and
lets each caller choose. A store opened with `sync=False` (tests, benchmarks)
uses MDB_NOSYNC: nothing is flushed before `close`, and an OS crash may
corrupt the file; a process crash still loses nothing.

Map growth: LMDB needs a maximum map size up front. The store starts with
`map_size_bytes` and, when a batch hits MDB_MAP_FULL, aborts the transaction,
doubles the map (up to `max_map_size_bytes`) and retries the batch. The file
only grows as pages are used, so a large map costs address space, not disk.
If another process has grown the file past this process's map (MDB_MAP_RESIZED),
the store adopts the larger size and retries once.

Threads: one LmdbStore may be shared by threads. LMDB locking is on
(`lock=True`); writers are serialized by a Python lock (LMDB would serialize
them too, but a second writer on one thread would deadlock inside LMDB);
readers use short read transactions and run alongside the writer. Growing
the map requires that no transaction is open in this process, so reads and
growth are kept apart by a readers-writer gate. Iterators read in chunks of
`ITER_CHUNK_ITEMS` keys, each chunk in its own read transaction, so no
transaction stays open while the caller holds an iterator.

A damaged file is refused at open, before it is mapped: `check_data_file`
reads LMDB's two meta pages and compares the file's size with the pages the
newest one says are in use. A file cut short (a full disk while copying, a
bad restore) would otherwise be mapped and kill the process with SIGBUS on
the first read past its end.

A failed write or flush (a full disk, an I/O error) raises StorageWriteError,
saying "no space left on device" when the file system is out of space, and
fails the store: every later write raises too, until it is reopened. After a
failed fsync the kernel may have dropped the dirty pages it could not write,
so retrying could report as durable what never reached the disk (the
PostgreSQL "fsyncgate" lesson); the host stops instead. A store opened with
`min_free_bytes` also refuses a write, with the same error, while the file
system has less free space than that (checked before every write, and at
open), so the host stops while it can still log why.

One process must not open the same environment twice (LMDB's rule: it
breaks the lock file), so opening a path that is already open in this
process raises StorageError.
"""

from __future__ import annotations

import os
import struct
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Final

import lmdb

from timecoin.storage.kv import (
    MAX_KEY_BYTES,
    REPAIR_HINT,
    StorageError,
    StorageWriteError,
    StoreCorruptError,
    WriteBatch,
    check_key,
    check_prefix,
)

MIB: Final = 1 << 20
DEFAULT_MAP_SIZE_BYTES: Final = 64 * MIB
DEFAULT_MAX_MAP_SIZE_BYTES: Final = 1 << 40  # 1 TiB of address space
ITER_CHUNK_ITEMS: Final = 1_024
"""Keys read per read transaction while iterating a prefix."""
MAX_READERS: Final = 126
"""Concurrent read transactions (LMDB reader slots) in all processes."""
DIR_MODE: Final = 0o700
RESIZE_POLL_S: Final = 0.000_1
"""How often a map resize checks whether the last reader has left."""
DATA_FILE: Final = "data.mdb"
DISK_FULL_BYTES: Final = 1 * MIB
"""A failed write with less free space than this is reported as a full disk."""
LMDB_MAGIC: Final = 0xBEEFC0DE
LMDB_PAGE_HEADER_BYTES: Final = 16
"""Offsets below are those of LMDB 0.9's on-disk `MDB_meta` (64-bit build):
in the host byte order, after the 16-byte page header come magic (u32), version (u32), address and
map size (8 each), two 48-byte `MDB_db` records (the first one's first u32
is the page size), the last page number and the transaction id (u64 each)."""
_META_MAGIC_OFFSET: Final = LMDB_PAGE_HEADER_BYTES
_META_PAGE_SIZE_OFFSET: Final = LMDB_PAGE_HEADER_BYTES + 24
_META_LAST_PAGE_OFFSET: Final = LMDB_PAGE_HEADER_BYTES + 120
_META_MIN_BYTES: Final = _META_LAST_PAGE_OFFSET + 16
_MIN_PAGE_BYTES: Final = 512
_MAX_PAGE_BYTES: Final = 1 << 16

# Stores open in this process, by real path. Weak, so that a store dropped
# without close() (its environment is closed when it is collected) does not
# keep its path locked for the rest of the process.
_open_stores: weakref.WeakValueDictionary[str, LmdbStore] = weakref.WeakValueDictionary()
_open_stores_lock = threading.Lock()


class _ResizeGate:
    """Keeps read transactions and map resizes apart.

    A reader announces itself in a deque (whose appends and pops are atomic),
    then checks the resize flag; a resize sets the flag, then waits for the
    deque to empty. Either the resize sees the reader or the reader sees the
    flag, so no read transaction is open while the map is replaced. A reader
    that sees the flag backs out and waits for the resize to finish. This
    costs a reader two deque operations, far less than a lock round trip.
    Resizes come one at a time: callers hold the store's write lock.
    """

    def __init__(self) -> None:
        self._inside: deque[None] = deque()
        self._exclusive = False
        self._open = threading.Event()
        self._open.set()

    def enter_shared(self) -> None:
        while True:
            self._inside.append(None)
            if not self._exclusive:
                return
            self._inside.pop()
            self._open.wait()

    def exit_shared(self) -> None:
        self._inside.pop()

    def enter_exclusive(self) -> None:
        self._open.clear()
        self._exclusive = True
        while self._inside:  # readers leave within one short read transaction
            time.sleep(RESIZE_POLL_S)

    def exit_exclusive(self) -> None:
        self._exclusive = False
        self._open.set()


def _initial_map_size(path: str, map_size_bytes: int, max_map_size_bytes: int) -> int:
    """`map_size_bytes` doubled until it holds the existing data file (up to the maximum).

    Reopening a grown store then starts where it left off instead of growing
    again at the first write.
    """
    try:
        file_size = os.path.getsize(os.path.join(path, DATA_FILE))
    except OSError:
        return map_size_bytes
    size = map_size_bytes
    while size < file_size and size < max_map_size_bytes:
        size = min(size * 2, max_map_size_bytes)
    return size


def check_data_file(path: str | os.PathLike[str]) -> None:
    """Raise StoreCorruptError if `path`/data.mdb is shorter than its newest
    meta page says, or has no valid meta page; do nothing if it is absent.

    LMDB maps the file and would SIGBUS on the first read of a page past its
    end; this reads the two meta pages with plain file I/O instead.
    """
    file = os.path.join(os.fspath(path), DATA_FILE)
    try:
        with open(file, "rb") as stream:
            size_bytes = os.fstat(stream.fileno()).st_size
            if size_bytes == 0:
                return  # created but never committed to: LMDB initializes it
            first = stream.read(_META_MIN_BYTES)
            page_bytes = _read_page_size(first)
            if page_bytes is None or size_bytes < 2 * page_bytes:
                raise StoreCorruptError(
                    f"{file}: {size_bytes} bytes, no valid LMDB meta pages "
                    f"(truncated or not an LMDB file): {REPAIR_HINT}"
                )
            stream.seek(page_bytes)
            second = stream.read(_META_MIN_BYTES)
    except (FileNotFoundError, NotADirectoryError):
        return  # nothing to check: LMDB creates the file, or says why it cannot
    except OSError as exc:
        raise StorageError(f"cannot read {file}: {exc.strerror}") from exc
    metas = [meta for meta in (_read_meta(first), _read_meta(second)) if meta is not None]
    if not metas:
        raise StoreCorruptError(f"{file}: both LMDB meta pages are damaged: {REPAIR_HINT}")
    last_page, _ = max(metas, key=lambda meta: meta[1])
    needed_bytes = (last_page + 1) * page_bytes
    if size_bytes < needed_bytes:
        raise StoreCorruptError(
            f"{file} is truncated: {size_bytes} bytes, but its last commit uses "
            f"{needed_bytes} bytes ({last_page + 1} pages of {page_bytes}): {REPAIR_HINT}"
        )


def _read_page_size(meta_page: bytes) -> int | None:
    """The page size recorded in the first meta page, or None if it is not one."""
    if _read_meta(meta_page) is None:
        return None
    (page_bytes,) = struct.unpack_from("=I", meta_page, _META_PAGE_SIZE_OFFSET)
    if not _MIN_PAGE_BYTES <= page_bytes <= _MAX_PAGE_BYTES or page_bytes & (page_bytes - 1):
        return None
    return int(page_bytes)


def _read_meta(meta_page: bytes) -> tuple[int, int] | None:
    """(last page number, transaction id) of a meta page, or None if its magic is wrong."""
    if len(meta_page) < _META_MIN_BYTES:
        return None
    (magic,) = struct.unpack_from("=I", meta_page, _META_MAGIC_OFFSET)
    if magic != LMDB_MAGIC:
        return None
    last_page, txn_id = struct.unpack_from("=QQ", meta_page, _META_LAST_PAGE_OFFSET)
    return int(last_page), int(txn_id)


def get_free_bytes(path: str | os.PathLike[str]) -> int | None:
    """Bytes an unprivileged process may still write on the file system of `path`, or None."""
    try:
        stats = os.statvfs(path)
    except OSError:
        return None
    return stats.f_bavail * stats.f_frsize


def check_free_space(path: str | os.PathLike[str], min_free_bytes: int) -> None:
    """Raise StorageWriteError (disk_full) if the file system of `path` has
    less than `min_free_bytes` free."""
    free_bytes = get_free_bytes(path)
    if free_bytes is not None and free_bytes < min_free_bytes:
        raise StorageWriteError(
            f"no space left on device: {free_bytes} bytes free on the file system of "
            f"{os.fspath(path)}, the store needs at least {min_free_bytes}: free space "
            "(or move the data directory to a larger disk) and start again",
            disk_full=True,
        )


class LmdbStore:
    """A `KVStore` in one LMDB environment at `path` (a directory, created if absent)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        map_size_bytes: int = DEFAULT_MAP_SIZE_BYTES,
        max_map_size_bytes: int = DEFAULT_MAX_MAP_SIZE_BYTES,
        sync: bool = True,
        min_free_bytes: int = 0,
    ) -> None:
        if map_size_bytes <= 0 or max_map_size_bytes < map_size_bytes:
            raise ValueError(
                f"map sizes: need 0 < map_size_bytes ({map_size_bytes}) <= "
                f"max_map_size_bytes ({max_map_size_bytes})"
            )
        self._path = os.path.realpath(os.fspath(path))
        self._sync = sync
        self._max_map_size_bytes = max_map_size_bytes
        self._write_lock = threading.Lock()
        self._gate = _ResizeGate()
        self._closed = False
        self._min_free_bytes = min_free_bytes
        self._failure: StorageWriteError | None = None
        self.on_failure: Callable[[StorageWriteError], None] | None = None
        """Called once, in the writing thread, with the first failed write."""
        with _open_stores_lock:
            if self._path in _open_stores:
                raise StorageError(f"{self._path} is already open in this process")
            _open_stores[self._path] = self
        try:
            check_data_file(self._path)
            if os.path.isdir(self._path):
                check_free_space(self._path, min_free_bytes)
        except StorageError:
            with _open_stores_lock:
                _open_stores.pop(self._path, None)
            raise
        try:
            self._env = lmdb.open(
                self._path,
                map_size=_initial_map_size(self._path, map_size_bytes, max_map_size_bytes),
                subdir=True,
                metasync=False,
                sync=sync,
                readahead=False,
                max_readers=MAX_READERS,
                max_dbs=0,
                max_spare_txns=1,
                lock=True,
                mode=DIR_MODE,
            )
        except (lmdb.Error, OSError) as exc:
            with _open_stores_lock:
                _open_stores.pop(self._path, None)
            raise StorageError(f"cannot open LMDB store at {self._path}: {exc}") from exc
        # LMDB adopts the file's size if that is larger than the requested map.
        self._map_size_bytes = self._env.info()["map_size"]

    def __enter__(self) -> LmdbStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def path(self) -> str:
        """The environment directory."""
        return self._path

    @property
    def map_size_bytes(self) -> int:
        """The current map size (the most the file may grow to before the next resize)."""
        return self._map_size_bytes

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"store {self._path} is closed")

    @property
    def failure(self) -> StorageWriteError | None:
        """The write failure that stopped this store's writes, or None."""
        return self._failure

    def _check_writable(self) -> None:
        """Raise StorageWriteError if an earlier write failed or free space
        is below the reserve (hold the write lock)."""
        if self._failure is not None:
            raise StorageWriteError(
                f"{self._path} takes no more writes after: {self._failure}",
                disk_full=self._failure.disk_full,
            )
        if self._min_free_bytes:
            try:
                check_free_space(self._path, self._min_free_bytes)
            except StorageWriteError as exc:
                raise self._fail(exc) from None

    def _write_failed(self, what: str, exc: lmdb.Error) -> StorageWriteError:
        """The error for a failed commit or flush, naming a full disk as such."""
        free_bytes = get_free_bytes(self._path)
        disk_full = "No space left" in str(exc) or (
            free_bytes is not None and free_bytes < max(self._min_free_bytes, DISK_FULL_BYTES)
        )
        # LMDB reports a short write on a full disk as EIO: the free space tells.
        reason = "no space left on device" if disk_full else "I/O error"
        return self._fail(
            StorageWriteError(
                f"{what} {self._path} failed: {reason} ({free_bytes} bytes free): {exc}",
                disk_full=disk_full,
            )
        )

    def _fail(self, error: StorageWriteError) -> StorageWriteError:
        """Refuse every later write; tell `on_failure` (once); return `error`."""
        self._failure = error
        hook, self.on_failure = self.on_failure, None
        if hook is not None:
            hook(error)
        return error

    def get(self, key: bytes) -> bytes | None:
        """The value of `key`, or None."""
        if not 0 < len(key) <= MAX_KEY_BYTES:
            check_key(key)  # raises with the message
        try:
            return self._get_once(key)
        except lmdb.MapResizedError:
            self._adopt_map_size()
        try:
            return self._get_once(key)
        except lmdb.MapResizedError as exc:
            raise StorageError(f"get from {self._path}: {exc}") from exc

    def _get_once(self, key: bytes) -> bytes | None:
        self._gate.enter_shared()
        try:
            self._check_open()
            with self._env.begin() as txn:
                return txn.get(key)
        except lmdb.MapResizedError:
            raise
        except lmdb.Error as exc:
            raise StorageError(f"get from {self._path}: {exc}") from exc
        finally:
            self._gate.exit_shared()

    def iter_prefix(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) for every key starting with `prefix`, ascending, read in chunks."""
        check_prefix(prefix)
        after: bytes | None = None
        while True:
            try:
                chunk = self._read_chunk(prefix, after)
            except lmdb.MapResizedError:
                self._adopt_map_size()
                try:
                    chunk = self._read_chunk(prefix, after)
                except lmdb.MapResizedError as exc:
                    raise StorageError(f"iterate {self._path}: {exc}") from exc
            yield from chunk
            if len(chunk) < ITER_CHUNK_ITEMS:
                return
            after = chunk[-1][0]

    def _read_chunk(self, prefix: bytes, after: bytes | None) -> list[tuple[bytes, bytes]]:
        """Up to ITER_CHUNK_ITEMS items under `prefix` with keys > `after` (or from the start)."""
        items: list[tuple[bytes, bytes]] = []
        self._gate.enter_shared()
        try:
            self._check_open()
            with self._env.begin() as txn:
                cursor = txn.cursor()
                start = prefix if after is None else after
                found = cursor.set_range(start) if start else cursor.first()
                if found and after is not None and cursor.key() == after:
                    found = cursor.next()
                if not found:
                    return items
                for key, value in cursor.iternext(keys=True, values=True):
                    if not key.startswith(prefix):
                        break
                    items.append((key, value))
                    if len(items) == ITER_CHUNK_ITEMS:
                        break
        except lmdb.MapResizedError:
            raise
        except lmdb.Error as exc:
            raise StorageError(f"iterate {self._path}: {exc}") from exc
        finally:
            self._gate.exit_shared()
        return items

    def write(self, batch: WriteBatch, *, sync: bool = True) -> None:
        """Commit `batch` in one write transaction, growing the map if it is full.

        With `sync` (and a durable store) the commit is flushed to stable
        storage before this returns. Raises StorageError, having written
        nothing, on an invalid key or when the map cannot grow further.
        """
        with self._write_lock:
            self._check_open()
            if len(batch) == 0:
                return
            self._check_writable()
            adopted = False
            while True:
                try:
                    self._commit(batch)
                    break
                except lmdb.MapFullError:
                    self._grow_map(len(batch))
                except lmdb.MapResizedError as exc:
                    if adopted:
                        raise StorageError(f"write to {self._path}: {exc}") from exc
                    self._resize(0)
                    adopted = True
                except lmdb.Error as exc:
                    raise self._write_failed("write to", exc) from exc
            if sync and self._sync:
                try:
                    self._env.sync(True)
                except lmdb.Error as exc:
                    raise self._write_failed("sync of", exc) from exc

    def _commit(self, batch: WriteBatch) -> None:
        txn = self._env.begin(write=True)
        try:
            for key, value in batch:
                if value is None:
                    txn.delete(key)
                else:
                    txn.put(key, value)
            txn.commit()
        except lmdb.BadValsizeError as exc:
            txn.abort()
            index = next(
                (i for i, (key, _) in enumerate(batch) if not 0 < len(key) <= MAX_KEY_BYTES), None
            )
            raise StorageError(f"batch operation {index}: invalid key: {exc}") from exc
        except BaseException:
            txn.abort()  # a no-op if commit already failed and aborted
            raise

    def _grow_map(self, batch_len: int) -> None:
        """Double the map size (up to the maximum); called with no transaction open."""
        if self._map_size_bytes >= self._max_map_size_bytes:
            raise StorageError(
                f"{self._path}: a batch of {batch_len} operations does not fit in the map "
                f"at its maximum size of {self._max_map_size_bytes} bytes"
            )
        self._resize(min(self._map_size_bytes * 2, self._max_map_size_bytes))

    def _adopt_map_size(self) -> None:
        """Take up the larger map another process has grown the file to (MDB_MAP_RESIZED)."""
        with self._write_lock:
            self._check_open()
            self._resize(0)

    def _resize(self, new_size: int) -> None:
        """Replace the map (0: adopt the file's size); the caller holds the write lock."""
        self._gate.enter_exclusive()
        try:
            self._env.set_mapsize(new_size)
        except lmdb.Error as exc:
            raise StorageError(f"{self._path}: cannot resize map to {new_size}: {exc}") from exc
        finally:
            self._gate.exit_exclusive()
        self._map_size_bytes = self._env.info()["map_size"]

    def close(self) -> None:
        """Flush everything to disk and close the environment; later calls raise StorageError."""
        with self._write_lock:
            if self._closed:
                return
            self._gate.enter_exclusive()
            try:
                self._closed = True
                try:
                    self._env.sync(True)
                except lmdb.Error:
                    if self._failure is None:
                        raise  # a failed store closes anyway: its host is stopping
                finally:
                    self._env.close()
                    with _open_stores_lock:
                        _open_stores.pop(self._path, None)
            except lmdb.Error as exc:
                raise StorageError(f"close {self._path}: {exc}") from exc
            finally:
                self._gate.exit_exclusive()

"""The key-value protocol every storage backend implements.

A store maps byte keys to byte values, keeps keys in byte-wise sorted order,
and applies a `WriteBatch` all-or-nothing. Keys are 1 to `MAX_KEY_BYTES`
bytes (LMDB's limit, so that both backends accept exactly the same keys);
values may be empty. What the keys mean is `timecoin.storage.schema`'s
business, never the backend's.

This module imports nothing from the rest of the node, so a backend can be
used (and tested) on its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final, Protocol

MAX_KEY_BYTES: Final = 511
"""Longest key a store accepts (LMDB's compile-time default)."""
REPAIR_HINT: Final = (
    "stop the node, move the data directory's chain/ aside (or restore it from a backup) "
    "and start again: the node resyncs the chain from its peers"
)
"""What an operator does about a damaged store (docs/node.md, "Damage and repair")."""


class StorageError(Exception):
    """A storage operation failed: the store is closed, full, incompatible,
    or a key is invalid. The store is left as it was before the operation."""


class StoreCorruptError(StorageError):
    """Bytes read from the store are not what the schema says they must be."""


class StorageWriteError(StorageError):
    """The file system refused a write or a flush (disk full, I/O error).

    The store writes nothing more after one (docs/spec/storage.md section 8):
    the host stops and an operator frees space or replaces the disk."""

    def __init__(self, message: str, *, disk_full: bool) -> None:
        super().__init__(message)
        self.disk_full = disk_full
        """True when the file system has no space left (or less than the store's reserve)."""


def check_key(key: bytes) -> None:
    """Raise StorageError unless `key` is 1 to MAX_KEY_BYTES bytes."""
    if not 0 < len(key) <= MAX_KEY_BYTES:
        raise StorageError(f"invalid key: {len(key)} bytes, expected 1 to {MAX_KEY_BYTES}")


def check_prefix(prefix: bytes) -> None:
    """Raise StorageError if `prefix` is longer than any key can be."""
    if len(prefix) > MAX_KEY_BYTES:
        raise StorageError(f"invalid prefix: {len(prefix)} bytes, limit {MAX_KEY_BYTES}")


class WriteBatch:
    """An ordered list of puts and deletes, applied by `KVStore.write`.

    Operations apply in the order they were added, so a later operation on a
    key wins over an earlier one. Deleting an absent key is not an error. The
    batch does not check key lengths: the store does, when the batch is
    written, and then writes nothing.
    """

    __slots__ = ("_ops",)

    def __init__(self) -> None:
        self._ops: list[tuple[bytes, bytes | None]] = []

    def put(self, key: bytes, value: bytes) -> None:
        """Set `key` to `value`."""
        if type(key) is not bytes or type(value) is not bytes:
            raise TypeError(
                f"put: key and value must be bytes, got {type(key).__name__}, "
                f"{type(value).__name__}"
            )
        self._ops.append((key, value))

    def delete(self, key: bytes) -> None:
        """Remove `key` if present."""
        if type(key) is not bytes:
            raise TypeError(f"delete: key must be bytes, got {type(key).__name__}")
        self._ops.append((key, None))

    def __len__(self) -> int:
        return len(self._ops)

    def __iter__(self) -> Iterator[tuple[bytes, bytes | None]]:
        """The operations in order: (key, value) for a put, (key, None) for a delete."""
        return iter(self._ops)

    def __repr__(self) -> str:
        return f"WriteBatch({len(self._ops)} ops)"


class KVStore(Protocol):
    """A sorted byte-key store with atomic batches.

    Implementations: `LmdbStore` (on disk), `MemoryStore` (tests, simulator).
    Every method raises StorageError once the store is closed.
    """

    def get(self, key: bytes) -> bytes | None:
        """The value of `key`, or None. Raises StorageError on an invalid key."""
        ...

    def iter_prefix(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) for every key starting with `prefix`, in ascending key order.

        The empty prefix iterates the whole store. A write that commits while
        the iterator is being consumed may or may not be seen by it.
        """
        ...

    def write(self, batch: WriteBatch, *, sync: bool = True) -> None:
        """Apply every operation of `batch`, or none of them.

        With `sync` (and a store opened durable) the batch is on stable storage
        when this returns. Raises StorageError, having written nothing, if any
        operation is invalid or the store cannot take the batch.
        """
        ...

    def close(self) -> None:
        """Flush and release the store. Closing twice is harmless."""
        ...

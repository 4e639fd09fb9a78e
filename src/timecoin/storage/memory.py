"""An in-memory `KVStore` for tests and the simulator.

It follows the same contract as `LmdbStore` (key limits, sorted iteration,
all-or-nothing batches) but keeps nothing across processes; `sync` has no
effect. Thread-safe: one lock guards every operation.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator
from types import TracebackType

from timecoin.storage.kv import StorageError, WriteBatch, check_key, check_prefix


class MemoryStore:
    """A dict plus a sorted key list; a batch is validated in full before any of it applies."""

    def __init__(self) -> None:
        self._values: dict[bytes, bytes] = {}
        self._keys: list[bytes] = []  # sorted, same members as _values
        self._lock = threading.Lock()
        self._closed = False

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("store is closed")

    def get(self, key: bytes) -> bytes | None:
        """The value of `key`, or None."""
        check_key(key)
        with self._lock:
            self._check_open()
            return self._values.get(key)

    def iter_prefix(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) for every key starting with `prefix`, ascending.

        Iterates a snapshot taken when the first item is requested.
        """
        check_prefix(prefix)
        with self._lock:
            self._check_open()
            start = bisect.bisect_left(self._keys, prefix)
            items: list[tuple[bytes, bytes]] = []
            for key in self._keys[start:]:
                if not key.startswith(prefix):
                    break
                items.append((key, self._values[key]))
        yield from items

    def write(self, batch: WriteBatch, *, sync: bool = True) -> None:
        """Apply `batch` atomically; `sync` is accepted for the protocol and ignored."""
        del sync
        for index, (key, _value) in enumerate(batch):
            try:
                check_key(key)
            except StorageError as exc:
                raise StorageError(f"batch operation {index}: {exc}") from None
        with self._lock:
            self._check_open()
            for key, value in batch:
                if value is None:
                    if self._values.pop(key, None) is not None:
                        del self._keys[bisect.bisect_left(self._keys, key)]
                else:
                    if key not in self._values:
                        bisect.insort(self._keys, key)
                    self._values[key] = value

    def close(self) -> None:
        """Drop the contents; later calls raise StorageError."""
        with self._lock:
            self._closed = True
            self._values = {}
            self._keys = []

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)

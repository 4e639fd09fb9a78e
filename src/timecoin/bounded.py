"""Bounded sets and maps: a cache that anything on the network can fill has a limit.

The bottom layer, below every other package, so any of them bounds its
caches with these instead of a hand-written eviction loop:

- `BoundedSet`: at most `max_items` keys, least recently added or refreshed
  evicted first (LRU);
- `BoundedDict`: a dict of at most `max_items` entries, the first inserted
  evicted first (FIFO; `move_to_end` makes an entry the newest, for LRU);
- `BoundedCache`: a map bounded by entry count and by the sum of the
  entries' sizes (LRU).

All evict through `OrderedDict.popitem(last=False)`, which is O(1) (a plain
dict's first key, by contrast, is found by scanning past the holes that
deleting earlier first keys left).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

__all__ = ["BoundedCache", "BoundedDict", "BoundedSet"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedSet(Generic[K]):
    """A set of at most `max_items` keys; adding to a full set evicts the oldest."""

    __slots__ = ("_items", "max_items")

    def __init__(self, max_items: int) -> None:
        """An empty set holding at most `max_items` keys."""
        if max_items <= 0:
            raise ValueError(f"max_items must be positive, got {max_items}")
        self.max_items = max_items
        self._items: OrderedDict[K, None] = OrderedDict()

    def add(self, key: K) -> bool:
        """Insert `key` (or refresh it); return whether it was new."""
        items = self._items
        if key in items:
            items.move_to_end(key)
            return False
        items[key] = None
        if len(items) > self.max_items:
            items.popitem(last=False)
        return True

    def discard(self, key: K) -> None:
        """Remove `key` if present."""
        self._items.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[K]:
        return iter(self._items)


class BoundedDict(OrderedDict[K, V]):
    """A dict of at most `max_items` entries: inserting a new key into a full
    dict evicts the oldest entry (first inserted, or first since
    `move_to_end`). Replacing the value of a key present keeps its place.
    Every way of inserting (`d[k] = v`, `setdefault`, `update`) is bounded."""

    __slots__ = ("max_items",)

    def __init__(self, max_items: int) -> None:
        """An empty dict holding at most `max_items` entries."""
        if max_items <= 0:
            raise ValueError(f"max_items must be positive, got {max_items}")
        super().__init__()
        self.max_items = max_items

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        if len(self) > self.max_items:
            self.popitem(last=False)


class BoundedCache(Generic[K, V]):
    """A map bounded by entry count and by the sum of the entries' sizes (LRU)."""

    __slots__ = ("_items", "_size", "max_items", "max_size")

    def __init__(self, max_items: int, max_size: int) -> None:
        """An empty map of at most `max_items` entries weighing at most `max_size`."""
        if max_items <= 0 or max_size <= 0:
            raise ValueError(f"limits must be positive, got {max_items}, {max_size}")
        self.max_items = max_items
        self.max_size = max_size
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._size = 0

    def put(self, key: K, value: V, size: int) -> None:
        """Insert or replace `key`; evict least recently used entries over the limits.

        An entry heavier than `max_size` on its own is not stored.
        """
        old = self._items.pop(key, None)
        if old is not None:
            self._size -= old[1]
        if size > self.max_size:
            return
        self._items[key] = (value, size)
        self._size += size
        while len(self._items) > self.max_items or self._size > self.max_size:
            _, (_, evicted) = self._items.popitem(last=False)
            self._size -= evicted

    def get(self, key: K) -> V | None:
        """The value of `key` (marked recently used), or None."""
        entry = self._items.get(key)
        if entry is None:
            return None
        self._items.move_to_end(key)
        return entry[0]

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    @property
    def size(self) -> int:
        """The sum of the stored entries' sizes."""
        return self._size

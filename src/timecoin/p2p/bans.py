"""The ban list: hosts and node keys refused until an expiry (monotonic seconds)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["BanEntry", "BanKind", "BanList"]


class BanKind(enum.Enum):
    """What a ban names."""

    HOST = "host"
    """An IP address, as text: its connections are refused before any byte is read."""
    NODE = "node"
    """A node key, as hex: its handshakes are refused."""


@dataclass(frozen=True, slots=True)
class BanEntry:
    """One ban: `value` is refused until `until` (monotonic seconds)."""

    kind: BanKind
    value: str
    until: float
    reason: str


class BanList:
    """At most `max_entries` bans; when full, the one expiring first is dropped."""

    __slots__ = ("_entries", "max_entries")

    def __init__(self, max_entries: int) -> None:
        """An empty list holding at most `max_entries` bans."""
        if max_entries <= 0:
            raise ValueError(f"max_entries must be positive, got {max_entries}")
        self.max_entries = max_entries
        self._entries: dict[tuple[BanKind, str], BanEntry] = {}

    def ban(self, kind: BanKind, value: str, until: float, reason: str) -> None:
        """Ban `value` until `until`; an existing longer ban is kept."""
        key = (kind, value)
        old = self._entries.get(key)
        if old is not None and old.until >= until:
            return
        self._entries[key] = BanEntry(kind, value, until, reason)
        if len(self._entries) > self.max_entries:
            first = min(self._entries.values(), key=lambda e: e.until)
            del self._entries[(first.kind, first.value)]

    def is_banned(self, kind: BanKind, value: str, now: float) -> bool:
        """Whether `value` is banned at `now` (an expired ban is removed)."""
        entry = self._entries.get((kind, value))
        if entry is None:
            return False
        if entry.until <= now:
            del self._entries[(kind, value)]
            return False
        return True

    def unban(self, kind: BanKind, value: str) -> bool:
        """Lift a ban; return whether there was one."""
        return self._entries.pop((kind, value), None) is not None

    def prune(self, now: float) -> int:
        """Drop expired bans; return how many."""
        expired = [key for key, e in self._entries.items() if e.until <= now]
        for key in expired:
            del self._entries[key]
        return len(expired)

    def entries(self) -> list[BanEntry]:
        """Every ban, soonest expiry first."""
        return sorted(self._entries.values(), key=lambda e: e.until)

    def __len__(self) -> int:
        return len(self._entries)

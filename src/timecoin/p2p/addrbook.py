"""The address book of peer exchange (PEX) and its persistence protocol.

The book maps (IP, port) to an `AddressEntry`. It is bounded: when full, a
new address evicts the entry never connected to with the oldest last-seen
time, or, if every entry has been connected to, the one with the oldest
last success. An address that keeps failing without ever succeeding is
dropped. The node persists the book through an `AddressStore`, which the
composition root backs with storage; `encode_address_entries` gives it the
bytes to store.
"""

from __future__ import annotations

import ipaddress
import random
from typing import Annotated, Final, Protocol

import msgspec
from msgspec import Meta

from timecoin.encoding import decode, encode
from timecoin.types.primitives import U32, TimestampMs

__all__ = [
    "MAX_ADDRESS_BOOK_BYTES",
    "MAX_STORED_ADDRESSES",
    "AddressBook",
    "AddressEntry",
    "AddressStore",
    "MemoryAddressStore",
    "StoredAddressBook",
    "decode_address_entries",
    "encode_address_entries",
    "is_acceptable_address",
    "normalize_host",
    "pack_ip",
    "unpack_ip",
]

MAX_STORED_ADDRESSES: Final = 100_000
"""Decoder cap on a persisted book (the configured size is smaller)."""
MAX_ADDRESS_BOOK_BYTES: Final = 16_000_000
"""Decoder cap on the bytes of a persisted book."""


class AddressEntry(msgspec.Struct, array_like=True, frozen=True):
    """One known address: `host` is an IP in canonical text form."""

    host: Annotated[str, Meta(max_length=64)]
    port: Annotated[int, Meta(ge=1, le=0xFFFF)]
    last_seen_ms: TimestampMs
    """Wall-clock time the address was last advertised or connected to."""
    last_success_ms: TimestampMs = 0
    """Wall-clock time of the last completed handshake; 0 if never."""
    failures: U32 = 0
    """Failed dials since the last success."""


class AddressStore(Protocol):
    """Where the address book survives restarts (backed by storage in the node)."""

    def load(self) -> list[AddressEntry]:
        """The saved entries (empty if none were ever saved)."""
        ...

    def save(self, entries: list[AddressEntry]) -> None:
        """Replace the saved entries with `entries`, durably."""
        ...


class StoredAddressBook(msgspec.Struct, array_like=True, frozen=True):
    """The persisted form of the book."""

    entries: Annotated[list[AddressEntry], Meta(max_length=MAX_STORED_ADDRESSES)]


def encode_address_entries(entries: list[AddressEntry]) -> bytes:
    """The canonical bytes of a list of entries (for a key-value store)."""
    return encode(StoredAddressBook(entries=entries))


def decode_address_entries(data: bytes) -> list[AddressEntry]:
    """Entries from `encode_address_entries` bytes; raises DecodeError."""
    return decode(data, StoredAddressBook, MAX_ADDRESS_BOOK_BYTES).entries


class MemoryAddressStore:
    """An `AddressStore` in memory (tests, simulator); keeps the encoded bytes."""

    def __init__(self) -> None:
        """An empty store."""
        self.data: bytes | None = None
        self.saves = 0

    def load(self) -> list[AddressEntry]:
        """The saved entries (empty if none were ever saved)."""
        if self.data is None:
            return []
        return decode_address_entries(self.data)

    def save(self, entries: list[AddressEntry]) -> None:
        """Replace the saved entries with `entries`."""
        self.data = encode_address_entries(entries)
        self.saves += 1


def normalize_host(host: str) -> str | None:
    """The canonical text of IP address `host`, or None if it is not one.

    IPv4-mapped IPv6 addresses become IPv4; brackets are removed.
    """
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def pack_ip(host: str) -> bytes:
    """The packed form of IP `host`: 4 bytes for IPv4, 16 for IPv6.

    Raises ValueError if `host` is not an IP address.
    """
    canonical = normalize_host(host)
    if canonical is None:
        raise ValueError(f"not an IP address: {host!r}")
    return ipaddress.ip_address(canonical).packed


def unpack_ip(packed: bytes) -> str | None:
    """The canonical text of a packed IP, or None for any length but 4 or 16."""
    if len(packed) == 4:
        return str(ipaddress.IPv4Address(packed))
    if len(packed) == 16:
        return normalize_host(str(ipaddress.IPv6Address(packed)))
    return None


def is_acceptable_address(host: str, port: int, *, allow_local: bool) -> bool:
    """Whether (host, port) may enter the book.

    Unspecified, multicast and port-0 addresses never may; loopback, private,
    link-local and reserved ones only with `allow_local` (local test
    networks).
    """
    if not 1 <= port <= 0xFFFF:
        return False
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if ip.is_unspecified or ip.is_multicast:
        return False
    if allow_local:
        return True
    return not (ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_reserved)


class AddressBook:
    """Known addresses, bounded by `max_entries`."""

    __slots__ = ("_entries", "dirty", "max_entries", "max_failures")

    def __init__(self, max_entries: int, *, max_failures: int = 10) -> None:
        """An empty book of at most `max_entries` addresses.

        An address never connected to is dropped after `max_failures` failed
        dials in a row.
        """
        if max_entries <= 0:
            raise ValueError(f"max_entries must be positive, got {max_entries}")
        self.max_entries = max_entries
        self.max_failures = max_failures
        self._entries: dict[tuple[str, int], AddressEntry] = {}
        self.dirty = False

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, address: object) -> bool:
        return address in self._entries

    def get(self, host: str, port: int) -> AddressEntry | None:
        """The entry of (host, port), or None."""
        return self._entries.get((host, port))

    def entries(self) -> list[AddressEntry]:
        """Every entry, in insertion order."""
        return list(self._entries.values())

    def load(self, entries: list[AddressEntry]) -> None:
        """Add persisted entries (up to the limit), keeping existing ones."""
        for entry in entries:
            if len(self._entries) >= self.max_entries:
                break
            host = normalize_host(entry.host)
            if host is None:
                continue
            self._entries.setdefault((host, entry.port), msgspec.structs.replace(entry, host=host))

    def add(self, host: str, port: int, seen_ms: int) -> bool:
        """Record that (host, port) was advertised at `seen_ms`; return whether it is new."""
        key = (host, port)
        old = self._entries.get(key)
        if old is not None:
            if seen_ms > old.last_seen_ms:
                self._entries[key] = msgspec.structs.replace(old, last_seen_ms=seen_ms)
                self.dirty = True
            return False
        if len(self._entries) >= self.max_entries:
            self._evict_one()
        self._entries[key] = AddressEntry(host=host, port=port, last_seen_ms=seen_ms)
        self.dirty = True
        return True

    def mark_success(self, host: str, port: int, now_ms: int) -> None:
        """Record a completed handshake with (host, port), adding it if unknown."""
        key = (host, port)
        if key not in self._entries:
            self.add(host, port, now_ms)
        entry = self._entries[key]
        self._entries[key] = msgspec.structs.replace(
            entry, last_seen_ms=max(entry.last_seen_ms, now_ms), last_success_ms=now_ms, failures=0
        )
        self.dirty = True

    def mark_failure(self, host: str, port: int) -> None:
        """Record a failed dial; drop an address that never worked after too many."""
        key = (host, port)
        entry = self._entries.get(key)
        if entry is None:
            return
        failures = min(entry.failures + 1, 0xFFFF_FFFF)
        if entry.last_success_ms == 0 and failures >= self.max_failures:
            del self._entries[key]
        else:
            self._entries[key] = msgspec.structs.replace(entry, failures=failures)
        self.dirty = True

    def remove(self, host: str, port: int) -> None:
        """Forget (host, port)."""
        if self._entries.pop((host, port), None) is not None:
            self.dirty = True

    def sample(self, count: int, rng: random.Random) -> list[AddressEntry]:
        """Up to `count` entries drawn uniformly without replacement."""
        values = list(self._entries.values())
        if len(values) <= count:
            rng.shuffle(values)
            return values
        return rng.sample(values, count)

    def _evict_one(self) -> None:
        def rank(entry: AddressEntry) -> tuple[bool, int]:
            tried = entry.last_success_ms > 0
            return (tried, entry.last_success_ms if tried else entry.last_seen_ms)

        victim = min(self._entries.values(), key=rank)
        del self._entries[(victim.host, victim.port)]

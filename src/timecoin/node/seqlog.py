"""The append-only, sealed log under both write-ahead logs of the node.

Records live under one key space, keyed by sequence numbers that increase
by one. Each stored value is sealed: a version byte, the link of the record
before it, then the record's bytes:

    value = SEAL_VERSION || link(previous record) || record bytes
    link(record) = SHA-256(key || value)

and a head entry (`head_key`, written in the same batch as every append or
prune) holds the first and the next sequence number and the link of the
last record. So, at open, a record deleted anywhere (first, middle or
last), a record changed in any byte, or a lost head shows as a gap, a
broken link or a head that does not match, and the log refuses to open
(`WalDamagedError`): a member that lost a vote lock or an epoch report
could sign a vote conflicting with one it signed before, so it must not
start unless its operator accepts that risk (`accept_damage`, the config
flag `accept_damaged_wal`). Then the records left that still decode are
kept, in order, and sealed anew.

A log written before sealing (no head, no sealed record: every record
starts with a msgpack array byte, never `SEAL_VERSION`) is sealed at open.

Pruning deletes stale records from the front only, so the records left are
always one run of sequence numbers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Final, Generic, TypeVar

from timecoin.crypto import sha256
from timecoin.encoding import DecodeError
from timecoin.storage import KVStore, StoreCorruptError, WriteBatch
from timecoin.storage.schema import parse_sequence_key

log = logging.getLogger("timecoin.node")

R = TypeVar("R")

SEAL_VERSION: Final = 1
LINK_BYTES: Final = 32
NO_LINK: Final = bytes(LINK_BYTES)
SEAL_BYTES: Final = 1 + LINK_BYTES
HEAD_BYTES: Final = 8 + 8 + LINK_BYTES
"""first sequence (u64 BE), next sequence (u64 BE), link of the last record."""


class WalDamagedError(StoreCorruptError):
    """A write-ahead log lost or changed records: the node must not vote on it."""


def compute_link(key: bytes, value: bytes) -> bytes:
    """The link of a stored record: SHA-256 of its key and sealed value."""
    return sha256(key + value)


class SequentialLog(Generic[R]):
    """An append-only log of sealed records under one key space."""

    def __init__(
        self,
        kv: KVStore,
        prefix: bytes,
        key_of: Callable[[int], bytes],
        encode_record: Callable[[R], bytes],
        decode_record: Callable[[bytes], R],
        label: str,
        head_key: bytes,
        *,
        accept_damage: bool = False,
    ) -> None:
        """Open the log in `kv`, checking every record against its neighbours
        and the head. Raises WalDamagedError on damage unless `accept_damage`."""
        self._kv = kv
        self._prefix = prefix
        self._key_of = key_of
        self._encode = encode_record
        self._decode = decode_record
        self._label = label
        self._head_key = head_key
        self._lock = threading.Lock()
        self._first_sequence = 0
        self._next_sequence = 0
        self._last_link = NO_LINK
        self._open(accept_damage)

    # -- open -----------------------------------------------------------------

    def _open(self, accept_damage: bool) -> None:
        stored = list(self._kv.iter_prefix(self._prefix))
        head = self._kv.get(self._head_key)
        if head is None and not stored:
            return
        if head is None and not any(value[:1] == bytes([SEAL_VERSION]) for _, value in stored):
            self._reseal(stored)
            log.info("%s: sealed %d records written before sealing", self._label, len(stored))
            return
        problem = self._find_damage(stored, head)
        if problem is None:
            assert head is not None
            self._set_head(head)
            return
        message = f"{self._label} is damaged: {problem}"
        if not accept_damage:
            raise WalDamagedError(
                f"{message}. The node refuses to start: it may have lost a vote it "
                "signed and could sign a conflicting one. Set accept_damaged_wal = true "
                "in the config to accept that risk and keep the records left"
            )
        kept = self._reseal(stored)
        log.warning("%s; accept_damaged_wal is set: kept %d records", message, kept)

    def _find_damage(self, stored: list[tuple[bytes, bytes]], head: bytes | None) -> str | None:
        """What is wrong with `stored` and `head`, or None when they agree."""
        if head is None:
            return "its head entry is missing"
        if len(head) != HEAD_BYTES:
            return f"its head entry has {len(head)} bytes, expected {HEAD_BYTES}"
        first = int.from_bytes(head[:8], "big")
        after_last = int.from_bytes(head[8:16], "big")
        expected = first
        link: bytes | None = NO_LINK if first == 0 else None
        for key, value in stored:
            sequence = parse_sequence_key(self._prefix, key)
            if sequence != expected:
                if expected < sequence <= after_last:
                    return f"records {expected} to {sequence - 1} are missing"
                held = f"{first} to {after_last - 1}" if after_last > first else "none"
                return f"record {sequence} was not written by this log (it holds: {held})"
            if len(value) < SEAL_BYTES or value[0] != SEAL_VERSION:
                return f"record {sequence} is not sealed"
            if link is not None and value[1:SEAL_BYTES] != link:
                changed = "record 0" if sequence == 0 else f"record {sequence - 1} or its link"
                return f"{changed} changed (record {sequence} links to other bytes)"
            link = compute_link(key, value)
            expected += 1
        if expected != after_last:
            return f"records {expected} to {after_last - 1} (the last written) are missing"
        if stored and link != head[16:]:
            return f"record {after_last - 1} changed (it does not match the head)"
        return None

    def _reseal(self, stored: list[tuple[bytes, bytes]]) -> int:
        """Replace `stored` by the records in it that decode, sealed anew after
        the highest sequence number seen; return how many were kept."""
        start = 0
        payloads: list[bytes] = []
        for key, value in stored:
            start = max(start, parse_sequence_key(self._prefix, key) + 1)
            payload = value[SEAL_BYTES:] if value[:1] == bytes([SEAL_VERSION]) else value
            try:
                self._decode(payload)
            except DecodeError:
                continue
            payloads.append(payload)
        head = self._kv.get(self._head_key)
        if head is not None and len(head) == HEAD_BYTES:
            start = max(start, int.from_bytes(head[8:16], "big"))
        batch = WriteBatch()
        for key, _ in stored:
            batch.delete(key)
        self._first_sequence = self._next_sequence = start
        self._last_link = NO_LINK
        self._next_sequence, self._last_link = self._stage_payloads(batch, payloads)
        self._kv.write(batch, sync=True)
        return len(payloads)

    def _set_head(self, head: bytes) -> None:
        self._first_sequence = int.from_bytes(head[:8], "big")
        self._next_sequence = int.from_bytes(head[8:16], "big")
        self._last_link = head[16:]

    def _head(self, first: int, after_last: int, link: bytes) -> bytes:
        return first.to_bytes(8, "big") + after_last.to_bytes(8, "big") + link

    # -- append, read, prune ---------------------------------------------------

    def append(self, records: Sequence[R]) -> None:
        """Append `records` in order, durably: one synced write (the group
        commit a persist effect needs before the next effect). Thread-safe."""
        if not records:
            return
        with self._lock:
            batch = WriteBatch()
            staged = self._stage(batch, records)
            self._kv.write(batch, sync=True)
            self._advance(staged)

    def _stage(self, batch: WriteBatch, records: Sequence[R]) -> tuple[int, bytes]:
        """Put `records` and the new head into `batch` (hold `_lock`); return
        the state to `_advance` to once the batch is written."""
        return self._stage_payloads(batch, [self._encode(record) for record in records])

    def _stage_payloads(self, batch: WriteBatch, payloads: Sequence[bytes]) -> tuple[int, bytes]:
        sequence, link = self._next_sequence, self._last_link
        for payload in payloads:
            key = self._key_of(sequence)
            value = bytes([SEAL_VERSION]) + link + payload
            batch.put(key, value)
            link = compute_link(key, value)
            sequence += 1
        batch.put(self._head_key, self._head(self._first_sequence, sequence, link))
        return sequence, link

    def _advance(self, staged: tuple[int, bytes]) -> None:
        """Take the state `_stage` returned (hold `_lock`)."""
        self._next_sequence, self._last_link = staged

    def read(self) -> list[R]:
        """Every stored record in append order; StoreCorruptError on bad bytes."""
        records: list[R] = []
        for key, value in self._kv.iter_prefix(self._prefix):
            try:
                records.append(self._decode(value[SEAL_BYTES:]))
            except DecodeError as exc:
                raise StoreCorruptError(f"{self._label} record {key.hex()}: {exc}") from None
        return records

    def prune_where(self, is_stale: Callable[[R], bool]) -> int:
        """Delete the stale records at the front of the log (up to the first
        one that is not stale, or does not decode); return how many."""
        with self._lock:
            batch = WriteBatch()
            first = self._first_sequence
            for key, value in self._kv.iter_prefix(self._prefix):
                try:
                    record = self._decode(value[SEAL_BYTES:])
                except DecodeError:
                    break  # left for the next start-up to report
                if not is_stale(record):
                    break
                batch.delete(key)
                first = parse_sequence_key(self._prefix, key) + 1
            deleted = len(batch)
            if deleted:
                batch.put(self._head_key, self._head(first, self._next_sequence, self._last_link))
                self._kv.write(batch, sync=True)
                self._first_sequence = first
            return deleted

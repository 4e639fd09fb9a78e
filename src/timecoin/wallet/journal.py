"""The spend journal: which coins the wallet has signed away.

On this chain an owner who signs two conflicting transactions may lock the
coin forever (DESIGN section 5), so the wallet writes the inputs of every
transaction it signs here, durably, before the transaction leaves the
wallet, and refuses to sign another spend of them.

The file (`<wallet>.journal`) is UTF-8 text, one JSON object per line, each
ending in a newline. The first line is the header; the others are records,
applied in order:

    {"format":"timecoin-wallet-journal","version":1,"network":..,"wallet":..,"check":..}
    {"op":"sign","txid":<hex>,"outpoints":[[<txid hex>,<index>],...],"check":..}
    {"op":"release","txid":<hex>,"check":..}
    {"op":"spent","outpoints":[[<txid hex>,<index>],...],"check":..}

`check` is the first 8 bytes (hex) of SHA-256 of the line's canonical JSON
without `check`. Every line must parse and check, and every record must be
a valid transition (a sign never marks a coin already marked; a release or
spent names a pending transaction or marked coin); otherwise opening raises
JournalCorruptError and the wallet signs nothing.

One exception: a final segment with no newline is the remnant of an append
cut short by a crash. Its transaction was never handed out (a record is
fsynced before that), so it is dropped and truncated away.

Records of settled transactions are dropped by compaction, which rewrites
the file atomically with one record per pending transaction.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from timecoin.crypto import sha256
from timecoin.types import OutPoint
from timecoin.wallet.errors import JournalCorruptError, JournalWriteError, WalletExistsError
from timecoin.wallet.fileio import create_file_atomic, replace_file_atomic, write_all

JOURNAL_FORMAT: Final = "timecoin-wallet-journal"
JOURNAL_VERSION: Final = 1
MAX_LINE_BYTES: Final = 1 << 20
"""Longest line accepted: a sign record of the largest possible transaction fits easily."""
MAX_RECORD_OUTPOINTS: Final = 10_000
COMPACT_MIN_DEAD_RECORDS: Final = 256
"""Compact on open once this many records (and more than the live ones) are dead."""


@dataclass(slots=True)
class PendingSpend:
    """A signed transaction not yet settled: its inputs, and those not yet seen spent."""

    txid: bytes
    outpoints: frozenset[OutPoint]
    unspent: set[OutPoint] = field(default_factory=set)


class SpendMarks:
    """The journal's state: pending transactions and the coins they mark.

    Pure (no I/O). Each `apply_*` checks the transition and raises
    ValueError if it is invalid, before changing anything.
    """

    def __init__(self) -> None:
        self.pending: dict[bytes, PendingSpend] = {}
        self.marks: dict[OutPoint, bytes] = {}

    def check_sign(self, txid: bytes, outpoints: Iterable[OutPoint]) -> None:
        """Raise ValueError unless a sign record for `txid` spending `outpoints` is valid."""
        ops = list(outpoints)
        if txid in self.pending:
            raise ValueError(f"transaction {txid.hex()} is already pending")
        if not ops:
            raise ValueError(f"transaction {txid.hex()} spends nothing")
        if len(set(ops)) != len(ops):
            raise ValueError(f"transaction {txid.hex()} spends an outpoint twice")
        for op in ops:
            other = self.marks.get(op)
            if other is not None:
                raise ValueError(
                    f"{op.txid.hex()}:{op.index} already spent by pending {other.hex()}"
                )

    def apply_sign(self, txid: bytes, outpoints: Iterable[OutPoint]) -> None:
        """Mark `outpoints` as spent by the pending transaction `txid`."""
        ops = list(outpoints)
        self.check_sign(txid, ops)
        self.pending[txid] = PendingSpend(txid, frozenset(ops), set(ops))
        for op in ops:
            self.marks[op] = txid

    def apply_release(self, txid: bytes) -> None:
        """Forget pending `txid` and unmark its coins."""
        spend = self.pending.get(txid)
        if spend is None:
            raise ValueError(f"release of {txid.hex()}, which is not pending")
        self._drop(spend)

    def check_spent(self, outpoints: Iterable[OutPoint]) -> None:
        """Raise ValueError unless every outpoint is marked."""
        for op in outpoints:
            if op not in self.marks:
                raise ValueError(f"spent record for unmarked {op.txid.hex()}:{op.index}")

    def apply_spent(self, outpoints: Iterable[OutPoint]) -> None:
        """Record marked coins as spent on chain; a transaction all of whose
        inputs are spent is settled and forgotten."""
        ops = list(outpoints)
        self.check_spent(ops)
        for op in ops:
            txid = self.marks.get(op)
            if txid is None:
                continue  # its transaction settled earlier in this same record
            spend = self.pending[txid]
            spend.unspent.discard(op)
            if not spend.unspent:
                self._drop(spend)

    def _drop(self, spend: PendingSpend) -> None:
        del self.pending[spend.txid]
        for op in spend.outpoints:
            del self.marks[op]

    def live_record_count(self) -> int:
        """Records a compacted journal needs to reproduce this state."""
        partial = sum(1 for s in self.pending.values() if len(s.unspent) < len(s.outpoints))
        return len(self.pending) + partial


def _canonical(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _check_value(obj: dict[str, Any]) -> str:
    return sha256(_canonical(obj))[:8].hex()


def encode_line(obj: dict[str, Any]) -> bytes:
    """One journal line: `obj` plus its check, as canonical JSON and a newline."""
    return _canonical({**obj, "check": _check_value(obj)}) + b"\n"


def _outpoints_json(outpoints: Iterable[OutPoint]) -> list[list[Any]]:
    return [[op.txid.hex(), op.index] for op in sorted(outpoints, key=lambda o: (o.txid, o.index))]


def _parse_txid(value: Any) -> bytes:
    if type(value) is not str or len(value) != 64:
        raise ValueError(f"txid {value!r:.80} is not 64 hex digits")
    return bytes.fromhex(value)


def _parse_outpoints(value: Any) -> list[OutPoint]:
    if type(value) is not list or len(value) > MAX_RECORD_OUTPOINTS:
        raise ValueError("outpoints is not a list of at most 10000 entries")
    result = []
    for entry in value:
        if type(entry) is not list or len(entry) != 2:
            raise ValueError(f"outpoint {entry!r:.80} is not [txid, index]")
        txid, index = entry
        if type(index) is not int or not 0 <= index <= 0xFFFF_FFFF:
            raise ValueError(f"outpoint index {index!r:.20} out of range")
        result.append(OutPoint(_parse_txid(txid), index))
    return result


def _parse_line(line: bytes) -> dict[str, Any]:
    if len(line) > MAX_LINE_BYTES:
        raise ValueError(f"line longer than {MAX_LINE_BYTES} bytes")
    obj = json.loads(line.decode("utf-8"))
    if type(obj) is not dict:
        raise ValueError("not a JSON object")
    check = obj.pop("check", None)
    if check != _check_value(obj):
        raise ValueError("check value mismatch (damaged line)")
    return obj


def _apply_record(marks: SpendMarks, obj: dict[str, Any]) -> None:
    op = obj.get("op")
    if op == "sign" and set(obj) == {"op", "txid", "outpoints"}:
        marks.apply_sign(_parse_txid(obj["txid"]), _parse_outpoints(obj["outpoints"]))
    elif op == "release" and set(obj) == {"op", "txid"}:
        marks.apply_release(_parse_txid(obj["txid"]))
    elif op == "spent" and set(obj) == {"op", "outpoints"}:
        marks.apply_spent(_parse_outpoints(obj["outpoints"]))
    else:
        raise ValueError(f"unknown record {sorted(obj)} op={op!r:.20}")


def _header(network: str, fingerprint: str) -> dict[str, Any]:
    return {
        "format": JOURNAL_FORMAT,
        "version": JOURNAL_VERSION,
        "network": network,
        "wallet": fingerprint,
    }


@dataclass(frozen=True, slots=True)
class _Loaded:
    marks: SpendMarks
    record_count: int
    valid_bytes: int
    torn_bytes: int


def _load(path: Path, data: bytes, network: str, fingerprint: str) -> _Loaded:
    """Replay the journal bytes; raises JournalCorruptError."""
    lines = data.split(b"\n")
    torn = lines.pop()  # after the last newline: b"" unless an append was cut short
    if not lines:
        raise JournalCorruptError(f"{path}: no complete header line (empty or damaged)")
    marks = SpendMarks()
    for number, line in enumerate(lines, start=1):
        try:
            obj = _parse_line(line)
            if number == 1:
                if obj != _header(network, fingerprint):
                    raise ValueError(
                        f"header {obj!r:.200} does not match this wallet "
                        f"(network {network!r}, wallet {fingerprint})"
                    )
            else:
                _apply_record(marks, obj)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise JournalCorruptError(
                f"{path}: line {number}: {exc}. The wallet refuses to sign until this is "
                "resolved; see docs/spec/wallet.md"
            ) from None
    return _Loaded(marks, len(lines) - 1, len(data) - len(torn), len(torn))


class Journal:
    """An open spend journal: its state, and an append handle that fsyncs.

    Not thread-safe on its own; `Wallet` serializes calls with its lock.
    After any write error it refuses every further write
    (JournalWriteError): whether the failed record reached the disk is
    unknown, so only reopening (and replaying what is there) is safe.
    """

    def __init__(self, path: Path, fd: int, marks: SpendMarks, record_count: int) -> None:
        """Use `create` or `open`."""
        self.path = path
        self._fd: int | None = fd
        self.marks = marks
        self.record_count = record_count
        self.torn_bytes_dropped = 0
        self._failed = False

    @staticmethod
    def _open_fd(path: Path) -> int:
        return os.open(path, os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW)

    @classmethod
    def create(cls, path: Path, network: str, fingerprint: str) -> Journal:
        """Create an empty journal (header only). Raises WalletExistsError if one exists."""
        try:
            create_file_atomic(path, encode_line(_header(network, fingerprint)))
        except FileExistsError:
            raise WalletExistsError(f"{path}: a journal already exists there") from None
        return cls(path, cls._open_fd(path), SpendMarks(), 0)

    @classmethod
    def open(cls, path: Path, network: str, fingerprint: str) -> Journal:
        """Open and replay the journal at `path`; FileNotFoundError if it is missing.

        Raises JournalCorruptError for a damaged journal or one that belongs
        to another wallet or network. Drops (truncates) a torn final append,
        and compacts when many records are dead.
        """
        fd = cls._open_fd(path)
        try:
            data = _read_fd(fd)
            loaded = _load(path, data, network, fingerprint)
            if loaded.torn_bytes:
                os.ftruncate(fd, loaded.valid_bytes)
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        journal = cls(path, fd, loaded.marks, loaded.record_count)
        journal.torn_bytes_dropped = loaded.torn_bytes
        dead = loaded.record_count - loaded.marks.live_record_count()
        if dead >= COMPACT_MIN_DEAD_RECORDS and dead > loaded.marks.live_record_count():
            try:
                journal.compact(network, fingerprint)
            except BaseException:
                journal.close()
                raise
        return journal

    def ensure_writable(self) -> None:
        """Raise JournalWriteError if the journal is closed or a write has failed."""
        if self._fd is None:
            raise JournalWriteError(f"{self.path}: journal is closed")
        if self._failed:
            raise JournalWriteError(f"{self.path}: an earlier write failed; reopen the wallet")

    def _append(self, obj: dict[str, Any]) -> None:
        self.ensure_writable()
        assert self._fd is not None
        try:
            write_all(self._fd, encode_line(obj))
            os.fsync(self._fd)
        except OSError as exc:
            self._failed = True
            raise JournalWriteError(f"{self.path}: cannot write the journal: {exc}") from exc
        self.record_count += 1

    def record_sign(self, txid: bytes, outpoints: Iterable[OutPoint]) -> None:
        """Durably mark `outpoints` as spent by `txid`; returns only once on disk."""
        ops = list(outpoints)
        self.marks.check_sign(txid, ops)
        self._append({"op": "sign", "txid": txid.hex(), "outpoints": _outpoints_json(ops)})
        self.marks.apply_sign(txid, ops)

    def record_release(self, txid: bytes) -> None:
        """Durably unmark the coins of pending `txid`."""
        if txid not in self.marks.pending:
            raise ValueError(f"transaction {txid.hex()} is not pending")
        self._append({"op": "release", "txid": txid.hex()})
        self.marks.apply_release(txid)

    def record_spent(self, outpoints: Iterable[OutPoint]) -> None:
        """Record that these marked coins were spent on chain."""
        ops = list(outpoints)
        self.marks.check_spent(ops)
        self._append({"op": "spent", "outpoints": _outpoints_json(ops)})
        self.marks.apply_spent(ops)

    def compact(self, network: str, fingerprint: str) -> None:
        """Rewrite the journal atomically with only the records still needed."""
        self.ensure_writable()
        assert self._fd is not None
        lines = [encode_line(_header(network, fingerprint))]
        count = 0
        for spend in self.marks.pending.values():
            ops = _outpoints_json(spend.outpoints)
            lines.append(encode_line({"op": "sign", "txid": spend.txid.hex(), "outpoints": ops}))
            count += 1
            spent = spend.outpoints - spend.unspent
            if spent:
                lines.append(encode_line({"op": "spent", "outpoints": _outpoints_json(spent)}))
                count += 1
        try:
            replace_file_atomic(self.path, b"".join(lines))
            new_fd = self._open_fd(self.path)
        except OSError as exc:
            # Whether the rename happened is unknown: appending to the old
            # handle could write to an unlinked file, so stop writing.
            self._failed = True
            raise JournalWriteError(f"{self.path}: cannot compact the journal: {exc}") from exc
        os.close(self._fd)
        self._fd = new_fd
        self.record_count = count

    def close(self) -> None:
        """Close the file handle (idempotent)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def _read_fd(fd: int) -> bytes:
    chunks: list[bytes] = []
    os.lseek(fd, 0, os.SEEK_SET)
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def journal_path_for(key_path: Path) -> Path:
    """The journal's path: the key file's name plus ".journal"."""
    return key_path.with_name(key_path.name + ".journal")


def lock_path_for(key_path: Path) -> Path:
    """The lock file's path: the key file's name plus ".lock"."""
    return key_path.with_name(key_path.name + ".lock")

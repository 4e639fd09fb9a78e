"""The write-ahead log of the finality machine: vote locks and epoch reports.

The machine emits `PersistFinalityWal(record)`; the driver appends the
record durably (one group-commit fsync per batch) before executing the next
effect, so a lock is on disk before the vote that it backs leaves the node,
and a report is on disk before it is sent. Records:

- `WalVotedTxs(epoch, transactions)`: the bodies of the transactions of one
  vote batch, written with its locks: the epoch's last block must carry
  every reported transaction in full, and after a restart of the whole
  network the voters' logs are the only copies of the bodies of voted
  transactions that are not final (ADR 0008);
- `WalTxLocks(epoch, entries)`: the (outpoint, txid) locks of one vote
  batch, written before the batch is broadcast;
- `WalEpochReport(report)`: this node's signed report of an epoch, written
  before it is sent; after it the node never votes again in that epoch.

A driver may drop records of epochs before the current one once the
epoch's last block is durable. Records are stored with
`encode_finality_wal_record` in their own key space (they are not block
consensus records).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Final

import msgspec
from msgspec import Meta

from timecoin.consensus.rejects import REJECT_WAL_CONFLICT, REJECT_WAL_FOREIGN_SIGNER
from timecoin.consensus.wal import InvalidWal
from timecoin.encoding import decode, encode
from timecoin.types import EpochReport, OutPoint, ReportEntry, Transaction, compute_txid
from timecoin.types.finality import MAX_TXVOTE_BATCH_TXIDS
from timecoin.types.primitives import Epoch

__all__ = [
    "MAX_FINALITY_WAL_RECORD_BYTES",
    "FinalityWalEntry",
    "FinalityWalRecord",
    "FinalityWalRecovery",
    "WalEpochReport",
    "WalTxLocks",
    "WalVotedTxs",
    "decode_finality_wal_record",
    "encode_finality_wal_record",
    "get_finality_wal_record_epoch",
    "recover_finality_wal",
]

MAX_FINALITY_WAL_RECORD_BYTES: Final = 64_000_000
"""Largest encoded finality WAL record (a report of a very busy epoch)."""


class WalTxLocks(msgspec.Struct, array_like=True, frozen=True, tag=1):
    """The input locks of one vote batch of `epoch`: each outpoint and the txid
    this node voted for it."""

    epoch: Epoch
    entries: Annotated[list[ReportEntry], Meta(max_length=MAX_TXVOTE_BATCH_TXIDS * 1_000)]


class WalEpochReport(msgspec.Struct, array_like=True, frozen=True, tag=2):
    """This node's signed report of its epoch."""

    report: EpochReport


class WalVotedTxs(msgspec.Struct, array_like=True, frozen=True, tag=3):
    """The transactions of one vote batch of `epoch` (logged with its locks)."""

    epoch: Epoch
    transactions: Annotated[list[Transaction], Meta(max_length=MAX_TXVOTE_BATCH_TXIDS)]


FinalityWalRecord = WalTxLocks | WalEpochReport | WalVotedTxs


class FinalityWalEntry(msgspec.Struct, array_like=True, frozen=True):
    """The stored form of one record (gives the union one type)."""

    record: FinalityWalRecord


def get_finality_wal_record_epoch(record: FinalityWalRecord) -> int:
    """The epoch a finality WAL record belongs to (records are pruned by it)."""
    if isinstance(record, WalEpochReport):
        return record.report.epoch
    return record.epoch


def encode_finality_wal_record(record: FinalityWalRecord) -> bytes:
    """The bytes a driver stores for `record`."""
    return encode(FinalityWalEntry(record=record))


def decode_finality_wal_record(data: bytes) -> FinalityWalRecord:
    """The record stored as `data`; raises `timecoin.encoding.DecodeError`."""
    return decode(data, FinalityWalEntry, MAX_FINALITY_WAL_RECORD_BYTES).record


@dataclass(slots=True)
class FinalityWalRecovery:
    """What the log says about one epoch: the locks, the bodies of the voted
    transactions (by txid) and the report, if any."""

    locks: dict[OutPoint, bytes] = field(default_factory=dict)
    report: EpochReport | None = None
    transactions: dict[bytes, Transaction] = field(default_factory=dict)


def recover_finality_wal(
    records: Iterable[FinalityWalRecord], epoch: int, own_key: bytes | None
) -> FinalityWalRecovery:
    """Collect the records of `epoch` (others are skipped), in log order.

    Raises InvalidWal: wal-conflict when two locks of the epoch name
    different txids for one outpoint, or two different reports are logged;
    wal-foreign-signer when a report is not signed by `own_key`. The node
    never writes such a log, and restoring from it could make it vote for
    conflicting transactions.
    """
    recovery = FinalityWalRecovery()
    for record in records:
        if isinstance(record, WalTxLocks):
            if record.epoch != epoch:
                continue
            for entry in record.entries:
                previous = recovery.locks.setdefault(entry.outpoint, entry.txid)
                if previous != entry.txid:
                    raise InvalidWal(
                        REJECT_WAL_CONFLICT,
                        f"two logged locks of {entry.outpoint.txid.hex()}:{entry.outpoint.index} "
                        f"in epoch {epoch}",
                    )
        elif isinstance(record, WalVotedTxs):
            if record.epoch != epoch:
                continue
            for tx in record.transactions:
                recovery.transactions[compute_txid(tx)] = tx
        else:
            report = record.report
            if report.epoch != epoch:
                continue
            if report.voter != own_key:
                raise InvalidWal(
                    REJECT_WAL_FOREIGN_SIGNER, f"logged report signed by {report.voter.hex()}"
                )
            if recovery.report is not None and recovery.report != report:
                raise InvalidWal(REJECT_WAL_CONFLICT, f"two logged reports of epoch {epoch}")
            recovery.report = report
    return recovery

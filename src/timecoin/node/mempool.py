"""A simple transaction pool: validity check against the tip, FIFO, size cap.

A transaction enters when it passes `check_transaction` and
`validate_transaction` against the UTXO set of the tip, spends no coin that
a pooled transaction already spends, and fits under the pool's bounds
(count and bytes); when the pool is full the newest arrival is refused, so
the order of the pool is first come, first served. Its inputs must be in
blocks: chains of pooled transactions wait for their parent's block.
After each committed block, `remove_committed` drops the block's
transactions and every pooled transaction whose inputs are gone.

This pool is replaced by the finality issue's pools; it exists so that a
node can carry payments into blocks now.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from timecoin.chain import ChainState
from timecoin.ledger import (
    SignatureCache,
    UtxoView,
    check_transaction,
    compute_tx_size,
    validate_transaction,
)
from timecoin.types import OutPoint, TimecoinError, Transaction, compute_txid

REJECT_MEMPOOL_CONFLICT: Final = "txn-mempool-conflict"
REJECT_MEMPOOL_FULL: Final = "mempool-full"


class MempoolRejected(TimecoinError):
    """A transaction the pool refuses for a reason of the pool, not of consensus."""


@dataclass(frozen=True, slots=True)
class PoolEntry:
    """A pooled transaction with what the pool knows about it."""

    tx: Transaction
    txid: bytes
    size_bytes: int
    fee_units: int
    time_ms: int
    height: int


class Mempool:
    """Transactions waiting for a block, first come first served, bounded."""

    def __init__(self, *, max_transactions: int, max_bytes: int) -> None:
        """An empty pool holding at most `max_transactions` and `max_bytes`."""
        self.max_transactions = max_transactions
        self.max_bytes = max_bytes
        self._entries: dict[bytes, PoolEntry] = {}
        self._spent_by: dict[OutPoint, bytes] = {}
        self._total_bytes = 0

    def __len__(self) -> int:
        """Number of pooled transactions."""
        return len(self._entries)

    def __contains__(self, txid: object) -> bool:
        """Whether `txid` is pooled."""
        return txid in self._entries

    @property
    def total_bytes(self) -> int:
        """Sum of the encoded sizes of the pooled transactions."""
        return self._total_bytes

    def get(self, txid: bytes) -> PoolEntry | None:
        """The entry of `txid`, or None."""
        return self._entries.get(txid)

    def entries(self) -> list[PoolEntry]:
        """Every entry, oldest first."""
        return list(self._entries.values())

    def transactions(self) -> list[Transaction]:
        """Every pooled transaction, oldest first (the order blocks take them in)."""
        return [entry.tx for entry in self._entries.values()]

    def spender_of(self, outpoint: OutPoint) -> bytes | None:
        """The txid of the pooled transaction spending `outpoint`, or None."""
        return self._spent_by.get(outpoint)

    def add(
        self,
        tx: Transaction,
        state: ChainState,
        view: UtxoView,
        *,
        now_ms: int,
        sig_cache: SignatureCache | None = None,
    ) -> tuple[bytes, bool]:
        """Validate `tx` against the tip (`state`, `view`) and pool it.

        Returns (txid, added); added is False when it was already pooled.
        Raises InvalidTransaction (a consensus rule) or MempoolRejected
        (txn-mempool-conflict, mempool-full).
        """
        txid = compute_txid(tx)
        if txid in self._entries:
            return txid, False
        size_bytes = compute_tx_size(tx)
        params = state.params
        check_transaction(tx, params, size_bytes=size_bytes)
        for txin in tx.inputs:
            other = self._spent_by.get(txin.prevout)
            if other is not None:
                raise MempoolRejected(
                    REJECT_MEMPOOL_CONFLICT,
                    f"input {txin.prevout.txid.hex()}:{txin.prevout.index} "
                    f"is spent by pooled {other.hex()}",
                )
        height = state.height + 1
        fee_units = validate_transaction(
            tx, txid, view, params, height, sig_cache=sig_cache, size_bytes=size_bytes
        )
        if (
            len(self._entries) >= self.max_transactions
            or self._total_bytes + size_bytes > self.max_bytes
        ):
            raise MempoolRejected(
                REJECT_MEMPOOL_FULL,
                f"pool holds {len(self._entries)} transactions, {self._total_bytes} bytes",
            )
        self._entries[txid] = PoolEntry(tx, txid, size_bytes, fee_units, now_ms, state.height)
        for txin in tx.inputs:
            self._spent_by[txin.prevout] = txid
        self._total_bytes += size_bytes
        return txid, True

    def remove(self, txid: bytes) -> None:
        """Drop `txid` if pooled."""
        entry = self._entries.pop(txid, None)
        if entry is None:
            return
        self._total_bytes -= entry.size_bytes
        for txin in entry.tx.inputs:
            if self._spent_by.get(txin.prevout) == txid:
                del self._spent_by[txin.prevout]

    def remove_committed(self, block_txids: Iterable[bytes], view: UtxoView) -> int:
        """After a block: drop its transactions and those whose inputs `view`
        (the new tip's UTXO set) no longer holds. Returns how many left."""
        before = len(self._entries)
        for txid in block_txids:
            self.remove(txid)
        stale = [
            entry.txid
            for entry in self._entries.values()
            if any(view.get_coin(txin.prevout) is None for txin in entry.tx.inputs)
        ]
        for txid in stale:
            self.remove(txid)
        return before - len(self._entries)

"""What the wallet and raw-transaction RPC methods need from a node: `WalletNodeApi`.

It extends `NodeApi` with reads of the wallet's transactions and the wallet
operations behind bitcoind's wallet methods (fund, sign, abandon, backup).
The node implements it; the RPC layer never imports the node.

The wallet's transactions come from what the node can look up: today the
last `history_depth_blocks` blocks and the transactions outside blocks (the
pool and the final backlog); with a transaction and address index, the
whole chain. Errors an implementation raises, beyond `NodeApi`'s:

- `wallet_abandon`: `UnknownWalletTransactionError` (-5) for a txid the
  wallet has not signed or no longer holds pending, `NotAbandonableError`
  (-5, bitcoind's message) for one that may still settle;
- `wallet_backup`: `WalletBackupError` (-4);
- `wallet_fund`, `wallet_sign`: the wallet's `WalletError`s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from timecoin.rpc.api import NodeApi, NodeApiError
from timecoin.types import Transaction, TxOutput
from timecoin.wallet import FundedTransaction, SignOutcome


class UnknownWalletTransactionError(NodeApiError):
    """A txid that is not one of the wallet's (pending) transactions."""


class NotAbandonableError(NodeApiError):
    """A transaction that is pooled, final or in a block: it may still settle."""


class WalletBackupError(NodeApiError):
    """The backup could not be written (the target exists, or a write failed)."""


@dataclass(frozen=True, slots=True)
class WalletTransaction:
    """A transaction that pays or spends from the wallet.

    `block_hash`, `height`, `block_index` (its position in the block) and
    `block_time_ms` are None outside blocks; `time_ms` is when the node first
    saw it (the block time for one found in a block); `is_final` is True in a
    block or with a finality proof.
    """

    tx: Transaction
    txid: bytes
    block_hash: bytes | None
    height: int | None
    block_index: int | None
    block_time_ms: int | None
    time_ms: int
    is_final: bool


@dataclass(frozen=True, slots=True)
class WalletInfo:
    """The open wallet: its file name, fingerprint, derived key count, how
    many more keys it may derive, and its pending (signed, unsettled) txids."""

    name: str
    fingerprint: str
    key_count: int
    keys_left: int
    pending_txids: tuple[bytes, ...]
    history_depth_blocks: int
    """How many recent blocks `wallet_transactions` covers (-1: every block)."""


class WalletNodeApi(NodeApi, Protocol):
    """`NodeApi` plus the wallet history and raw-transaction operations."""

    async def wallet_transactions(self) -> list[WalletTransaction]:
        """The wallet's transactions the node can look up, oldest first
        (blocks by height and position, then those outside blocks by time)."""
        ...

    async def wallet_addresses(self) -> frozenset[bytes]:
        """Every address of the wallet."""
        ...

    async def wallet_info(self) -> WalletInfo:
        """Facts about the open wallet."""
        ...

    async def wallet_abandon(self, txid: bytes) -> None:
        """Release the coins of the wallet's pending transaction `txid`,
        which the node neither pools nor holds final nor finds in a block.

        Raises UnknownWalletTransactionError, NotAbandonableError.
        """
        ...

    async def wallet_backup(self, destination: str) -> None:
        """Copy the key file and its journal to `destination` (and
        `destination`.journal) on the node's file system; raises WalletBackupError."""
        ...

    async def wallet_fund(
        self, outputs: Sequence[TxOutput], fee_per_kb_units: int, lock_time: int
    ) -> FundedTransaction:
        """Inputs and change from the wallet for a transaction paying `outputs`."""
        ...

    async def wallet_sign(self, tx: Transaction) -> SignOutcome:
        """Sign the inputs of `tx` that spend the wallet's coins (journaled first)."""
        ...

"""The wallet half of the node's RPC API: `WalletApiMixin` (see `WalletNodeApi`).

The wallet's history comes from the store's address index when the node
keeps it (`[index] addressindex = true`, any depth); otherwise from the last
`WALLET_HISTORY_BLOCKS` blocks, scanned for transactions that pay a wallet
address or spend with a wallet key. The pooled and final-but-unblocked
transactions are added either way. The matches of
each scanned block are remembered (by block hash, until the wallet derives
a new key), so a call reads only the blocks committed since the last one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar

from timecoin.node.lookups import RECENT_BLOCKS, touches_addresses
from timecoin.rpc.api import WalletUnavailableError, WarmingUpError
from timecoin.rpc.wallet_api import (
    NotAbandonableError,
    UnknownWalletTransactionError,
    WalletBackupError,
    WalletInfo,
    WalletTransaction,
)
from timecoin.storage.indexes import ADDRESSINDEX
from timecoin.types import Transaction, TxOutput, compute_txid
from timecoin.wallet import (
    MAX_KEYS,
    FeePolicy,
    FundedTransaction,
    SignOutcome,
    Wallet,
    WalletExistsError,
)

if TYPE_CHECKING:
    from timecoin.node.node import Node
    from timecoin.storage import ChainStore

T = TypeVar("T")

WALLET_HISTORY_BLOCKS: Final = RECENT_BLOCKS
MAX_WALLET_TRANSACTIONS: Final = 10_000
"""The most block transactions the wallet history lists (newest kept)."""
"""How many recent blocks the wallet history covers (there is no address index yet)."""

_BlockMatches = tuple[tuple[int, Transaction, bytes], ...]


def is_wallet_transaction(tx: Transaction, addresses: frozenset[bytes]) -> bool:
    """Whether `tx` pays one of `addresses` or spends with one of their keys."""
    return touches_addresses(tx, addresses)


def _scan_blocks(
    chain: ChainStore,
    tip_height: int,
    addresses: frozenset[bytes],
    known: dict[bytes, tuple[int, int, _BlockMatches]],
) -> list[WalletTransaction]:
    """The wallet's transactions in the last WALLET_HISTORY_BLOCKS blocks,
    oldest first; `known` (block hash -> height, time, matches) is read and
    filled in."""
    found: list[WalletTransaction] = []
    seen: set[bytes] = set()
    for height in range(max(0, tip_height - WALLET_HISTORY_BLOCKS + 1), tip_height + 1):
        block_hash = chain.get_block_hash(height)
        if block_hash is None:
            continue
        seen.add(block_hash)
        entry = known.get(block_hash)
        if entry is None:
            block = chain.get_block(block_hash)
            if block is None:
                continue
            matches = tuple(
                (index, tx, compute_txid(tx))
                for index, tx in enumerate(block.transactions)
                if is_wallet_transaction(tx, addresses)
            )
            entry = (height, block.header.timestamp_ms, matches)
            known[block_hash] = entry
        _, time_ms, matches = entry
        found.extend(
            WalletTransaction(tx, txid, block_hash, height, index, time_ms, time_ms, True)
            for index, tx, txid in matches
        )
    for stale in [h for h in known if h not in seen]:
        del known[stale]
    return found


class WalletApiMixin:
    """`WalletNodeApi`'s methods over a running `Node` (mixed into `NodeApiImpl`)."""

    _node: Node
    _wallet_blocks: dict[bytes, tuple[int, int, _BlockMatches]]
    _wallet_blocks_keys: int

    def _wallet(self) -> Wallet:
        wallet = self._node.wallet
        if wallet is None:
            raise WalletUnavailableError("this node runs without a wallet")
        return wallet

    async def _wallet_io(self, func: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._node.rpc_executor, func)

    async def wallet_addresses(self) -> frozenset[bytes]:
        """Every address of the wallet."""
        return frozenset(self._wallet().addresses())

    async def wallet_transactions(self) -> list[WalletTransaction]:
        """The wallet's transactions in recent blocks and outside blocks, oldest first."""
        wallet = self._wallet()
        chain, finality, driver = self._node.chain, self._node.finality, self._node.driver
        if chain is None or finality is None or driver is None or not self._node.ready:
            raise WarmingUpError("the node is starting")
        addresses = frozenset(wallet.addresses())
        if getattr(self, "_wallet_blocks_keys", -1) != len(addresses):
            self._wallet_blocks = {}
            self._wallet_blocks_keys = len(addresses)
        known = self._wallet_blocks
        tip_height = driver.state.height
        history = await self._wallet_io(lambda: _scan_blocks(chain, tip_height, addresses, known))
        in_blocks = {wtx.txid for wtx in history}
        now_ms = int(time.time() * 1000)
        outside: list[WalletTransaction] = []
        pooled = {entry.txid: entry for entry in finality.mempool.entries()}
        for entry in pooled.values():
            if entry.txid not in in_blocks and is_wallet_transaction(entry.tx, addresses):
                final = entry.final or finality.has_proof(entry.txid)
                outside.append(
                    WalletTransaction(
                        entry.tx, entry.txid, None, None, None, None, entry.time_ms, final
                    )
                )
        for tx in finality.final_transactions():
            txid = compute_txid(tx)
            if txid in pooled or txid in in_blocks or not is_wallet_transaction(tx, addresses):
                continue
            outside.append(WalletTransaction(tx, txid, None, None, None, None, now_ms, True))
        outside.sort(key=lambda wtx: wtx.time_ms)
        return history + outside

    async def wallet_info(self) -> WalletInfo:
        """Facts about the open wallet."""
        wallet = self._wallet()
        count = wallet.key_count()
        return WalletInfo(
            name=wallet.path.name,
            fingerprint=wallet.fingerprint,
            key_count=count,
            keys_left=MAX_KEYS - count,
            pending_txids=tuple(sorted(wallet.pending_transactions())),
            history_depth_blocks=-1
            if self._node.chain is not None and ADDRESSINDEX in self._node.chain.indexes
            else WALLET_HISTORY_BLOCKS,
        )

    async def wallet_abandon(self, txid: bytes) -> None:
        """Release a pending transaction the node neither holds nor finds in a block."""
        wallet = self._wallet()
        if txid not in wallet.pending_transactions():
            raise UnknownWalletTransactionError(txid.hex())
        finality = self._node.finality
        if finality is None:
            raise WarmingUpError("the node is starting")
        status = finality.get_status(txid).status
        if status not in ("unknown", "conflicted"):
            raise NotAbandonableError(f"{txid.hex()} is {status}")
        await self._wallet_io(lambda: wallet.release(txid))

    async def wallet_backup(self, destination: str) -> None:
        """Copy the key file and the journal to `destination`."""
        wallet = self._wallet()
        try:
            await self._wallet_io(lambda: wallet.backup(Path(destination)))
        except (WalletExistsError, OSError) as exc:
            raise WalletBackupError(str(exc)) from None

    async def wallet_fund(
        self, outputs: Sequence[TxOutput], fee_per_kb_units: int, lock_time: int
    ) -> FundedTransaction:
        """Inputs and change from the wallet for a transaction paying `outputs`."""
        wallet = self._wallet()
        policy = FeePolicy(fee_per_kb=fee_per_kb_units)
        return await self._wallet_io(
            lambda: wallet.fund_transaction(outputs, policy, lock_time=lock_time)
        )

    async def wallet_sign(self, tx: Transaction) -> SignOutcome:
        """Sign the wallet's inputs of `tx`, journaled first."""
        wallet = self._wallet()
        return await self._wallet_io(lambda: wallet.sign_transaction(tx))

"""The node's wallet follows the chain without rescanning the UTXO set.

The wallet's chain coins (the coins of the UTXO set paying its addresses)
are kept in the store, one `wallet_coin` key per outpoint under the
wallet's fingerprint, with the height and hash of the block they are
current for (`wallet` entry `scan/FINGERPRINT`). `record_block` updates
them after each committed block (one batch); `restore_wallet` reads them
at start-up, drops those the chain has spent since, and follows the blocks
after the recorded height for new coins paying the wallet: a cost set by
the wallet's coins and the blocks it missed, never by the UTXO set. A
wallet the store has no record of (new here, or from another node) gets
one scan of the UTXO set, from `birthday_height` on when given; a record
naming a block off the chain does too. `rescan_blocks` reads a range of
blocks again (`rescanblockchain`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from timecoin.storage import ChainStore, StoreCorruptError, WriteBatch
from timecoin.storage.schema import WALLET_COIN_PREFIX, wallet_key
from timecoin.storage.schema import wallet_coin_key as _wallet_coin_key
from timecoin.types import Coin, OutPoint, compute_txid
from timecoin.wallet import Wallet

log = logging.getLogger("timecoin.node")

SCAN_RECORD_BYTES: Final = 40


@dataclass(frozen=True, slots=True)
class WalletRestore:
    """How `restore_wallet` brought the wallet up to the tip."""

    full_scan: bool
    stored_coins: int
    followed_blocks: int


def _fingerprint(wallet: Wallet) -> bytes:
    return bytes.fromhex(wallet.fingerprint)


def _scan_key(wallet: Wallet) -> bytes:
    return wallet_key(b"scan/" + wallet.fingerprint.encode("ascii"))


def _coin_prefix(wallet: Wallet) -> bytes:
    return WALLET_COIN_PREFIX + _fingerprint(wallet)


def restore_wallet(wallet: Wallet, chain: ChainStore, *, birthday_height: int = 0) -> WalletRestore:
    """Load `wallet`'s chain coins as of the stored tip (see the module doc)."""
    tip = chain.get_tip()
    if tip is None:
        return WalletRestore(False, 0, 0)
    record = chain.kv.get(_scan_key(wallet))
    height = -1
    if record is not None:
        if len(record) != SCAN_RECORD_BYTES:
            raise StoreCorruptError(f"wallet scan record: {len(record)} bytes, expected 40")
        height = int.from_bytes(record[:8], "big")
        if height > tip.height or chain.get_block_hash(height) != record[8:]:
            log.warning("the wallet's scan record is off the chain: scanning the UTXO set")
            height = -1
    if height < 0:
        added = wallet.scan(
            (op, coin) for op, coin in chain.iter_utxos() if coin.height >= birthday_height
        )
        _save_all(wallet, chain)
        return WalletRestore(True, added, 0)
    stored = 0
    prefix = _coin_prefix(wallet)
    for key, _ in chain.kv.iter_prefix(prefix):
        rest = key[len(prefix) :]
        if len(rest) != 36:
            raise StoreCorruptError(f"wallet coin key {key.hex()}: bad length")
        outpoint = OutPoint(rest[:32], int.from_bytes(rest[32:], "big"))
        coin = chain.get_coin(outpoint)
        if coin is not None and wallet.is_mine(coin.address):
            wallet.add_coin(outpoint, coin)
            stored += 1
    for followed in range(height + 1, tip.height + 1):
        block_hash = chain.get_block_hash(followed)
        block = None if block_hash is None else chain.get_block(block_hash)
        if block is None:
            raise StoreCorruptError(f"the chain store lacks block {followed}")
        for tx in block.transactions:
            txid = compute_txid(tx)
            for index, output in enumerate(tx.outputs):
                if wallet.is_mine(output.address):
                    outpoint = OutPoint(txid, index)
                    coin = chain.get_coin(outpoint)
                    if coin is not None:
                        wallet.add_coin(outpoint, coin)
    if tip.height > height:
        _save_all(wallet, chain)
    return WalletRestore(False, stored, tip.height - height)


def rescan_blocks(wallet: Wallet, chain: ChainStore, start: int, stop: int) -> int:
    """Read blocks `start`..`stop` (inclusive, within the chain) for outputs
    paying `wallet` that are still unspent, add them, and store the wallet's
    coins; return how many coins were new (`rescanblockchain`: recovery,
    or a wallet restored from its seed)."""
    tip = chain.get_tip()
    if tip is None:
        return 0
    known = {outpoint for outpoint, _ in wallet.coins()}
    added = 0
    for height in range(max(0, start), min(stop, tip.height) + 1):
        block_hash = chain.get_block_hash(height)
        block = None if block_hash is None else chain.get_block(block_hash)
        if block is None:
            raise StoreCorruptError(f"the chain store lacks block {height}")
        for tx in block.transactions:
            txid = compute_txid(tx)
            for index, output in enumerate(tx.outputs):
                outpoint = OutPoint(txid, index)
                if outpoint in known or not wallet.is_mine(output.address):
                    continue
                coin = chain.get_coin(outpoint)
                if coin is not None:
                    wallet.add_coin(outpoint, coin)
                    known.add(outpoint)
                    added += 1
    _save_all(wallet, chain)
    return added


def _save_all(wallet: Wallet, chain: ChainStore) -> None:
    """Replace the stored chain coins of `wallet` with its current ones, at the tip."""
    tip = chain.get_tip()
    if tip is None:
        return
    batch = WriteBatch()
    fingerprint = _fingerprint(wallet)
    for key, _ in chain.kv.iter_prefix(_coin_prefix(wallet)):
        batch.delete(key)
    for outpoint, _coin in wallet.coins():
        batch.put(_wallet_coin_key(fingerprint, outpoint), b"")
    batch.put(_scan_key(wallet), tip.height.to_bytes(8, "big") + tip.block_hash)
    chain.kv.write(batch, sync=False)


def record_block(
    wallet: Wallet,
    chain: ChainStore,
    height: int,
    block_hash: bytes,
    spent: Sequence[OutPoint],
    created: Mapping[OutPoint, Coin],
) -> None:
    """Record a committed block's change of the wallet's chain coins, with
    the block as the new scan height (one unsynced write: a crash loses at
    most blocks that `restore_wallet` follows again)."""
    batch = WriteBatch()
    fingerprint = _fingerprint(wallet)
    for outpoint in spent:
        batch.delete(_wallet_coin_key(fingerprint, outpoint))
    for outpoint, coin in created.items():
        if wallet.is_mine(coin.address):
            batch.put(_wallet_coin_key(fingerprint, outpoint), b"")
    batch.put(_scan_key(wallet), height.to_bytes(8, "big") + block_hash)
    chain.kv.write(batch, sync=False)

"""Transaction, spender and address lookups for the RPC and REST reads.

With the store's indexes (`storage.indexes`: tx, spent, address) a lookup
reaches any depth; a node that does not keep an index falls back to
reading the last `depth` blocks, newest first. Every reader of the node
that needs such a lookup goes through these functions. They read the
store: call them in a thread pool, never on the event loop.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from timecoin.crypto import address_from_public_key
from timecoin.storage.indexes import (
    ADDRESSINDEX,
    SPENTINDEX,
    TXINDEX,
    get_address_events,
    get_spender,
    get_tx_location,
)
from timecoin.types import Block, OutPoint, Transaction, compute_txid

if TYPE_CHECKING:
    from timecoin.storage import ChainStore

RECENT_BLOCKS: Final = 1_000
"""How many recent blocks a lookup reads (there is no index yet)."""
KEY_ADDRESS_CACHE: Final = 65_536
"""Public keys whose address is remembered (scans meet the same inputs again)."""


@functools.lru_cache(maxsize=KEY_ADDRESS_CACHE)
def key_address(public_key: bytes) -> bytes:
    """The address a public key spends from (memoized)."""
    return address_from_public_key(public_key)


def touches_addresses(tx: Transaction, addresses: frozenset[bytes]) -> bool:
    """Whether `tx` pays one of `addresses` or spends with one of their keys."""
    return any(out.address in addresses for out in tx.outputs) or any(
        key_address(txin.public_key) in addresses for txin in tx.inputs
    )


@dataclass(frozen=True, slots=True)
class BlockTx:
    """A transaction found in block `block_hash` at `height`, position `index`."""

    tx: Transaction
    txid: bytes
    block_hash: bytes
    height: int
    index: int
    block_time_ms: int


def iter_recent_blocks(
    chain: ChainStore, tip_height: int, depth: int = RECENT_BLOCKS
) -> Iterator[tuple[int, bytes, Block]]:
    """(height, hash, block) of the last `depth` blocks, newest first."""
    for height in range(tip_height, max(-1, tip_height - depth), -1):
        block_hash = chain.get_block_hash(height)
        block = None if block_hash is None else chain.get_block(block_hash)
        if block is not None and block_hash is not None:
            yield height, block_hash, block


def find_block_transactions(
    chain: ChainStore,
    tip_height: int,
    wanted: Callable[[Transaction], bool],
    *,
    depth: int = RECENT_BLOCKS,
    limit: int | None = None,
) -> list[BlockTx]:
    """The transactions of the last `depth` blocks for which `wanted` is
    true, newest block first (in block order within a block), at most `limit`."""
    found: list[BlockTx] = []
    for height, block_hash, block in iter_recent_blocks(chain, tip_height, depth):
        time_ms = block.header.timestamp_ms
        for index, tx in enumerate(block.transactions):
            if wanted(tx):
                found.append(BlockTx(tx, compute_txid(tx), block_hash, height, index, time_ms))
                if limit is not None and len(found) >= limit:
                    return found
    return found


def block_tx_at(chain: ChainStore, height: int, position: int) -> BlockTx | None:
    """The transaction at `position` of the active chain's block `height`, or None."""
    block_hash = chain.get_block_hash(height)
    header = None if block_hash is None else chain.get_header(block_hash)
    tx = None if block_hash is None else chain.get_block_transaction(block_hash, position)
    if block_hash is None or header is None or tx is None:
        return None
    return BlockTx(tx, compute_txid(tx), block_hash, height, position, header.timestamp_ms)


def find_transaction(
    chain: ChainStore, txid: bytes, tip_height: int, depth: int = RECENT_BLOCKS
) -> BlockTx | None:
    """The block transaction `txid`: by the tx index at any depth, else in
    the last `depth` blocks; None when not found."""
    if TXINDEX in chain.indexes:
        location = get_tx_location(chain.kv, txid)
        if location is None or location.height > tip_height:
            return None
        found = block_tx_at(chain, location.height, location.position)
        return found if found is not None and found.txid == txid else None
    for height, block_hash, block in iter_recent_blocks(chain, tip_height, depth):
        for index, tx in enumerate(block.transactions):
            if compute_txid(tx) == txid:
                return BlockTx(tx, txid, block_hash, height, index, block.header.timestamp_ms)
    return None


def find_spender(
    chain: ChainStore, outpoint: OutPoint, tip_height: int
) -> tuple[BlockTx, int] | None:
    """The block transaction spending `outpoint` and its input index: by the
    spent index at any depth, else in the last RECENT_BLOCKS blocks."""
    if SPENTINDEX in chain.indexes:
        spender = get_spender(chain.kv, outpoint)
        if spender is None or spender.height > tip_height:
            return None
        block_hash = chain.get_block_hash(spender.height)
        block = None if block_hash is None else chain.get_block(block_hash)
        for position, tx in enumerate([] if block is None else block.transactions):
            if compute_txid(tx) == spender.txid:
                found = block_tx_at(chain, spender.height, position)
                return None if found is None else (found, spender.input_index)
        return None
    if chain.get_coin(outpoint) is not None:
        return None
    for found in find_block_transactions(
        chain, tip_height, lambda tx: any(i.prevout == outpoint for i in tx.inputs), limit=1
    ):
        index = next(i for i, txin in enumerate(found.tx.inputs) if txin.prevout == outpoint)
        return found, index
    return None


def find_address_transactions(
    chain: ChainStore, tip_height: int, addresses: frozenset[bytes], limit: int
) -> list[BlockTx]:
    """The block transactions paying or spending from `addresses`, newest
    first, at most `limit`: by the address index at any depth (its first
    events per address), else in the last RECENT_BLOCKS blocks."""
    if ADDRESSINDEX not in chain.indexes:
        return find_block_transactions(
            chain, tip_height, lambda tx: touches_addresses(tx, addresses), limit=limit
        )
    locations: set[tuple[int, int]] = set()
    for address in addresses:
        for event in get_address_events(chain.kv, address, limit=limit):
            if event.height <= tip_height:
                locations.add((event.height, event.position))
    found: list[BlockTx] = []
    for height, position in sorted(locations, reverse=True)[:limit]:
        item = block_tx_at(chain, height, position)
        if item is not None:
            found.append(item)
    return found

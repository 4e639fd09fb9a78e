"""Lookups over recent blocks, for the RPC and REST reads the chain has no index for.

Until the chain keeps a transaction, spent and address index, a transaction
is found by reading the last `depth` blocks, newest first. Every reader of
the node that needs such a lookup goes through these functions, so the
indexes replace them in one place. They read the store: call them in a
thread pool, never on the event loop.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from timecoin.crypto import address_from_public_key
from timecoin.types import Block, Transaction, compute_txid

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


def find_transaction(
    chain: ChainStore, txid: bytes, tip_height: int, depth: int = RECENT_BLOCKS
) -> BlockTx | None:
    """The transaction `txid` in the last `depth` blocks, or None."""
    for height, block_hash, block in iter_recent_blocks(chain, tip_height, depth):
        for index, tx in enumerate(block.transactions):
            if compute_txid(tx) == txid:
                return BlockTx(tx, txid, block_hash, height, index, block.header.timestamp_ms)
    return None

"""Block indexes: transactions by txid, spenders by outpoint, history by
address (docs/spec/storage.md, "Indexes").

Each index is written in the same batch as the block it indexes
(`stage_block_indexes`, called by `chainstate.commit_applied`) and removed
with it (`stage_block_index_removal`), so after a crash an index holds
exactly the blocks of the chain state. `index_state` records, per index,
the height and hash of the last block it holds; an index turned on later,
or one that fell behind while turned off, is brought up to the tip from the
stored blocks by `catch_up_index` in the background while the node runs
(progress logged and in `getindexinfo`), and joins `ChainStore.indexes`
once it holds the tip.

- `tx_index`: txid -> height (8) + position in the block (4);
- `spent_index`: outpoint -> spending txid (32) + input index (4) +
  height (8);
- `address_index`: address (20) + height (8) + position (4) + kind (1:
  0 funding, 1 spending) + output or input index (4) -> txid (32) +
  amount (8) [+ the spent outpoint (36), for spending]. Keys sort by
  address, then in chain order: an address's history is one range scan.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from timecoin.encoding import u32be, u64be
from timecoin.storage.chainstore import ChainStore
from timecoin.storage.kv import KVStore, StoreCorruptError, WriteBatch
from timecoin.storage.schema import (
    ADDRESS_INDEX_PREFIX,
    INDEX_STATE_PREFIX,
    SPENT_INDEX_PREFIX,
    TX_INDEX_PREFIX,
    address_index_prefix,
    index_state_key,
    spent_index_key,
    tx_index_key,
)
from timecoin.types import Block, Coin, OutPoint, SpentCoin, compute_txid, encode_outpoint_key

TXINDEX: Final = "txindex"
SPENTINDEX: Final = "spentindex"
ADDRESSINDEX: Final = "addressindex"
INDEX_NAMES: Final = (TXINDEX, SPENTINDEX, ADDRESSINDEX)
INDEX_PREFIXES: Final = {
    TXINDEX: TX_INDEX_PREFIX,
    SPENTINDEX: SPENT_INDEX_PREFIX,
    ADDRESSINDEX: ADDRESS_INDEX_PREFIX,
}
FUNDING: Final = 0
SPENDING: Final = 1
MAX_ADDRESS_EVENTS: Final = 10_000
"""Most events one `get_address_events` call returns (callers page on)."""
BUILD_SYNC_EVERY_BLOCKS: Final = 100


@dataclass(frozen=True, slots=True)
class TxLocation:
    """Where a transaction is in the chain: block height and position."""

    height: int
    position: int


@dataclass(frozen=True, slots=True)
class Spender:
    """The transaction that spent an outpoint: txid, input index, height."""

    txid: bytes
    input_index: int
    height: int


@dataclass(frozen=True, slots=True)
class AddressEvent:
    """One entry of an address's history, in chain order.

    `kind` FUNDING: output `index` of `txid` paid `amount` to the address;
    SPENDING: input `index` of `txid` spent `spent` (a coin of the address
    worth `amount`)."""

    height: int
    position: int
    kind: int
    index: int
    txid: bytes
    amount: int
    spent: OutPoint | None


@dataclass(frozen=True, slots=True)
class IndexState:
    """An index: whether this node keeps it, and the last block it holds
    (height -1: none)."""

    name: str
    enabled: bool
    height: int
    block_hash: bytes | None


def _address_key(address: bytes, height: int, position: int, kind: int, index: int) -> bytes:
    return (
        address_index_prefix(address)
        + u64be(height)
        + u32be(position)
        + bytes([kind])
        + u32be(index)
    )


def _block_entries(
    block: Block, txids: Sequence[bytes], spent: Iterable[SpentCoin]
) -> Iterator[tuple[str, bytes, bytes]]:
    """(index name, key, value) of every index entry of `block`."""
    height = block.header.height
    spent_coins = {item.outpoint: item.coin for item in spent}
    created: dict[OutPoint, Coin] = {}
    for position, (tx, txid) in enumerate(zip(block.transactions, txids, strict=True)):
        yield TXINDEX, tx_index_key(txid), u64be(height) + u32be(position)
        for input_index, tx_input in enumerate(tx.inputs):
            prevout = tx_input.prevout
            yield (
                SPENTINDEX,
                spent_index_key(prevout),
                txid + u32be(input_index) + u64be(height),
            )
            coin = spent_coins.get(prevout) or created.get(prevout)
            if coin is not None:
                key = _address_key(coin.address, height, position, SPENDING, input_index)
                value = txid + u64be(coin.amount) + encode_outpoint_key(prevout)
                yield ADDRESSINDEX, key, value
        for output_index, output in enumerate(tx.outputs):
            created[OutPoint(txid, output_index)] = Coin(output.amount, output.address, height)
            key = _address_key(output.address, height, position, FUNDING, output_index)
            yield ADDRESSINDEX, key, txid + u64be(output.amount)


def stage_block_indexes(
    batch: WriteBatch,
    enabled: Iterable[str],
    block: Block,
    block_hash: bytes,
    spent: Iterable[SpentCoin],
    txids: Sequence[bytes] | None = None,
) -> None:
    """Add to `batch` the entries of `block` in the `enabled` indexes, and
    their new `index_state`. `spent` are the coins the block spent (its undo
    data); coins created and spent inside the block are found in it."""
    names = frozenset(enabled)
    if not names:
        return
    ids = [compute_txid(tx) for tx in block.transactions] if txids is None else txids
    for name, key, value in _block_entries(block, ids, spent):
        if name in names:
            batch.put(key, value)
    for name in names:
        batch.put(index_state_key(name.encode()), u64be(block.header.height) + block_hash)


def stage_block_index_removal(
    batch: WriteBatch,
    enabled: Iterable[str],
    block: Block,
    spent: Iterable[SpentCoin],
) -> None:
    """Add to `batch` the removal of `block`'s entries from the `enabled`
    indexes, and set their `index_state` to its parent (the inverse of
    `stage_block_indexes`, for a block being undone)."""
    names = frozenset(enabled)
    ids = [compute_txid(tx) for tx in block.transactions]
    for name, key, _ in _block_entries(block, ids, spent):
        if name in names:
            batch.delete(key)
    header = block.header
    for name in names:
        batch.put(index_state_key(name.encode()), u64be(header.height - 1) + header.prev_hash)


def get_index_state(kv: KVStore, name: str, enabled: bool) -> IndexState:
    """The stored state of index `name`."""
    data = kv.get(index_state_key(name.encode()))
    if data is None:
        return IndexState(name, enabled, -1, None)
    if len(data) != 40:
        raise StoreCorruptError(f"index state of {name}: {len(data)} bytes, expected 40")
    return IndexState(name, enabled, int.from_bytes(data[:8], "big"), data[8:])


def get_tx_location(kv: KVStore, txid: bytes) -> TxLocation | None:
    """Where transaction `txid` is in the chain (tx index), or None."""
    data = kv.get(tx_index_key(txid))
    if data is None:
        return None
    if len(data) != 12:
        raise StoreCorruptError(f"tx index {txid.hex()}: {len(data)} bytes, expected 12")
    return TxLocation(int.from_bytes(data[:8], "big"), int.from_bytes(data[8:], "big"))


def get_spender(kv: KVStore, outpoint: OutPoint) -> Spender | None:
    """The transaction that spent `outpoint` (spent index), or None."""
    data = kv.get(spent_index_key(outpoint))
    if data is None:
        return None
    if len(data) != 44:
        raise StoreCorruptError(f"spent index {outpoint}: {len(data)} bytes, expected 44")
    return Spender(data[:32], int.from_bytes(data[32:36], "big"), int.from_bytes(data[36:], "big"))


def get_address_events(
    kv: KVStore, address: bytes, *, start_height: int = 0, limit: int = MAX_ADDRESS_EVENTS
) -> list[AddressEvent]:
    """The history of `address` from `start_height` on, in chain order, at
    most `limit` (capped at MAX_ADDRESS_EVENTS) events (address index)."""
    events: list[AddressEvent] = []
    prefix = address_index_prefix(address)
    bound = min(limit, MAX_ADDRESS_EVENTS)
    for key, value in kv.iter_prefix(prefix):
        rest = key[len(prefix) :]
        if len(rest) != 17 or len(value) not in (40, 76):
            raise StoreCorruptError(f"address index entry {key.hex()}: bad length")
        height = int.from_bytes(rest[:8], "big")
        if height < start_height:
            continue
        spent = None
        if len(value) == 76:
            spent = OutPoint(value[40:72], int.from_bytes(value[72:], "big"))
        events.append(
            AddressEvent(
                height=height,
                position=int.from_bytes(rest[8:12], "big"),
                kind=rest[12],
                index=int.from_bytes(rest[13:], "big"),
                txid=value[:32],
                amount=int.from_bytes(value[32:40], "big"),
                spent=spent,
            )
        )
        if len(events) >= bound:
            break
    return events


def build_indexes(
    chain: ChainStore,
    enabled: Iterable[str],
    *,
    clock: Callable[[], float] = time.monotonic,
    log_progress: Callable[[str, int, int, float], None] | None = None,
) -> None:
    """Bring every `enabled` index up to the stored tip and add it to
    `chain.indexes` (see `catch_up_index`)."""
    for name in enabled:
        catch_up_index(chain, name, clock=clock, log_progress=log_progress)


def is_index_behind(chain: ChainStore, name: str) -> bool:
    """True when index `name` does not hold the stored tip."""
    tip = chain.get_tip()
    state = get_index_state(chain.kv, name, True)
    return tip is not None and state.height < tip.height


def catch_up_index(
    chain: ChainStore,
    name: str,
    *,
    clock: Callable[[], float] = time.monotonic,
    log_progress: Callable[[str, int, int, float], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> bool:
    """Build index `name` from the stored blocks and undo data up to the tip,
    one batch per block (synced every BUILD_SYNC_EVERY_BLOCKS: resumable
    from its `index_state` after a crash), while blocks may keep being
    committed; then, under the chain's write lock, add it to
    `chain.indexes` so every later commit writes it. Return False if
    `should_stop` ended it first. `log_progress(name, height, tip, rate)`
    is called every few seconds. Raises StoreCorruptError when the index
    names a block off the chain or a block is missing."""
    kv = chain.kv
    state = get_index_state(kv, name, True)
    if state.block_hash is not None and chain.get_block_hash(state.height) != state.block_hash:
        raise StoreCorruptError(
            f"the {name} index is at a block that is not on the chain: "
            "run `timecoin node --reindex`"
        )
    started = last_log = clock()
    height = state.height
    while True:
        with chain.write_lock:
            tip = chain.get_tip()
            if tip is None or height >= tip.height:
                chain.indexes = chain.indexes | {name}
                return True
        if should_stop():
            return False
        height += 1
        block_hash = chain.get_block_hash(height)
        block = None if block_hash is None else chain.get_block(block_hash)
        undo = None if block_hash is None else chain.get_undo(block_hash)
        if block_hash is None or block is None or undo is None:
            raise StoreCorruptError(f"building the {name} index: block {height} is missing")
        batch = WriteBatch()
        stage_block_indexes(batch, (name,), block, block_hash, undo.spent)
        kv.write(batch, sync=height == tip.height or height % BUILD_SYNC_EVERY_BLOCKS == 0)
        now = clock()
        if log_progress is not None and now - last_log >= 5.0:
            last_log = now
            rate = (height - state.height) / max(now - started, 1e-9)
            log_progress(name, height, tip.height, rate)


def reset_indexes(kv: KVStore) -> None:
    """Forget every index (a `--reindex`): their states first, in one synced
    write, so that a crash in between leaves indexes that `build_indexes`
    rebuilds from genesis; then their entries, in batches."""
    batch = WriteBatch()
    for name in INDEX_NAMES:
        batch.delete(index_state_key(name.encode()))
    kv.write(batch)
    for name in INDEX_NAMES:
        wipe_index(kv, name)


def wipe_index(kv: KVStore, name: str) -> None:
    """Delete every entry of index `name` and its state."""
    for prefix in (index_state_key(name.encode()), INDEX_PREFIXES[name]):
        while True:
            batch = WriteBatch()
            for key, _ in kv.iter_prefix(prefix):
                batch.delete(key)
                if len(batch) >= 10_000:
                    break
            if not len(batch):
                break
            kv.write(batch, sync=False)


__all__ = [
    "ADDRESSINDEX",
    "FUNDING",
    "INDEX_NAMES",
    "INDEX_STATE_PREFIX",
    "SPENDING",
    "SPENTINDEX",
    "TXINDEX",
    "AddressEvent",
    "IndexState",
    "Spender",
    "TxLocation",
    "build_indexes",
    "catch_up_index",
    "get_address_events",
    "get_index_state",
    "get_spender",
    "get_tx_location",
    "is_index_behind",
    "reset_indexes",
    "stage_block_index_removal",
    "stage_block_indexes",
    "wipe_index",
]

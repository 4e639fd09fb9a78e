"""In-place migrations of older chain stores (ADR 0010).

`migrate_store` brings a store opened at an older schema version to
`SCHEMA_VERSION`, one step at a time, each crash-safe:

- 3 -> 4: the chain state (registry, voting sets) did not exist. It is
  rebuilt by replaying the stored blocks (as version 3 did at every start),
  then written with version 4 in ONE batch: a crash before that batch leaves
  a version 3 store and the next start begins again.
- 4 -> 5: coin records gain their check value. They are rewritten in
  batches of MIGRATION_BATCH_COINS in key order; each batch also records
  the last key it rewrote (meta `migration_cursor`), so a restart resumes
  after it; the last batch writes version 5 and drops the cursor.

Progress is logged (height or coins, rate, time left) while it runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

from timecoin.chain import ChainState, chain_state_from_genesis, validate_block
from timecoin.encoding import DecodeError, decode, u32be
from timecoin.ledger import MemoryUtxoSet
from timecoin.params import ChainParams
from timecoin.storage.chainstate import (
    ChainStateError,
    Progress,
    read_chain_state,
    stage_full_state,
)
from timecoin.storage.chainstore import MAX_COIN_BYTES, ChainStore, encode_coin_record
from timecoin.storage.kv import StoreCorruptError, WriteBatch
from timecoin.storage.schema import META_SCHEMA_VERSION_KEY, UTXO_PREFIX, meta_key
from timecoin.types import Block, Coin, InvalidBlock

log = logging.getLogger("timecoin.storage")

MIGRATION_BATCH_COINS: Final = 10_000
MIGRATION_CURSOR_KEY: Final = meta_key(b"migration_cursor")


def migrate_store(
    chain: ChainStore,
    genesis: Block,
    params: ChainParams,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> ChainState:
    """Migrate `chain` (opened at an older version) to SCHEMA_VERSION in
    place; return the chain state of the tip.

    Raises ChainStateError when a stored block is missing or invalid, and
    StoreCorruptError when a coin record does not decode."""
    if chain.stored_schema_version == 3:
        _migrate_3_to_4(chain, genesis, params, clock)
    if chain.stored_schema_version == 4:
        _migrate_4_to_5(chain, clock)
    return read_chain_state(chain, params)


def _migrate_3_to_4(
    chain: ChainStore, genesis: Block, params: ChainParams, clock: Callable[[], float]
) -> None:
    tip = chain.get_tip()
    if tip is None:
        raise ChainStateError("the chain store has no tip")
    state, delta = chain_state_from_genesis(genesis, params)
    utxo = MemoryUtxoSet(dict(delta.created))
    progress = Progress("migrating to schema 4: rebuilding the registry", tip.height, clock)
    for height in range(1, tip.height + 1):
        block_hash = chain.get_block_hash(height)
        block = None if block_hash is None else chain.get_block(block_hash)
        if block is None:
            raise ChainStateError(f"the chain store lacks block {height}; resync")
        try:
            applied = validate_block(block, state, utxo, verifier=_trusted)
        except InvalidBlock as exc:
            raise ChainStateError(f"stored block {height} is invalid: {exc}; resync") from None
        utxo.apply_delta(applied.delta)
        state = applied.state_after
        progress.update(height)
    if state.block_hash != tip.block_hash:
        raise ChainStateError("the replayed chain does not end at the stored tip; resync")
    batch = WriteBatch()
    stage_full_state(batch, state)
    batch.put(META_SCHEMA_VERSION_KEY, u32be(4))
    chain.kv.write(batch)
    chain.stored_schema_version = 4
    progress.done()


def _migrate_4_to_5(chain: ChainStore, clock: Callable[[], float]) -> None:
    kv = chain.kv
    cursor = kv.get(MIGRATION_CURSOR_KEY)
    progress = Progress("migrating to schema 5: coin check values", chain.utxo_count(), clock)
    done = 0
    batch = WriteBatch()
    for key, value in kv.iter_prefix(UTXO_PREFIX):
        if cursor is not None and key <= cursor:
            done += 1
            continue
        try:
            coin = decode(value, Coin, MAX_COIN_BYTES)
        except DecodeError as exc:
            raise StoreCorruptError(f"coin record {key.hex()}: {exc}") from None
        batch.put(key, encode_coin_record(key, coin))
        done += 1
        if len(batch) >= MIGRATION_BATCH_COINS:
            batch.put(MIGRATION_CURSOR_KEY, key)
            kv.write(batch)
            batch = WriteBatch()
            progress.update(done)
    batch.delete(MIGRATION_CURSOR_KEY)
    batch.put(META_SCHEMA_VERSION_KEY, u32be(5))
    kv.write(batch)
    chain.stored_schema_version = 5
    progress.update(done)
    progress.done()


def _trusted(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Signatures of blocks this node stored were checked when they were
    committed: a migration of its own store does not check them again."""
    return True

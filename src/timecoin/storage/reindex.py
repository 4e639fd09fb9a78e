"""Rebuild the chain state (and the indexes) from the stored blocks.

`timecoin node --reindex-chainstate` (and `--reindex`, which also rebuilds
the indexes) runs `reindex`: every stored block from genesis to the tip
goes through `validate_block` again, signatures included, and its state
changes are written with `ChainStore.commit_state` (the blocks themselves
stay). It is resumable after a crash at any instant:

1. `request_reindex` writes meta `reindex` = `wipe` (synced).
2. Phase `wipe`: the chain-state key spaces are deleted in batches of
   WIPE_BATCH_KEYS (a restart deletes what is left); then ONE batch writes
   the genesis state and `reindex` = `replay`.
3. Phase `replay`: each block's state is committed in one batch on top of
   the previous one, so after a crash the stored state is that of some
   block, named by the `chain_state` head, and the replay resumes after
   it. The batch of the tip deletes `reindex`.

While `reindex` is present the node does nothing but resume it. Progress
(height, rate, time left) is logged every few seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from timecoin.chain import ChainState, chain_state_from_genesis, validate_block
from timecoin.chain.certificate import Verifier
from timecoin.crypto import MuHash3072
from timecoin.encoding import u32be
from timecoin.ledger import BatchVerify
from timecoin.params import ChainParams
from timecoin.storage.chainstate import (
    ChainStateError,
    Progress,
    read_state_at_head,
    read_state_head,
    stage_applied,
    stage_full_state,
)
from timecoin.storage.chainstore import ChainStore
from timecoin.storage.kv import KVStore, WriteBatch
from timecoin.storage.schema import (
    CHAIN_STATE_KEY,
    MASTERNODE_PREFIX,
    META_SCHEMA_VERSION_KEY,
    REPORTED_LOCK_PREFIX,
    SCHEMA_VERSION,
    UNDO_PREFIX,
    UTXO_COUNT_KEY,
    UTXO_PREFIX,
    UTXO_STATE_KEY,
    VOTING_SET_PREFIX,
    meta_key,
)
from timecoin.types import Block, BlockUndo, InvalidBlock

REINDEX_KEY: Final = meta_key(b"reindex")
PHASE_WIPE: Final = b"wipe"
PHASE_REPLAY: Final = b"replay"
WIPE_BATCH_KEYS: Final = 10_000
SYNC_EVERY_BLOCKS: Final = 100
"""Blocks between synced writes while replaying (the others survive a
process crash; an OS crash may take back at most this many, which the
resumed replay redoes)."""
CHAIN_STATE_PREFIXES: Final = (
    UTXO_PREFIX,
    UNDO_PREFIX,
    REPORTED_LOCK_PREFIX,
    CHAIN_STATE_KEY,
    VOTING_SET_PREFIX,
    MASTERNODE_PREFIX,
    UTXO_STATE_KEY,
    UTXO_COUNT_KEY,
)
"""The key spaces a reindex deletes and rebuilds (the `chain_state` head,
`utxo_state` and `utxo_count` are single keys, deleted as prefixes)."""


def request_reindex(chain: ChainStore) -> None:
    """Mark the store for a reindex (synced): the next `reindex` wipes the
    chain state and replays every block. A store of an older schema whose
    blocks this node reads needs no migration first: everything the
    migrations would rewrite is rebuilt, so the current version is written
    with the request."""
    batch = WriteBatch()
    batch.put(REINDEX_KEY, PHASE_WIPE)
    batch.put(META_SCHEMA_VERSION_KEY, u32be(SCHEMA_VERSION))
    chain.kv.write(batch)
    chain.stored_schema_version = SCHEMA_VERSION


def is_reindexing(kv: KVStore) -> bool:
    """True while a requested reindex has not finished."""
    return kv.get(REINDEX_KEY) is not None


def reindex(
    chain: ChainStore,
    genesis: Block,
    params: ChainParams,
    *,
    verifier: Verifier,
    verify_batch: BatchVerify | None = None,
    clock: Callable[[], float] = time.monotonic,
    on_height: Callable[[int], None] | None = None,
) -> ChainState:
    """Run (or resume) the requested reindex to the stored tip; return the
    chain state of the tip. `on_height` is called after each block's state
    is written.

    Raises ChainStateError when a stored block is missing or fails
    validation (the message names the height; the blocks must come again
    from peers: resync)."""
    kv = chain.kv
    if kv.get(REINDEX_KEY) == PHASE_WIPE:
        _wipe(chain, genesis, params)
    head = read_state_head(kv)
    tip = chain.get_tip()
    if head is None or tip is None:
        raise ChainStateError("the reindex lost its chain state head: run it again")
    state = read_state_at_head(chain, params, head)
    progress = Progress("reindexing the chain state", tip.height, clock)
    for height in range(state.height + 1, tip.height + 1):
        block_hash = chain.get_block_hash(height)
        block = None if block_hash is None else chain.get_block(block_hash)
        if block is None:
            raise ChainStateError(f"the chain store lacks block {height}: resync")
        try:
            applied = validate_block(
                block, state, chain, verifier=verifier, verify_batch=verify_batch
            )
        except InvalidBlock as exc:
            raise ChainStateError(f"stored block {height} is invalid: {exc}; resync") from None
        extra = WriteBatch()
        stage_applied(extra, applied)
        last = height == tip.height
        if last:
            extra.delete(REINDEX_KEY)
        delta = applied.delta
        chain.commit_state(
            applied.block_hash,
            applied.undo,
            delta.created,
            delta.spent,
            applied.state_after.utxo_state.to_bytes(),
            sync=last or height % SYNC_EVERY_BLOCKS == 0,
            locks_created=delta.locks_created,
            locks_released=delta.locks_released,
            extra=extra,
        )
        state = applied.state_after
        progress.update(height)
        if on_height is not None:
            on_height(height)
    if is_reindexing(kv):  # the tip is genesis: nothing was replayed
        batch = WriteBatch()
        batch.delete(REINDEX_KEY)
        kv.write(batch)
    progress.done()
    return state


def _wipe(chain: ChainStore, genesis: Block, params: ChainParams) -> None:
    """Delete the chain state in batches, then write genesis's state and
    enter the replay phase in one batch."""
    kv = chain.kv
    for prefix in CHAIN_STATE_PREFIXES:
        while True:
            batch = WriteBatch()
            for key, _ in kv.iter_prefix(prefix):
                batch.delete(key)
                if len(batch) >= WIPE_BATCH_KEYS:
                    break
            if not len(batch):
                break
            kv.write(batch, sync=False)
    state, delta = chain_state_from_genesis(genesis, params)
    extra = WriteBatch()
    stage_full_state(extra, state)
    extra.put(REINDEX_KEY, PHASE_REPLAY)
    undo = BlockUndo(spent=[], utxo_state_before=MuHash3072().to_bytes())
    chain.commit_state(
        state.block_hash, undo, delta.created, [], state.utxo_state.to_bytes(), extra=extra
    )

"""Reverting the tip: the chain state before a block, from its undo records.

Committed blocks are final, so a node reverts a block only when it was
applied but not committed (a crash between the two, or a block applied
speculatively), or to recover from a fork that needed more than 1/3 of the
weight to break the protocol (docs/spec/sync.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from timecoin.chain.finality import encode_lock_element
from timecoin.chain.state import ChainState
from timecoin.ledger import UtxoDelta, undo_block
from timecoin.ledger import errors as ledger_errors
from timecoin.masternode import RegistryUndo, undo_block_registry
from timecoin.types import (
    Block,
    BlockHeader,
    BlockUndo,
    InvalidBlock,
    OutPoint,
    compute_block_hash,
)

__all__ = ["undo_applied_block"]


def undo_applied_block(
    state_after: ChainState,
    block: Block,
    undo: BlockUndo,
    registry_undo: RegistryUndo,
    prev_header: BlockHeader,
) -> tuple[ChainState, UtxoDelta]:
    """The chain state before `block`, the tip of `state_after`, and the UTXO
    delta that restores the set before it.

    The inverse of `validate_block` / `build_block`: applying a block and
    undoing it gives back the state and UTXO set exactly (commitment,
    registry, tip, reported locks).

    Parameters:
        state_after: the chain state whose tip is `block`.
        block: the block to revert.
        undo: its ledger undo record (`AppliedBlock.undo`).
        registry_undo: its registry undo record (`AppliedBlock.registry_undo`).
        prev_header: the header of the block's parent (from storage).

    Returns:
        (state before the block, delta for the UTXO set).

    Raises:
        InvalidBlock: bad-undo, when the block is not the tip of
            `state_after`, `prev_header` is not its parent, or an undo record
            does not belong to the block (corrupt storage); nothing is
            changed.
    """
    block_hash = compute_block_hash(block.header)
    if block_hash != state_after.block_hash:
        raise InvalidBlock(
            ledger_errors.REJECT_BAD_UNDO,
            f"undo: expected the tip {state_after.block_hash.hex()}, got block {block_hash.hex()}",
        )
    prev_hash = compute_block_hash(prev_header)
    if prev_hash != block.header.prev_hash:
        raise InvalidBlock(
            ledger_errors.REJECT_BAD_UNDO,
            f"undo: expected the parent header {block.header.prev_hash.hex()}, "
            f"got {prev_hash.hex()}",
        )
    try:
        registry = undo_block_registry(state_after.registry, registry_undo)
    except ValueError as exc:
        raise InvalidBlock(ledger_errors.REJECT_BAD_UNDO, f"registry undo: {exc}") from exc
    locks_after = state_after.reported_locks
    missing = [op for op in undo.created_locks if op not in locks_after]
    if missing:
        raise InvalidBlock(
            ledger_errors.REJECT_BAD_UNDO,
            f"undo: the block created a reported lock on {missing[0].txid.hex()}:"
            f"{missing[0].index}, the state holds none",
        )
    utxo_state = state_after.utxo_state.copy()
    # Locks first: the ledger's undo compares the result with the state
    # recorded before the block's coins changed, which held no new locks.
    utxo_state.remove_many(encode_lock_element(op, locks_after[op]) for op in undo.created_locks)
    utxo_state.insert_many(
        encode_lock_element(lock.outpoint, lock.txid) for lock in undo.released_locks
    )
    delta = undo_block(undo, block.transactions, block.header.height, utxo_state)
    created = set(undo.created_locks)
    locks_before: Mapping[OutPoint, bytes | None] = locks_after
    if created or undo.released_locks:
        locks_before = {op: txid for op, txid in locks_after.items() if op not in created}
        locks_before.update((lock.outpoint, lock.txid) for lock in undo.released_locks)
    delta = replace(
        delta,
        locks_created={lock.outpoint: lock.txid for lock in undo.released_locks},
        locks_released=list(undo.created_locks),
    )
    state_before = ChainState(
        params=state_after.params,
        height=prev_header.height,
        block_hash=prev_hash,
        header=prev_header,
        registry=registry,
        utxo_state=utxo_state,
        reported_locks=locks_before,
    )
    return state_before, delta

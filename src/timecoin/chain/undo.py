"""Reverting the tip: the chain state before a block, from its undo records.

Committed blocks are final, so a node reverts a block only when it was
applied but not committed (a crash between the two, or a block applied
speculatively), or to recover from a fork that needed more than 1/3 of the
weight to break the protocol (DESIGN.md section 7).
"""

from __future__ import annotations

from timecoin.chain.state import ChainState
from timecoin.ledger import UtxoDelta, undo_block
from timecoin.ledger import errors as ledger_errors
from timecoin.masternode import RegistryUndo, undo_block_registry
from timecoin.types import Block, BlockHeader, BlockUndo, InvalidBlock, compute_block_hash

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
    registry, tip).

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
    utxo_state = state_after.utxo_state.copy()
    delta = undo_block(undo, block.transactions, block.header.height, utxo_state)
    state_before = ChainState(
        params=state_after.params,
        height=prev_header.height,
        block_hash=prev_hash,
        header=prev_header,
        registry=registry,
        utxo_state=utxo_state,
    )
    return state_before, delta

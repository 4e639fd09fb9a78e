"""The chain state after a block, and the state after genesis.

`ChainState` is what the block rules need besides the UTXO set itself: the
tip's height, hash and header, the masternode registry after the tip, and
the MuHash3072 state of the UTXO set (whose digest is the tip's
`utxo_commitment`). The UTXO coins are not part of it: they are read through
a `timecoin.ledger.UtxoView` that the caller keeps in step with the state
(storage, or a `MemoryUtxoSet` in tests and the simulator).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from timecoin.chain import errors
from timecoin.crypto import MuHash3072
from timecoin.ledger import MemoryUtxoSet, UtxoDelta, apply_block
from timecoin.ledger import errors as ledger_errors
from timecoin.masternode import (
    RegistryState,
    next_voting_set_hash,
    registry_from_genesis,
    voting_set_for_height,
)
from timecoin.params import ChainParams
from timecoin.types import (
    BLOCK_VERSION,
    ZERO_HASH,
    Block,
    BlockHeader,
    InvalidBlock,
    OutPoint,
    VotingSet,
    compute_attestations_hash,
    compute_block_hash,
    compute_evidence_hash,
    compute_tx_roots,
)

__all__ = ["ChainState", "chain_state_from_genesis", "voting_set_at"]


@dataclass(frozen=True, slots=True)
class ChainState:
    """The state of the chain after block `height` (the tip).

    - `params`: the chain parameters;
    - `height`, `block_hash`, `header`: the tip;
    - `registry`: the masternode registry after the tip; its voting set is
      the one in force for block `height + 1`;
    - `utxo_state`: the MuHash3072 state of the UTXO set after the tip,
      normalized, whose digest is `header.utxo_commitment` (coins and
      reported locks);
    - `reported_locks`: the reported locks in force after the tip (ADR
      0004): outpoint -> the only txid that may spend it, or None (reports
      conflicted). The finality machine takes them as its `reported_locks`.

    A state is a value: nothing here changes it, and neither `utxo_state`
    nor `reported_locks` (mutable objects) may be changed in place: copy
    them before applying a block.
    """

    params: ChainParams
    height: int
    block_hash: bytes
    header: BlockHeader
    registry: RegistryState
    utxo_state: MuHash3072
    reported_locks: Mapping[OutPoint, bytes | None] = field(default_factory=dict)


def voting_set_at(state: ChainState, height: int) -> VotingSet | None:
    """The voting set that certifies block `height`, when `state` holds it.

    The state holds the voting set of the epoch of block `state.height + 1`
    and the one of the epoch before (`voting_set_for_height`); for any other
    height this returns None and the caller reads the set stored for that
    epoch.
    """
    return voting_set_for_height(state.registry, height, state.params)


def chain_state_from_genesis(
    genesis_block: Block, params: ChainParams
) -> tuple[ChainState, UtxoDelta]:
    """The chain state after `genesis_block`, and the coins it creates.

    Genesis is exempt from the rules of other blocks (no coinbase, no
    certificate, transactions without inputs or signatures; see
    docs/spec/ledger.md), but its header must commit to its contents and to
    the state it creates, and it must be the network's genesis when
    `params.genesis_hash` names one.

    Parameters:
        genesis_block: the genesis block (height 0), e.g. from
            `timecoin.chain.genesis.build_genesis`.
        params: the chain parameters.

    Returns:
        The state after genesis, and the delta that creates its coins (the
        caller writes it to its UTXO set).

    Raises:
        InvalidBlock: wrong-genesis (not `params.genesis_hash`), bad-genesis
            (not height 0 or epoch 0, a previous hash, a certificate,
            evidence or attestations), bad-block-version, wrong-chain-id,
            bad-tx-root, bad-witness-root, bad-utxo-commitment,
            bad-next-voting-set-hash, or the code of a broken registration
            rule.
    """
    header = genesis_block.header
    block_hash = compute_block_hash(header)
    if params.genesis_hash is not None and block_hash != params.genesis_hash:
        raise InvalidBlock(
            errors.REJECT_WRONG_GENESIS,
            f"genesis hash: expected {params.genesis_hash.hex()}, got {block_hash.hex()}",
        )
    _check_genesis_header(genesis_block, params)
    utxo_state = MuHash3072()
    _, delta = apply_block(
        genesis_block.transactions, 0, MemoryUtxoSet(), utxo_state, params, genesis=True
    )
    if utxo_state.digest() != header.utxo_commitment:
        raise InvalidBlock(
            errors.REJECT_BAD_UTXO_COMMITMENT,
            f"genesis utxo commitment: expected {utxo_state.digest().hex()}, "
            f"got {header.utxo_commitment.hex()}",
        )
    registry = registry_from_genesis(genesis_block, params)
    expected = next_voting_set_hash(registry)
    if header.next_voting_set_hash != expected:
        raise InvalidBlock(
            errors.REJECT_BAD_NEXT_VOTING_SET_HASH,
            f"genesis next voting set hash: expected {expected.hex()}, "
            f"got {header.next_voting_set_hash.hex()}",
        )
    state = ChainState(
        params=params,
        height=0,
        block_hash=block_hash,
        header=header,
        registry=registry,
        utxo_state=utxo_state,
    )
    return state, delta


def _check_genesis_header(block: Block, params: ChainParams) -> None:
    header = block.header
    if header.version != BLOCK_VERSION:
        raise InvalidBlock(
            errors.REJECT_BAD_BLOCK_VERSION,
            f"genesis version: expected {BLOCK_VERSION}, got {header.version}",
        )
    if header.chain_id != params.chain_id:
        raise InvalidBlock(
            errors.REJECT_WRONG_CHAIN_ID,
            f"genesis chain id: expected {params.chain_id:#x}, got {header.chain_id:#x}",
        )
    shape = (
        header.height,
        header.epoch,
        header.prev_hash,
        header.prev_certificate_hash,
        block.prev_certificate,
        header.evidence_hash,
        len(block.evidence),
        header.attestations_hash,
        len(block.attestations),
    )
    expected_shape = (
        0,
        0,
        ZERO_HASH,
        ZERO_HASH,
        None,
        compute_evidence_hash([]),
        0,
        compute_attestations_hash([]),
        0,
    )
    if shape != expected_shape:
        raise InvalidBlock(
            ledger_errors.REJECT_BAD_GENESIS,
            "genesis header: expected height 0, epoch 0, a zero previous hash, no "
            "certificate, no evidence and no attestations, got height "
            f"{header.height}, epoch {header.epoch}, {len(block.evidence)} evidence, "
            f"{len(block.attestations)} attestations",
        )
    tx_root, witness_root = compute_tx_roots(block.transactions)
    if header.tx_root != tx_root:
        raise InvalidBlock(
            errors.REJECT_BAD_TX_ROOT,
            f"genesis tx root: expected {tx_root.hex()}, got {header.tx_root.hex()}",
        )
    if header.witness_root != witness_root:
        raise InvalidBlock(
            errors.REJECT_BAD_WITNESS_ROOT,
            f"genesis witness root: expected {witness_root.hex()}, got {header.witness_root.hex()}",
        )

"""Light proofs built by the node (`getfinalityproof`) and historic voting sets.

`build_light_proof` reads the store: a transaction's body and finality
proof (while the node holds it) or its block and merkle branch, then the
certified headers from a checkpoint to the height that commits what the
claim needs (docs/spec/light.md). `ProofApiMixin` serves it over RPC.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING

from timecoin.crypto import merkle_proof
from timecoin.encoding import encode
from timecoin.light import (
    LIGHT_PROOF_VERSION,
    MAX_PROOF_HEADERS,
    InclusionProof,
    LightProof,
    ProofHeader,
)
from timecoin.node.lookups import find_transaction
from timecoin.node.store import get_certificate
from timecoin.params import ChainParams
from timecoin.rpc.api import WarmingUpError
from timecoin.rpc.proof_handlers import LightProofInfo, ProofUnavailableError
from timecoin.types import FinalityProof, Transaction, VotingSet, compute_txid

if TYPE_CHECKING:
    from timecoin.node.node import Node
    from timecoin.storage import ChainStore


def _headers(
    chain: ChainStore,
    params: ChainParams,
    voting_sets: Mapping[int, VotingSet],
    checkpoint: int,
    end: int,
) -> list[ProofHeader]:
    """Certified headers checkpoint+1..end, with the voting set where it changes."""
    if end - checkpoint > MAX_PROOF_HEADERS:
        raise ProofUnavailableError(
            f"{end - checkpoint} headers from the checkpoint, at most {MAX_PROOF_HEADERS}: "
            "choose a later checkpoint"
        )
    parent_hash = chain.get_block_hash(checkpoint)
    parent = None if parent_hash is None else chain.get_header(parent_hash)
    entries: list[ProofHeader] = []
    for height in range(checkpoint + 1, end + 1):
        block_hash = chain.get_block_hash(height)
        header = None if block_hash is None else chain.get_header(block_hash)
        certificate = get_certificate(chain, height)
        if header is None or certificate is None or parent is None:
            raise ProofUnavailableError(f"header or certificate {height} is not stored")
        voting_set = None
        if header.next_voting_set_hash != parent.next_voting_set_hash:
            voting_set = voting_sets.get(params.epoch_of(height + 1))
            if voting_set is None or voting_set.compute_hash() != header.next_voting_set_hash:
                raise ProofUnavailableError(f"the voting set after block {height} is not known")
        entries.append(ProofHeader(header, certificate, voting_set))
        parent = header
    return entries


def build_light_proof(
    chain: ChainStore,
    params: ChainParams,
    voting_sets: Mapping[int, VotingSet],
    tx: Transaction,
    finality: FinalityProof | None,
    block: tuple[int, bytes] | None,
    checkpoint: int,
) -> LightProof:
    """A proof of `tx` from block `checkpoint`: final by `finality` (when
    given) and included in `block` (height, hash) when given."""
    tip = chain.get_tip()
    if tip is None:
        raise ProofUnavailableError("the chain is empty")
    checkpoint_hash = chain.get_block_hash(checkpoint)
    checkpoint_header = None if checkpoint_hash is None else chain.get_header(checkpoint_hash)
    if checkpoint_header is None:
        raise ProofUnavailableError(f"no block at checkpoint height {checkpoint}")
    checkpoint_set = voting_sets.get(params.epoch_of(checkpoint + 1))
    if checkpoint_set is None or (
        checkpoint_set.compute_hash() != checkpoint_header.next_voting_set_hash
    ):
        raise ProofUnavailableError(f"the voting set after block {checkpoint} is not known")
    end = checkpoint
    if finality is not None:
        # The voting set of the proof's epoch is committed by that epoch's
        # previous block: the last of the epoch before.
        committing = finality.epoch * params.epoch_length - 1
        if params.epoch_of(checkpoint + 1) > finality.epoch:
            raise ProofUnavailableError(
                f"the checkpoint is past epoch {finality.epoch}: choose an earlier one"
            )
        end = max(end, committing)
    inclusion = None
    if block is not None:
        height, block_hash = block
        if height < checkpoint:
            raise ProofUnavailableError(f"the checkpoint is past block {height}")
        stored = chain.get_block(block_hash)
        if stored is None:
            raise ProofUnavailableError(f"block {height} is not stored")
        txids = [compute_txid(other) for other in stored.transactions]
        index = txids.index(compute_txid(tx))
        branch = merkle_proof(txids, index)
        inclusion = InclusionProof(height, index, branch.leaf_count, list(branch.siblings))
        end = max(end, height)
    if end > tip.height:
        raise ProofUnavailableError(f"block {end} is not committed yet")
    return LightProof(
        version=LIGHT_PROOF_VERSION,
        network=params.name,
        block_interval_ms=params.block_interval_ms,
        checkpoint_header=checkpoint_header,
        checkpoint_voting_set=checkpoint_set,
        headers=_headers(chain, params, voting_sets, checkpoint, end),
        tx=tx,
        finality=finality,
        inclusion=inclusion,
    )


class ProofApiMixin:
    """`ProofNodeApi`'s methods over a running `Node` (mixed into `NodeApiImpl`)."""

    _node: Node

    async def get_light_proof(self, txid: bytes, checkpoint_height: int) -> LightProofInfo:
        """A light proof of `txid` from `checkpoint_height` (see `build_light_proof`)."""
        node = self._node
        chain, finality = node.chain, node.finality
        if chain is None or finality is None or not node.ready:
            raise WarmingUpError("the node is starting")
        status = finality.get_status(txid)
        known = finality.get_transaction(txid)
        tx = None if known is None else known[0]
        block = None
        if status.block_hash is not None and status.height is not None:
            block = (status.height, status.block_hash)
        tip_height = node.driver.state.height if node.driver is not None else 0

        def build() -> LightProof:
            nonlocal tx, block
            if tx is None or (block is None and status.proof is None):
                found = find_transaction(chain, txid, tip_height)
                if found is not None:
                    tx, block = found.tx, (found.height, found.block_hash)
            if tx is None or (status.proof is None and block is None):
                raise ProofUnavailableError(
                    f"{txid.hex()} is neither final with a proof held here nor in a recent block"
                )
            return build_light_proof(
                chain, node.params, node.voting_sets, tx, status.proof, block, checkpoint_height
            )

        proof = await asyncio.get_running_loop().run_in_executor(node.rpc_executor, build)
        return LightProofInfo(
            data=encode(proof),
            final_epoch=None if proof.finality is None else proof.finality.epoch,
            included_height=None if proof.inclusion is None else proof.inclusion.height,
            header_count=len(proof.headers),
        )

    async def get_voting_set(self, epoch: int | None) -> VotingSet | None:
        """The voting set of `epoch` (None: the current one), or None if unknown."""
        driver = self._node.driver
        if driver is None:
            raise WarmingUpError("the node is starting")
        if epoch is None:
            return driver.state.registry.voting_set
        return self._node.voting_sets.get(epoch)

"""Building and signing transaction vote batches, reports and evidence.

A batch's leaves are vote leaves (`timecoin.chain.compute_vote_leaf`); its
merkle tree follows `timecoin.crypto.merkle_root` exactly (leaf prefix
0x00, inner prefix 0x01, an odd last node promoted). `compute_merkle_branches`
returns the branch of every leaf from one pass over the tree (n log n
hashes instead of n^2 for repeated `merkle_proof` calls), so a receiver of
a batch can keep one branch per transaction for its finality proofs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from timecoin.chain.finality import (
    compute_input_leaf,
    compute_report_signing_message,
    compute_txvote_signing_message,
    compute_vote_leaf,
    report_entry_key,
)
from timecoin.consensus.app import Signer
from timecoin.crypto.merkle import LEAF_PREFIX, NODE_PREFIX, merkle_proof
from timecoin.encoding import encode
from timecoin.types import (
    EpochReport,
    InputProof,
    OutPoint,
    ProofVote,
    ReportEntry,
    Transaction,
    TxVote,
    TxVoteBatch,
    TxVoteEquivocationEvidence,
    VoteLeaf,
)

__all__ = [
    "compute_merkle_branches",
    "make_input_proof",
    "make_tx_vote",
    "make_tx_vote_equivocation_evidence",
    "sign_epoch_report",
    "sign_tx_vote_batch",
]

_sha256 = hashlib.sha256


def compute_merkle_branches(leaves: Sequence[bytes]) -> tuple[bytes, list[tuple[bytes, ...]]]:
    """The merkle root of `leaves` (32-byte digests, at least one) and the
    branch (siblings from the leaf up) of every leaf, as `merkle_proof` gives it.

    Raises ValueError for an empty list or a leaf that is not 32 bytes.
    """
    if not leaves:
        raise ValueError("a vote batch has at least one leaf")
    for position, leaf in enumerate(leaves):
        if len(leaf) != 32:
            raise ValueError(f"leaf {position} must be 32 bytes, got {len(leaf)}")
    level = [_sha256(LEAF_PREFIX + leaf).digest() for leaf in leaves]
    branches: list[list[bytes]] = [[] for _ in leaves]
    # positions[i]: the index of leaf i's path node in the current level.
    positions = list(range(len(leaves)))
    while len(level) > 1:
        count = len(level)
        for leaf_index, position in enumerate(positions):
            sibling = position ^ 1
            if sibling < count:
                branches[leaf_index].append(level[sibling])
            positions[leaf_index] = position >> 1
        parents = [
            _sha256(NODE_PREFIX + level[i] + level[i + 1]).digest() for i in range(0, count - 1, 2)
        ]
        if count & 1:
            parents.append(level[-1])
        level = parents
    return level[0], [tuple(branch) for branch in branches]


def sign_tx_vote_batch(
    signer: Signer, chain_id: int, epoch: int, leaves: Sequence[VoteLeaf]
) -> tuple[TxVoteBatch, list[tuple[bytes, ...]]]:
    """Sign one batch of votes for `leaves`; return it and each leaf's branch.

    Raises ValueError for an empty batch.
    """
    hashes = [compute_vote_leaf(leaf.txid, leaf.inputs_root) for leaf in leaves]
    root, branches = compute_merkle_branches(hashes)
    message = compute_txvote_signing_message(chain_id, epoch, root, len(hashes))
    batch = TxVoteBatch(
        voter=signer.public_key,
        epoch=epoch,
        root=root,
        count=len(hashes),
        signature=signer.sign(message),
    )
    return batch, branches


def make_tx_vote(
    voter: bytes, epoch: int, vote: ProofVote, txid: bytes, inputs_root: bytes
) -> TxVote:
    """The standalone `TxVote` of a vote kept in a finality tally."""
    return TxVote(
        voter=voter,
        epoch=epoch,
        root=vote.root,
        count=vote.count,
        signature=vote.signature,
        txid=txid,
        inputs_root=inputs_root,
        index=vote.index,
        branch=list(vote.branch),
    )


def make_input_proof(tx: Transaction, outpoint: OutPoint) -> InputProof:
    """The branch showing `outpoint` among the inputs of `tx`.

    Raises ValueError when `tx` does not spend `outpoint`.
    """
    leaves = [compute_input_leaf(txin.prevout) for txin in tx.inputs]
    for index, txin in enumerate(tx.inputs):
        if txin.prevout == outpoint:
            proof = merkle_proof(leaves, index)
            return InputProof(index=index, count=len(leaves), branch=list(proof.siblings))
    raise ValueError(f"transaction does not spend {outpoint.txid.hex()}:{outpoint.index}")


def make_tx_vote_equivocation_evidence(
    outpoint: OutPoint,
    vote_a: TxVote,
    tx_a: Transaction,
    vote_b: TxVote,
    tx_b: Transaction,
) -> TxVoteEquivocationEvidence:
    """The canonical evidence of two votes of one voter for two transactions
    spending `outpoint`, given in either order (smaller vote encoding first).

    Signatures are not checked (the machine passes verified votes).
    Raises ValueError when a transaction does not spend `outpoint`.
    """
    input_a = make_input_proof(tx_a, outpoint)
    input_b = make_input_proof(tx_b, outpoint)
    if encode(vote_b) < encode(vote_a):
        vote_a, vote_b, input_a, input_b = vote_b, vote_a, input_b, input_a
    return TxVoteEquivocationEvidence(
        outpoint=outpoint, vote_a=vote_a, input_a=input_a, vote_b=vote_b, input_b=input_b
    )


def sign_epoch_report(
    signer: Signer,
    chain_id: int,
    epoch: int,
    prev_hash: bytes,
    entries: Iterable[ReportEntry],
) -> EpochReport:
    """The signed report of `signer` for `epoch`, entries put in canonical order."""
    ordered = sorted(set(entries), key=report_entry_key)
    message = compute_report_signing_message(chain_id, epoch, prev_hash, ordered)
    return EpochReport(
        epoch=epoch,
        prev_hash=prev_hash,
        entries=ordered,
        voter=signer.public_key,
        signature=signer.sign(message),
    )

"""Instant-finality messages: transaction vote batches, per-transaction votes,
finality proofs, epoch reports and transaction-vote equivocation evidence.

A committee member signs its transaction votes in batches. The leaves of a
batch are *vote leaves*, one per voted transaction:
``sha256(txid || inputs_root)``, where ``inputs_root`` is the merkle root of
``sha256(encode_outpoint_key(prevout))`` over the transaction's inputs, in
input order. One Ed25519 signature covers the merkle root of the leaves and
their count (``signing_message(DOMAIN_TXVOTE, chain_id, encode((epoch, root,
count)))``), so a vote for one transaction is (signature, merkle branch) and
signing the count binds each leaf to its index. Committing to the inputs in
the leaf lets two votes of one voter be shown to conflict (spend one
outpoint) without the transaction bodies. docs/spec/finality.md specifies
the protocol; the signing bytes and checks are in `timecoin.chain.finality`.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec
from msgspec import Meta

from timecoin.types.primitives import (
    U16,
    U32,
    Epoch,
    Hash32,
    PublicKey,
    Signature,
)
from timecoin.types.transaction import OutPoint

MAX_TXVOTE_BATCH_TXIDS: Final = 65_536
"""Most leaves in one vote batch (2**16), so a branch has at most 16 siblings."""
MAX_TXVOTE_BRANCH: Final = 16
"""Most siblings in a vote branch (a tree of `MAX_TXVOTE_BATCH_TXIDS` leaves)."""
MAX_INPUT_BRANCH: Final = 14
"""Most siblings in an input branch: a transaction has at most 10,000 inputs."""
MAX_PROOF_VOTES: Final = 10_000
"""Most votes in a finality proof (one per voter, the decoder cap of voting sets)."""
MAX_REPORT_ENTRIES: Final = 1_000_000
"""Most (outpoint, txid) entries in one epoch report (decoder cap; the
consensus bound is `SizeLimits.max_report_entries`)."""
MAX_REPORT_TABLE_ENTRIES: Final = 1_000_000
"""Most entries in a block's report table (decoder cap; a block's size
bounds it far lower)."""
MAX_REPORT_SELECTION_BYTES: Final = MAX_REPORT_TABLE_ENTRIES // 8
"""Longest selection bitmap of a packed report (decoder cap)."""

Branch = Annotated[list[Hash32], Meta(max_length=MAX_TXVOTE_BRANCH)]
InputBranch = Annotated[list[Hash32], Meta(max_length=MAX_INPUT_BRANCH)]
LeafCount = Annotated[int, Meta(ge=1, le=MAX_TXVOTE_BATCH_TXIDS)]


class TxVoteBatch(msgspec.Struct, array_like=True, frozen=True):
    """One signed batch of transaction votes.

    `root` is the merkle root of the batch's `count` vote leaves; the voter's
    operator key signs ``signing_message(DOMAIN_TXVOTE, chain_id,
    encode((epoch, root, count)))``. It travels with its leaves
    (`VoteLeaf` list) so receivers can rebuild the tree.
    """

    voter: PublicKey
    epoch: Epoch
    root: Hash32
    count: LeafCount
    signature: Signature


class VoteLeaf(msgspec.Struct, array_like=True, frozen=True):
    """What one leaf of a vote batch commits to: a txid and its inputs root."""

    txid: Hash32
    inputs_root: Hash32


class TxVote(msgspec.Struct, array_like=True, frozen=True):
    """The vote of one voter for one transaction: the batch header and the
    merkle branch of the transaction's leaf (at `index` of `count`)."""

    voter: PublicKey
    epoch: Epoch
    root: Hash32
    count: LeafCount
    signature: Signature
    txid: Hash32
    inputs_root: Hash32
    index: U32
    branch: Branch


class ProofVote(msgspec.Struct, array_like=True, frozen=True):
    """One voter's vote inside a finality proof, by voting-set index."""

    voter_index: U16
    root: Hash32
    count: LeafCount
    index: U32
    branch: Branch
    signature: Signature


class FinalityProof(msgspec.Struct, array_like=True, frozen=True):
    """Votes of more than 2/3 of the weight of epoch `epoch`'s voting set for
    transaction `txid` (whose inputs root is `inputs_root`); `votes` are in
    strictly increasing `voter_index` order. Verifiable offline against that
    voting set."""

    txid: Hash32
    inputs_root: Hash32
    epoch: Epoch
    votes: Annotated[list[ProofVote], Meta(max_length=MAX_PROOF_VOTES)]


class ReportEntry(msgspec.Struct, array_like=True, frozen=True):
    """One vote listed by an epoch report: the outpoint and the txid voted for it."""

    outpoint: OutPoint
    txid: Hash32


class EpochReport(msgspec.Struct, array_like=True, frozen=True):
    """A member's report at the end of epoch `epoch`: every (outpoint, txid)
    it voted for in the epoch whose transaction is not yet in a block, in
    ascending order of (outpoint key, txid). `prev_hash` is the hash of the
    block that the epoch's last block follows. The voter signs
    ``signing_message(DOMAIN_REPORT, chain_id, encode((epoch, prev_hash,
    entries)))`` and never votes again in that epoch."""

    epoch: Epoch
    prev_hash: Hash32
    entries: Annotated[list[ReportEntry], Meta(max_length=MAX_REPORT_ENTRIES)]
    voter: PublicKey
    signature: Signature


class PackedReport(msgspec.Struct, array_like=True, frozen=True):
    """An epoch report as a block carries it (docs/spec/finality.md section 7):
    the voter, its signature, and which entries of the block's report table
    (`Block.report_entries`) it lists. Bit `i` of `selection`, that is bit
    `i % 8` (least significant first) of byte `i // 8`, selects table entry
    `i`; the bitmap is exactly ``ceil(len(table) / 8)`` bytes, unused bits
    zero. The report's epoch and `prev_hash` are the block's; its entries
    are the selected ones in table order, which is the order it signed."""

    voter: PublicKey
    signature: Signature
    selection: Annotated[bytes, Meta(max_length=MAX_REPORT_SELECTION_BYTES)]


class InputProof(msgspec.Struct, array_like=True, frozen=True):
    """Merkle branch showing that an outpoint is input `index` of a transaction
    whose inputs root is known (leaf ``sha256(encode_outpoint_key(outpoint))``)."""

    index: U32
    count: Annotated[int, Meta(ge=1, le=0xFFFF_FFFF)]
    branch: InputBranch


class TxVoteEquivocationEvidence(msgspec.Struct, array_like=True, frozen=True, tag=3):
    """Two signed votes of one voter in one epoch for different transactions
    that both spend `outpoint` (each shown by an input branch). The pair is
    in canonical order: `encode(vote_a) < encode(vote_b)`."""

    outpoint: OutPoint
    vote_a: TxVote
    input_a: InputProof
    vote_b: TxVote
    input_b: InputProof

"""Header-chain rules: what a header served by a peer must satisfy before a
body is asked for, checked from headers, certificates and voting sets alone.

Each header commits to the voting set in force after it
(`next_voting_set_hash`). Starting from a trusted link (the local tip and
the voting set the local state holds for the next block), every following
header is checked against its parent: height, previous hash, epoch,
timestamp, proposer membership, and the certificate that committed it,
verified under the voting set its parent committed to. A peer serves the
voting set itself only where the commitment changes (an epoch boundary),
so a long chain costs one set per epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from timecoin.chain import Verifier, verify_certificate
from timecoin.masternode import is_last_height_of_epoch
from timecoin.params import ChainParams
from timecoin.sync.errors import (
    REJECT_BAD_HEADER,
    REJECT_BAD_HEADER_CERTIFICATE,
    REJECT_BAD_VOTING_SET,
    REJECT_BODY_MISMATCH,
    SyncError,
)
from timecoin.types import (
    BLOCK_VERSION,
    Block,
    BlockHeader,
    Certificate,
    InvalidVote,
    VotingSet,
    compute_attestations_hash,
    compute_block_hash,
    compute_certificate_hash,
    compute_evidence_hash,
    compute_tx_roots,
)
from timecoin.types.primitives import ZERO_HASH

__all__ = [
    "CertifiedHeader",
    "HeaderLink",
    "check_body_matches_header",
    "verify_next_header",
]


class CertifiedHeader(Protocol):
    """A header as a peer serves it: the certificate that committed it, and
    the voting set in force after it when that set differs from the one in
    force for it (None otherwise)."""

    @property
    def header(self) -> BlockHeader:
        """The block header."""
        ...

    @property
    def certificate(self) -> Certificate:
        """The precommits of more than 2/3 of the weight for this header's block."""
        ...

    @property
    def voting_set(self) -> VotingSet | None:
        """The voting set `header.next_voting_set_hash` names, where it changes."""
        ...


@dataclass(frozen=True, slots=True)
class HeaderLink:
    """A header known to be on the certified chain, and what checking its
    child needs: the voting set in force for the next block and its hash."""

    height: int
    block_hash: bytes
    header: BlockHeader
    next_voting_set: VotingSet
    next_voting_set_hash: bytes


def verify_next_header(
    entry: CertifiedHeader, parent: HeaderLink, params: ChainParams, verifier: Verifier
) -> tuple[HeaderLink, bytes]:
    """Check `entry` as the child of `parent` and return its link and block hash.

    In order: version, chain id, height, previous hash, epoch, timestamp at
    least one block interval after the parent's, the voting set of the
    parent's commitment belongs to the header's epoch, the proposer is one
    of its members, the certificate (section 3 of docs/spec/chain.md) under
    that set, then the voting set for the next block: served exactly when
    the commitment changes, only at the last height of an epoch, for the
    next epoch, within `params.max_voters`, hashing to the commitment.

    Raises:
        SyncError: sync-bad-header, sync-bad-certificate (the certificate's
            own reject code in the message), sync-bad-voting-set.
    """
    header = entry.header
    height = parent.height + 1
    block_hash = compute_block_hash(header)
    _check_header_fields(header, parent, height, params)
    voting_set = parent.next_voting_set
    if voting_set.epoch != params.epoch_of(height):
        raise SyncError(
            REJECT_BAD_VOTING_SET,
            f"header {height}: voting set in force is for epoch {voting_set.epoch}, "
            f"expected epoch {params.epoch_of(height)}",
        )
    if voting_set.index_of(header.proposer) is None:
        raise SyncError(
            REJECT_BAD_HEADER,
            f"header {height}: proposer {header.proposer.hex()[:16]} is not in the voting set",
        )
    try:
        verify_certificate(
            entry.certificate,
            voting_set,
            params.chain_id,
            verifier,
            expected_height=height,
            expected_block_hash=block_hash,
        )
    except InvalidVote as exc:
        raise SyncError(REJECT_BAD_HEADER_CERTIFICATE, f"header {height}: {exc}") from None
    next_set, next_hash = _next_voting_set(entry, header, height, parent, params)
    link = HeaderLink(
        height=height,
        block_hash=block_hash,
        header=header,
        next_voting_set=next_set,
        next_voting_set_hash=next_hash,
    )
    return link, block_hash


def _check_header_fields(
    header: BlockHeader, parent: HeaderLink, height: int, params: ChainParams
) -> None:
    if header.version != BLOCK_VERSION:
        raise SyncError(REJECT_BAD_HEADER, f"header {height}: version {header.version}")
    if header.chain_id != params.chain_id:
        raise SyncError(REJECT_BAD_HEADER, f"header {height}: chain id {header.chain_id:#x}")
    if header.height != height:
        raise SyncError(REJECT_BAD_HEADER, f"header height {header.height}, expected {height}")
    if header.prev_hash != parent.block_hash:
        raise SyncError(
            REJECT_BAD_HEADER,
            f"header {height}: previous hash {header.prev_hash.hex()[:16]}, "
            f"expected {parent.block_hash.hex()[:16]}",
        )
    if header.epoch != params.epoch_of(height):
        raise SyncError(
            REJECT_BAD_HEADER,
            f"header {height}: epoch {header.epoch}, expected {params.epoch_of(height)}",
        )
    earliest_ms = parent.header.timestamp_ms + params.block_interval_ms
    if header.timestamp_ms < earliest_ms:
        raise SyncError(
            REJECT_BAD_HEADER,
            f"header {height}: timestamp {header.timestamp_ms}, expected at least {earliest_ms}",
        )
    if height >= 2 and header.prev_certificate_hash == ZERO_HASH:
        raise SyncError(REJECT_BAD_HEADER, f"header {height}: no previous certificate")


def _next_voting_set(
    entry: CertifiedHeader,
    header: BlockHeader,
    height: int,
    parent: HeaderLink,
    params: ChainParams,
) -> tuple[VotingSet, bytes]:
    served = entry.voting_set
    if header.next_voting_set_hash == parent.next_voting_set_hash:
        if served is not None:
            raise SyncError(
                REJECT_BAD_VOTING_SET, f"header {height}: voting set served but unchanged"
            )
        return parent.next_voting_set, parent.next_voting_set_hash
    if served is None:
        raise SyncError(
            REJECT_BAD_VOTING_SET, f"header {height}: voting set changes but was not served"
        )
    if not is_last_height_of_epoch(height, params):
        raise SyncError(
            REJECT_BAD_VOTING_SET, f"header {height}: voting set changes inside an epoch"
        )
    if served.epoch != params.epoch_of(height + 1):
        raise SyncError(
            REJECT_BAD_VOTING_SET,
            f"header {height}: served voting set of epoch {served.epoch}, "
            f"expected {params.epoch_of(height + 1)}",
        )
    if not served.voters or len(served.voters) > params.max_voters:
        raise SyncError(
            REJECT_BAD_VOTING_SET,
            f"header {height}: served voting set has {len(served.voters)} voters "
            f"(1 to {params.max_voters})",
        )
    served_hash = served.compute_hash()
    if served_hash != header.next_voting_set_hash:
        raise SyncError(
            REJECT_BAD_VOTING_SET,
            f"header {height}: served voting set hashes to {served_hash.hex()[:16]}, "
            f"header commits to {header.next_voting_set_hash.hex()[:16]}",
        )
    return served, served_hash


def check_body_matches_header(block: Block, expected_hash: bytes) -> None:
    """Check that `block` is the block of the header hashing to `expected_hash`.

    The header must be that header, and the body must reproduce every
    commitment the header makes to it (transaction and witness roots,
    certificate, evidence and attestations hashes). This runs before any
    block rule, so that a body that is not the header's is blamed on the
    peer that sent it and never on the block.

    Raises:
        SyncError: sync-body-mismatch.
    """
    header = block.header
    block_hash = compute_block_hash(header)
    if block_hash != expected_hash:
        raise SyncError(
            REJECT_BODY_MISMATCH,
            f"body at height {header.height}: header hash {block_hash.hex()[:16]}, "
            f"expected {expected_hash.hex()[:16]}",
        )
    tx_root, witness_root = compute_tx_roots(block.transactions)
    if header.tx_root != tx_root or header.witness_root != witness_root:
        raise SyncError(
            REJECT_BODY_MISMATCH, f"body at height {header.height}: transaction roots differ"
        )
    if header.prev_certificate_hash != compute_certificate_hash(block.prev_certificate):
        raise SyncError(
            REJECT_BODY_MISMATCH, f"body at height {header.height}: certificate hash differs"
        )
    if header.evidence_hash != compute_evidence_hash(block.evidence):
        raise SyncError(
            REJECT_BODY_MISMATCH, f"body at height {header.height}: evidence hash differs"
        )
    if header.attestations_hash != compute_attestations_hash(block.attestations):
        raise SyncError(
            REJECT_BODY_MISMATCH, f"body at height {header.height}: attestations hash differs"
        )

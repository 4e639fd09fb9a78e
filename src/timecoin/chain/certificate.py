"""Signing bytes of votes and proposals, their signature checks, and
certificate verification.

These live in the chain layer because a block carries the certificate of
its parent and evidence made of signed votes and proposals, and the chain
checks both; the consensus package (above) builds on them and re-exports
them from `timecoin.consensus.signing`.

A vote signs ``signing_message(DOMAIN_PREVOTE or DOMAIN_PRECOMMIT, chain_id,
encode((vote_type, height, round, block_hash)))``; a proposal signs
``signing_message(DOMAIN_PROPOSAL, chain_id, encode((height, round,
pol_round, block_hash, timestamp_ms)))``. The signer's key and the signature
are not covered. A certificate is a set of precommit signatures, so checking
it rebuilds the precommit message of its (height, round, block_hash).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from timecoin.chain.errors import (
    REJECT_BAD_SIGNATURE,
    REJECT_BAD_VOTE_TYPE,
    REJECT_DUPLICATE_VOTER,
    REJECT_INSUFFICIENT_WEIGHT,
    REJECT_NIL_BLOCK,
    REJECT_UNKNOWN_VOTER,
    REJECT_UNORDERED_SIGNATURES,
    REJECT_WRONG_BLOCK,
    REJECT_WRONG_HEIGHT,
)
from timecoin.crypto import DOMAIN_PRECOMMIT, DOMAIN_PREVOTE, DOMAIN_PROPOSAL, signing_message
from timecoin.encoding import encode
from timecoin.types import (
    ZERO_HASH,
    Certificate,
    InvalidVote,
    Proposal,
    Vote,
    VoteType,
    VotingSet,
    is_quorum,
)

__all__ = [
    "Verifier",
    "check_vote_type",
    "compute_proposal_signing_message",
    "compute_vote_signing_message",
    "encode_proposal_payload",
    "encode_vote_payload",
    "is_vote_type",
    "verify_certificate",
    "verify_proposal_signature",
    "verify_vote_signature",
]

Verifier = Callable[[bytes, bytes, bytes], bool]
"""``verifier(public_key, message, signature) -> bool``: the consensus
signature rule (`timecoin.crypto.verify`, or a caching wrapper around it)."""


def is_vote_type(vote_type: int) -> bool:
    """Whether `vote_type` is PREVOTE or PRECOMMIT."""
    return vote_type in (VoteType.PREVOTE, VoteType.PRECOMMIT)


def check_vote_type(vote_type: int) -> VoteType:
    """The `VoteType` of `vote_type`.

    Raises InvalidVote (bad-vote-type) for any other value.
    """
    if not is_vote_type(vote_type):
        raise InvalidVote(REJECT_BAD_VOTE_TYPE, f"vote type {vote_type}, expected 1 or 2")
    return VoteType(vote_type)


def encode_vote_payload(vote_type: int, height: int, round: int, block_hash: bytes) -> bytes:
    """The signed payload of a vote: ``encode((vote_type, height, round, block_hash))``."""
    return encode((int(vote_type), height, round, block_hash))


def compute_vote_signing_message(
    chain_id: int, vote_type: int, height: int, round: int, block_hash: bytes
) -> bytes:
    """The exact bytes a voter signs for a prevote or precommit.

    Raises InvalidVote (bad-vote-type) when `vote_type` is neither.
    """
    domain = DOMAIN_PREVOTE if check_vote_type(vote_type) == VoteType.PREVOTE else DOMAIN_PRECOMMIT
    return signing_message(
        domain, chain_id, encode_vote_payload(vote_type, height, round, block_hash)
    )


def encode_proposal_payload(
    height: int, round: int, pol_round: int, block_hash: bytes, timestamp_ms: int
) -> bytes:
    """The signed payload of a proposal:
    ``encode((height, round, pol_round, block_hash, timestamp_ms))``."""
    return encode((height, round, pol_round, block_hash, timestamp_ms))


def compute_proposal_signing_message(
    chain_id: int, height: int, round: int, pol_round: int, block_hash: bytes, timestamp_ms: int
) -> bytes:
    """The exact bytes a proposer signs for a proposal."""
    return signing_message(
        DOMAIN_PROPOSAL,
        chain_id,
        encode_proposal_payload(height, round, pol_round, block_hash, timestamp_ms),
    )


def verify_vote_signature(vote: Vote, chain_id: int, verifier: Verifier) -> None:
    """Check that `vote.signature` is `vote.voter`'s signature of the vote.

    Membership of the voter is not checked here (see the vote keeper).
    Raises InvalidVote (bad-vote-type, bad-signature).
    """
    message = compute_vote_signing_message(
        chain_id, vote.vote_type, vote.height, vote.round, vote.block_hash
    )
    if not verifier(vote.voter, message, vote.signature):
        raise InvalidVote(
            REJECT_BAD_SIGNATURE,
            f"vote h={vote.height} r={vote.round} type={vote.vote_type} "
            f"by {vote.voter.hex()}: signature does not verify",
        )


def verify_proposal_signature(proposal: Proposal, chain_id: int, verifier: Verifier) -> None:
    """Check that `proposal.signature` is `proposal.proposer`'s signature of it.

    Whether the signer is the round's proposer is not checked here.
    Raises InvalidVote (bad-signature).
    """
    message = compute_proposal_signing_message(
        chain_id,
        proposal.height,
        proposal.round,
        proposal.pol_round,
        proposal.block_hash,
        proposal.timestamp_ms,
    )
    if not verifier(proposal.proposer, message, proposal.signature):
        raise InvalidVote(
            REJECT_BAD_SIGNATURE,
            f"proposal h={proposal.height} r={proposal.round} "
            f"by {proposal.proposer.hex()}: signature does not verify",
        )


def check_quorum_indices(indices: Sequence[int], voting_set: VotingSet, what: str) -> int:
    """Check that `indices` name voters of `voting_set` in strictly increasing order
    and carry more than 2/3 of its weight; return that weight.

    The shared rule of certificates and finality proofs (`what` names the
    object in messages).

    Raises:
        InvalidVote: unknown-voter, duplicate-voter, unordered-signatures,
            insufficient-weight.
    """
    voters = voting_set.voters
    previous = -1
    weight = 0
    for index in indices:
        if index >= len(voters):
            raise InvalidVote(
                REJECT_UNKNOWN_VOTER,
                f"{what} voter index {index}, voting set has {len(voters)} voters",
            )
        if index == previous:
            raise InvalidVote(REJECT_DUPLICATE_VOTER, f"{what} lists voter {index} twice")
        if index < previous:
            raise InvalidVote(
                REJECT_UNORDERED_SIGNATURES,
                f"{what} voter index {index} after {previous}, expected increasing",
            )
        previous = index
        weight += voters[index].weight
    total = voting_set.total_weight
    if not is_quorum(weight, total):
        raise InvalidVote(
            REJECT_INSUFFICIENT_WEIGHT,
            f"{what} weight {weight} of {total}, expected more than 2/3",
        )
    return weight


def verify_certificate(
    certificate: Certificate,
    voting_set: VotingSet,
    chain_id: int,
    verifier: Verifier,
    *,
    expected_height: int | None = None,
    expected_block_hash: bytes | None = None,
) -> None:
    """Check that `certificate` holds valid precommits of more than 2/3 of the
    weight of `voting_set` (the voting set of the certified height).

    Cheap checks come first (height, block, indices, weight), signatures
    last. `expected_height` and `expected_block_hash`, when given, must
    match the certificate.
    Raises InvalidVote (wrong-height, wrong-block, nil-block, unknown-voter,
    duplicate-voter, unordered-signatures, insufficient-weight, bad-signature).
    """
    if expected_height is not None and certificate.height != expected_height:
        raise InvalidVote(
            REJECT_WRONG_HEIGHT,
            f"certificate height {certificate.height}, expected {expected_height}",
        )
    if expected_block_hash is not None and certificate.block_hash != expected_block_hash:
        raise InvalidVote(
            REJECT_WRONG_BLOCK,
            f"certificate for block {certificate.block_hash.hex()}, "
            f"expected {expected_block_hash.hex()}",
        )
    if certificate.block_hash == ZERO_HASH:
        raise InvalidVote(REJECT_NIL_BLOCK, "certificate for the nil block hash")
    check_quorum_indices(
        [commit.voter_index for commit in certificate.signatures], voting_set, "certificate"
    )
    voters = voting_set.voters
    message = compute_vote_signing_message(
        chain_id,
        VoteType.PRECOMMIT,
        certificate.height,
        certificate.round,
        certificate.block_hash,
    )
    for commit in certificate.signatures:
        if not verifier(voters[commit.voter_index].operator_key, message, commit.signature):
            raise InvalidVote(
                REJECT_BAD_SIGNATURE,
                f"certificate signature of voter {commit.voter_index} does not verify",
            )

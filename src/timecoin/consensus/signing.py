"""Signing votes and proposals, and building certificates.

A vote signs ``signing_message(DOMAIN_PREVOTE or DOMAIN_PRECOMMIT, chain_id,
encode((vote_type, height, round, block_hash)))``; a proposal signs
``signing_message(DOMAIN_PROPOSAL, chain_id, encode((height, round,
pol_round, block_hash, timestamp_ms)))``. The voter's key and the signature
are not covered. A certificate is a set of precommit signatures, so checking
it rebuilds the precommit message of its (height, round, block_hash).

The signing bytes, the signature checks and `verify_certificate` are defined
in `timecoin.chain.certificate` (the chain checks the certificates and
evidence that blocks carry) and re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable

from timecoin.chain.certificate import (
    check_vote_type,
    compute_proposal_signing_message,
    compute_vote_signing_message,
    encode_proposal_payload,
    encode_vote_payload,
    is_vote_type,
    verify_certificate,
    verify_proposal_signature,
    verify_vote_signature,
)
from timecoin.consensus.app import Signer
from timecoin.types import (
    Certificate,
    CommitSignature,
    Proposal,
    Vote,
    VoteType,
    VotingSet,
    is_quorum,
)

__all__ = [
    "build_certificate",
    "check_vote_type",
    "compute_proposal_signing_message",
    "compute_vote_signing_message",
    "encode_proposal_payload",
    "encode_vote_payload",
    "is_vote_type",
    "sign_proposal",
    "sign_vote",
    "verify_certificate",
    "verify_proposal_signature",
    "verify_vote_signature",
]


def sign_vote(
    signer: Signer, chain_id: int, vote_type: int, height: int, round: int, block_hash: bytes
) -> Vote:
    """A vote of `signer` for `block_hash` (ZERO_HASH for nil) at (height, round).

    Raises InvalidVote (bad-vote-type) when `vote_type` is not a vote type.
    """
    message = compute_vote_signing_message(chain_id, vote_type, height, round, block_hash)
    return Vote(
        vote_type=int(vote_type),
        height=height,
        round=round,
        block_hash=block_hash,
        voter=signer.public_key,
        signature=signer.sign(message),
    )


def sign_proposal(
    signer: Signer,
    chain_id: int,
    height: int,
    round: int,
    pol_round: int,
    block_hash: bytes,
    timestamp_ms: int,
) -> Proposal:
    """A proposal of `signer` for `block_hash` at (height, round) with proof-of-lock
    round `pol_round` (-1 for none) and block timestamp `timestamp_ms`."""
    message = compute_proposal_signing_message(
        chain_id, height, round, pol_round, block_hash, timestamp_ms
    )
    return Proposal(
        height=height,
        round=round,
        pol_round=pol_round,
        block_hash=block_hash,
        timestamp_ms=timestamp_ms,
        proposer=signer.public_key,
        signature=signer.sign(message),
    )


def build_certificate(
    height: int,
    round: int,
    block_hash: bytes,
    precommits: Iterable[tuple[int, Vote]],
    voting_set: VotingSet,
) -> Certificate:
    """The certificate of `block_hash` made of `precommits` ((voter_index, vote) pairs).

    Signatures are sorted by voter index, one per voter (the first given).
    The precommits must be verified votes for exactly (height, round,
    block_hash) whose weight is a quorum, as the vote keeper supplies them.
    Raises ValueError when they are not (a caller bug, never peer input).
    """
    by_index: dict[int, bytes] = {}
    for index, vote in precommits:
        if vote.vote_type != VoteType.PRECOMMIT or (vote.height, vote.round, vote.block_hash) != (
            height,
            round,
            block_hash,
        ):
            raise ValueError(f"vote {vote!r} is not a precommit for h={height} r={round}")
        if voting_set.voters[index].operator_key != vote.voter:
            raise ValueError(f"voter index {index} does not match vote key {vote.voter.hex()}")
        by_index.setdefault(index, vote.signature)
    weight = sum(voting_set.voters[i].weight for i in by_index)
    if not is_quorum(weight, voting_set.total_weight):
        raise ValueError(f"precommit weight {weight} of {voting_set.total_weight} is no quorum")
    signatures = [CommitSignature(voter_index=i, signature=by_index[i]) for i in sorted(by_index)]
    return Certificate(height=height, round=round, block_hash=block_hash, signatures=signatures)

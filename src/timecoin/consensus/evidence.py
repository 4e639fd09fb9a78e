"""Evidence of equivocation: two conflicting signed messages of one signer.

Two prevotes (or two precommits) of one voter for one height and round with
different block hashes, or two proposals of one proposer for one height and
round with different signed content, prove misbehaviour. The pair is stored
in canonical order (the message with the smaller encoding first), so one
misbehaviour has exactly one evidence encoding.

The checks (`check_conflicting_votes`, `check_conflicting_proposals`,
`verify_evidence`) are defined in `timecoin.chain.evidence`, because the
chain verifies the evidence that blocks carry, and are re-exported here;
this module builds the canonical pairs the vote keeper detects.
"""

from __future__ import annotations

from timecoin.chain.evidence import (
    check_conflicting_proposals,
    check_conflicting_votes,
    get_evidence_height,
    get_evidence_signer,
    verify_evidence,
)
from timecoin.encoding import encode
from timecoin.types import DuplicateProposalEvidence, DuplicateVoteEvidence, Proposal, Vote

__all__ = [
    "check_conflicting_proposals",
    "check_conflicting_votes",
    "get_evidence_height",
    "get_evidence_signer",
    "make_duplicate_proposal_evidence",
    "make_duplicate_vote_evidence",
    "verify_evidence",
]


def make_duplicate_vote_evidence(vote_a: Vote, vote_b: Vote) -> DuplicateVoteEvidence:
    """The canonical evidence of two conflicting votes, given in either order.

    Signatures are not checked (the machine passes verified votes).
    Raises InvalidVote (bad-vote-type, evidence-mismatch, not-conflicting)
    when the votes are no equivocation.
    """
    check_conflicting_votes(vote_a, vote_b)
    if encode(vote_b) < encode(vote_a):
        vote_a, vote_b = vote_b, vote_a
    return DuplicateVoteEvidence(vote_a=vote_a, vote_b=vote_b)


def make_duplicate_proposal_evidence(
    proposal_a: Proposal, proposal_b: Proposal
) -> DuplicateProposalEvidence:
    """The canonical evidence of two conflicting proposals, given in either order.

    Signatures are not checked (the machine passes verified proposals).
    Raises InvalidVote (evidence-mismatch, not-conflicting) when the
    proposals are no equivocation.
    """
    check_conflicting_proposals(proposal_a, proposal_b)
    if encode(proposal_b) < encode(proposal_a):
        proposal_a, proposal_b = proposal_b, proposal_a
    return DuplicateProposalEvidence(proposal_a=proposal_a, proposal_b=proposal_b)

"""Evidence of equivocation: two conflicting signed messages of one signer.

Two prevotes (or two precommits) of one voter for one height and round with
different block hashes, or two proposals of one proposer for one height and
round with different signed content, prove misbehaviour; so do two
transaction votes of one voter in one epoch for different transactions
spending one outpoint (`TxVoteEquivocationEvidence`, docs/spec/finality.md). The pair is stored
in canonical order (the message with the smaller encoding first), so one
misbehaviour has exactly one evidence encoding.

The chain checks the evidence a block carries with `verify_evidence`; the
block rules that decide which evidence a block may carry (height window,
duplicates) are in `timecoin.chain.validate`.
"""

from __future__ import annotations

from timecoin.chain.certificate import (
    Verifier,
    check_vote_type,
    encode_proposal_payload,
    verify_proposal_signature,
    verify_vote_signature,
)
from timecoin.chain.errors import (
    REJECT_BAD_BRANCH,
    REJECT_EVIDENCE_MISMATCH,
    REJECT_NON_CANONICAL_EVIDENCE,
    REJECT_NOT_CONFLICTING,
    REJECT_UNKNOWN_VOTER,
)
from timecoin.chain.finality import is_input_proof_valid, verify_tx_vote
from timecoin.encoding import encode
from timecoin.params import ChainParams
from timecoin.types import (
    DuplicateVoteEvidence,
    Evidence,
    InvalidVote,
    Proposal,
    TxVoteEquivocationEvidence,
    Vote,
    Voter,
    VotingSet,
)

__all__ = [
    "check_conflicting_proposals",
    "check_conflicting_tx_votes",
    "check_conflicting_votes",
    "get_evidence_height",
    "get_evidence_signer",
    "verify_evidence",
]


def _proposal_payload(proposal: Proposal) -> bytes:
    return encode_proposal_payload(
        proposal.height,
        proposal.round,
        proposal.pol_round,
        proposal.block_hash,
        proposal.timestamp_ms,
    )


def get_evidence_height(evidence: Evidence, params: ChainParams | None = None) -> int:
    """The height of the messages in `evidence` (that of its first message).

    Transaction votes have an epoch, not a height: for
    `TxVoteEquivocationEvidence` this is the first height of the votes'
    epoch, which needs `params` (ValueError without them).
    """
    if isinstance(evidence, DuplicateVoteEvidence):
        return evidence.vote_a.height
    if isinstance(evidence, TxVoteEquivocationEvidence):
        if params is None:
            raise ValueError("the height of transaction-vote evidence needs the chain params")
        return evidence.vote_a.epoch * params.epoch_length
    return evidence.proposal_a.height


def get_evidence_signer(evidence: Evidence) -> bytes:
    """The operator key that signed the first message of `evidence`."""
    if isinstance(evidence, DuplicateVoteEvidence):
        return evidence.vote_a.voter
    if isinstance(evidence, TxVoteEquivocationEvidence):
        return evidence.vote_a.voter
    return evidence.proposal_a.proposer


def check_conflicting_tx_votes(evidence: TxVoteEquivocationEvidence) -> None:
    """Check, without signatures, that two transaction votes are an
    equivocation: same voter and epoch, different txids, and each input
    branch shows `evidence.outpoint` among the inputs of its vote's leaf.

    Raises InvalidVote (evidence-mismatch, not-conflicting, bad-branch).
    """
    vote_a, vote_b = evidence.vote_a, evidence.vote_b
    if (vote_a.voter, vote_a.epoch) != (vote_b.voter, vote_b.epoch):
        raise InvalidVote(
            REJECT_EVIDENCE_MISMATCH,
            f"tx votes differ in voter or epoch: epoch {vote_a.epoch} vs {vote_b.epoch}",
        )
    if vote_a.txid == vote_b.txid:
        raise InvalidVote(REJECT_NOT_CONFLICTING, "both tx votes are for the same transaction")
    outpoint = evidence.outpoint
    for name, vote, proof in (("a", vote_a, evidence.input_a), ("b", vote_b, evidence.input_b)):
        if not is_input_proof_valid(vote.inputs_root, outpoint, proof):
            raise InvalidVote(
                REJECT_BAD_BRANCH,
                f"tx vote {name}: input branch does not show "
                f"{outpoint.txid.hex()}:{outpoint.index} among its inputs",
            )


def check_conflicting_votes(vote_a: Vote, vote_b: Vote) -> None:
    """Check, without signatures, that two votes are an equivocation: same
    voter, type, height and round, different block hashes.

    Raises InvalidVote (bad-vote-type, evidence-mismatch, not-conflicting).
    """
    check_vote_type(vote_a.vote_type)
    same = (vote_a.voter, vote_a.vote_type, vote_a.height, vote_a.round) == (
        vote_b.voter,
        vote_b.vote_type,
        vote_b.height,
        vote_b.round,
    )
    if not same:
        raise InvalidVote(
            REJECT_EVIDENCE_MISMATCH,
            "votes differ in voter, type, height or round: "
            f"({vote_a.vote_type}, {vote_a.height}, {vote_a.round}) vs "
            f"({vote_b.vote_type}, {vote_b.height}, {vote_b.round})",
        )
    if vote_a.block_hash == vote_b.block_hash:
        raise InvalidVote(REJECT_NOT_CONFLICTING, "both votes are for the same block")


def check_conflicting_proposals(proposal_a: Proposal, proposal_b: Proposal) -> None:
    """Check, without signatures, that two proposals are an equivocation: same
    proposer, height and round, different signed content.

    Raises InvalidVote (evidence-mismatch, not-conflicting).
    """
    same = (proposal_a.proposer, proposal_a.height, proposal_a.round) == (
        proposal_b.proposer,
        proposal_b.height,
        proposal_b.round,
    )
    if not same:
        raise InvalidVote(
            REJECT_EVIDENCE_MISMATCH,
            "proposals differ in proposer, height or round: "
            f"({proposal_a.height}, {proposal_a.round}) vs "
            f"({proposal_b.height}, {proposal_b.round})",
        )
    if _proposal_payload(proposal_a) == _proposal_payload(proposal_b):
        raise InvalidVote(REJECT_NOT_CONFLICTING, "both proposals sign the same content")


def verify_evidence(
    evidence: Evidence, voting_set: VotingSet, chain_id: int, verifier: Verifier
) -> Voter:
    """Check that `evidence` proves an equivocation by a member of `voting_set`
    (the voting set of the evidence's height); return that member.

    Checks, cheap first: the pair conflicts, it is in canonical order, the
    signer is a voter, both signatures (and, for transaction votes, both
    merkle branches) verify.

    Parameters:
        evidence: the evidence, as decoded.
        voting_set: the voting set of `get_evidence_height(evidence)` (for
            transaction votes, of the votes' epoch).
        chain_id: the network's chain id (part of the signed messages).
        verifier: the consensus signature rule.

    Raises:
        InvalidVote: bad-vote-type, evidence-mismatch, not-conflicting,
            non-canonical-evidence, unknown-voter, bad-branch, bad-signature.
    """
    if isinstance(evidence, DuplicateVoteEvidence):
        check_conflicting_votes(evidence.vote_a, evidence.vote_b)
        first, second = encode(evidence.vote_a), encode(evidence.vote_b)
    elif isinstance(evidence, TxVoteEquivocationEvidence):
        check_conflicting_tx_votes(evidence)
        first, second = encode(evidence.vote_a), encode(evidence.vote_b)
    else:
        check_conflicting_proposals(evidence.proposal_a, evidence.proposal_b)
        first, second = encode(evidence.proposal_a), encode(evidence.proposal_b)
    if not first < second:
        raise InvalidVote(
            REJECT_NON_CANONICAL_EVIDENCE, "evidence pair is not in ascending encoding order"
        )
    signer = get_evidence_signer(evidence)
    index = voting_set.index_of(signer)
    if index is None:
        raise InvalidVote(REJECT_UNKNOWN_VOTER, f"evidence signer {signer.hex()} is no voter")
    if isinstance(evidence, DuplicateVoteEvidence):
        verify_vote_signature(evidence.vote_a, chain_id, verifier)
        verify_vote_signature(evidence.vote_b, chain_id, verifier)
    elif isinstance(evidence, TxVoteEquivocationEvidence):
        if evidence.vote_a.epoch != voting_set.epoch:
            raise InvalidVote(
                REJECT_EVIDENCE_MISMATCH,
                f"tx votes of epoch {evidence.vote_a.epoch}, voting set of epoch "
                f"{voting_set.epoch}",
            )
        verify_tx_vote(evidence.vote_a, chain_id, verifier)
        verify_tx_vote(evidence.vote_b, chain_id, verifier)
    else:
        verify_proposal_signature(evidence.proposal_a, chain_id, verifier)
        verify_proposal_signature(evidence.proposal_b, chain_id, verifier)
    return voting_set.voters[index]

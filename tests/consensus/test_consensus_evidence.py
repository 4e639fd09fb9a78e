"""Equivocation evidence: detection as messages arrive, canonical pairs, verification."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest
from consensus_harness import (
    CHAIN_ID,
    GENESIS_TS,
    PARAMS,
    Single,
    block_for,
    find_seed,
    make_keys,
    make_single,
    make_voting_set,
    of_type,
    precommit,
    prevote,
    propose,
    proposer_of,
)

from timecoin.consensus import (
    RecordEvidence,
    make_duplicate_proposal_evidence,
    make_duplicate_vote_evidence,
    verify_evidence,
)
from timecoin.crypto import SigningKey, sha256, verify
from timecoin.encoding import encode
from timecoin.types import (
    ZERO_HASH,
    DuplicateProposalEvidence,
    DuplicateVoteEvidence,
    InvalidVote,
    Vote,
)

VoteMaker = Callable[[SigningKey, int, int, bytes], Vote]
NOW = GENESIS_TS + PARAMS.block_interval_ms
KEYS = make_keys(4)
VOTING_SET = make_voting_set(KEYS, (1, 1, 1, 1))
A = sha256(b"a")
B = sha256(b"b")


def started() -> Single:
    probe = make_single()
    single = make_single(seed=find_seed(probe.voting_set, lambda p0, p1: p0 != 0))
    single.machine.on_start(NOW)
    return single


@pytest.mark.parametrize("make_vote", [prevote, precommit])
def test_conflicting_votes_yield_evidence_once(make_vote: VoteMaker) -> None:
    single = started()
    machine = single.machine
    first = make_vote(single.keys[2], 1, 0, A)
    second = make_vote(single.keys[2], 1, 0, B)
    assert of_type(machine.on_vote(first, NOW), RecordEvidence) == []
    [record] = of_type(machine.on_vote(second, NOW), RecordEvidence)
    assert record.evidence == make_duplicate_vote_evidence(first, second)
    verify_evidence(record.evidence, single.voting_set, CHAIN_ID, verify)
    assert (
        of_type(machine.on_vote(make_vote(single.keys[2], 1, 0, ZERO_HASH), NOW), RecordEvidence)
        == []
    )


def test_votes_of_different_rounds_or_types_are_no_evidence() -> None:
    single = started()
    machine = single.machine
    effects = machine.on_vote(prevote(single.keys[2], 1, 0, A), NOW)
    effects += machine.on_vote(precommit(single.keys[2], 1, 0, B), NOW)
    effects += machine.on_vote(prevote(single.keys[2], 1, 1, B), NOW)
    assert of_type(effects, RecordEvidence) == []


def test_conflicting_proposals_yield_evidence() -> None:
    single = started()
    index = proposer_of(single.voting_set, 1, 0, single.machine.context.proposer_seed)
    block_a = block_for(1, 0, NOW, b"a")
    block_b = block_for(1, 0, NOW, b"b")
    prop_a = propose(single.keys[index], block_a)
    prop_b = propose(single.keys[index], block_b)
    assert of_type(single.machine.on_proposal(prop_a, block_a, NOW), RecordEvidence) == []
    [record] = of_type(single.machine.on_proposal(prop_b, block_b, NOW), RecordEvidence)
    assert isinstance(record.evidence, DuplicateProposalEvidence)
    assert record.evidence == make_duplicate_proposal_evidence(prop_b, prop_a)
    verify_evidence(record.evidence, single.voting_set, CHAIN_ID, verify)
    # the same proposal again is a duplicate, not new evidence
    assert single.machine.on_proposal(prop_b, block_b, NOW) == []


def test_evidence_pair_is_canonical_whatever_the_order() -> None:
    a = prevote(KEYS[1], 4, 2, A)
    b = prevote(KEYS[1], 4, 2, B)
    one, two = make_duplicate_vote_evidence(a, b), make_duplicate_vote_evidence(b, a)
    assert one == two and encode(one) == encode(two)
    assert encode(one.vote_a) < encode(one.vote_b)


def _vote_evidence() -> DuplicateVoteEvidence:
    return make_duplicate_vote_evidence(precommit(KEYS[1], 4, 2, A), precommit(KEYS[1], 4, 2, B))


@pytest.mark.parametrize(
    ("build", "code"),
    [
        (
            lambda e: DuplicateVoteEvidence(vote_a=e.vote_b, vote_b=e.vote_a),
            "non-canonical-evidence",
        ),
        (
            lambda e: msgspec.structs.replace(
                e, vote_b=msgspec.structs.replace(e.vote_b, signature=e.vote_a.signature)
            ),
            "bad-signature",
        ),
        (
            lambda e: DuplicateVoteEvidence(vote_a=e.vote_a, vote_b=e.vote_a),
            "not-conflicting",
        ),
        (
            lambda e: make_duplicate_vote_evidence(
                precommit(KEYS[1], 4, 2, A), precommit(KEYS[2], 4, 2, B)
            ),
            "evidence-mismatch",
        ),
        (
            lambda e: make_duplicate_vote_evidence(
                precommit(KEYS[1], 4, 2, A), precommit(KEYS[1], 4, 3, B)
            ),
            "evidence-mismatch",
        ),
        (
            lambda e: make_duplicate_vote_evidence(
                precommit(make_keys(6)[5], 4, 2, A), precommit(make_keys(6)[5], 4, 2, B)
            ),
            "unknown-voter",
        ),
    ],
)
def test_invalid_vote_evidence_is_rejected(
    build: Callable[[DuplicateVoteEvidence], DuplicateVoteEvidence], code: str
) -> None:
    with pytest.raises(InvalidVote) as info:
        verify_evidence(build(_vote_evidence()), VOTING_SET, CHAIN_ID, verify)
    assert info.value.reject_code == code


def test_invalid_proposal_evidence_is_rejected() -> None:
    block_a, block_b = block_for(4, 2, NOW, b"a"), block_for(4, 2, NOW, b"b")
    prop_a = propose(KEYS[3], block_a)
    prop_b = propose(KEYS[3], block_b)
    evidence = make_duplicate_proposal_evidence(prop_a, prop_b)
    verify_evidence(evidence, VOTING_SET, CHAIN_ID, verify)
    swapped = DuplicateProposalEvidence(
        proposal_a=evidence.proposal_b, proposal_b=evidence.proposal_a
    )
    with pytest.raises(InvalidVote, match="non-canonical-evidence"):
        verify_evidence(swapped, VOTING_SET, CHAIN_ID, verify)
    flipped = bytearray(evidence.proposal_b.signature)
    flipped[0] ^= 1
    forged = msgspec.structs.replace(
        evidence,
        proposal_b=msgspec.structs.replace(evidence.proposal_b, signature=bytes(flipped)),
    )
    with pytest.raises(InvalidVote, match="bad-signature"):
        verify_evidence(forged, VOTING_SET, CHAIN_ID, verify)
    with pytest.raises(InvalidVote, match="not-conflicting"):
        make_duplicate_proposal_evidence(prop_a, prop_a)
    # a different pol_round for the same block is also an equivocation
    other_pol = propose(KEYS[3], block_a, pol_round=1)
    verify_evidence(
        make_duplicate_proposal_evidence(prop_a, other_pol), VOTING_SET, CHAIN_ID, verify
    )

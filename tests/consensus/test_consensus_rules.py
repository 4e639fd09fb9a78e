"""Algorithm 1, rule by rule, on one machine fed hand-made messages.

Node 0 is the machine under test; nodes 1-3 are peers whose keys sign the
messages. Every test names the line(s) of Algorithm 1 it checks.
"""

from __future__ import annotations

import pytest
from consensus_harness import (
    GENESIS_TS,
    PARAMS,
    Single,
    ToyBlock,
    block_for,
    broadcast_proposals,
    broadcast_votes,
    find_seed,
    hash_of,
    make_single,
    of_type,
    precommit,
    prevote,
    propose,
    proposer_of,
)

from timecoin.consensus import (
    CommitBlock,
    Effect,
    ScheduleTimeout,
    Step,
    TimeoutStep,
    compute_timeout_ms,
    verify_certificate,
)
from timecoin.consensus.limits import MAX_ROUNDS_AHEAD
from timecoin.crypto import verify
from timecoin.types import ZERO_HASH, InvalidVote, Vote, VoteType

EARLIEST = GENESIS_TS + PARAMS.block_interval_ms
NOW = EARLIEST


def observer(weights: tuple[int, ...] = (1, 1, 1, 1)) -> Single:
    """A started machine that proposes in neither round 0 nor round 1."""
    keys_probe = make_single(weights)
    seed = find_seed(keys_probe.voting_set, lambda p0, p1: p0 != 0 and p1 != 0 and p0 != p1)
    single = make_single(weights, seed=seed)
    single.feed(single.machine.on_start(NOW))
    return single


def proposer_single(weights: tuple[int, ...] = (1, 1, 1, 1)) -> Single:
    """A machine (not started) that proposes in round 0 but not in round 1."""
    probe = make_single(weights)
    seed = find_seed(probe.voting_set, lambda p0, p1: p0 == 0 and p1 != 0)
    return make_single(weights, seed=seed)


def round_block(single: Single, round: int, ts: int = NOW, payload: bytes = b"") -> ToyBlock:
    return block_for(1, round, ts, author=f"r{round}".encode(), payload=payload)


def deliver_proposal(
    single: Single, block: ToyBlock, round: int, pol_round: int = -1, now: int = NOW
) -> list[Effect]:
    index = proposer_of(single.voting_set, 1, round, single.machine.context.proposer_seed)
    proposal = propose(single.keys[index], block, round=round, pol_round=pol_round)
    return single.feed(single.machine.on_proposal(proposal, block, now))


def deliver_prevotes(
    single: Single, voters: list[int], round: int, block_hash: bytes
) -> list[Effect]:
    out: list[Effect] = []
    for i in voters:
        out += single.feed(
            single.machine.on_vote(prevote(single.keys[i], 1, round, block_hash), NOW)
        )
    return out


def deliver_precommits(
    single: Single, voters: list[int], round: int, block_hash: bytes
) -> list[Effect]:
    out: list[Effect] = []
    for i in voters:
        out += single.feed(
            single.machine.on_vote(precommit(single.keys[i], 1, round, block_hash), NOW)
        )
    return out


def own_votes(effects: list[Effect], vote_type: VoteType) -> list[Vote]:
    return [v for v in broadcast_votes(effects) if v.vote_type == vote_type]


def lock_on(single: Single, block: ToyBlock, round: int = 0) -> None:
    """Drive the machine to lock on `block` in `round` (lines 22-41)."""
    deliver_proposal(single, block, round)
    deliver_prevotes(single, [1, 2], round, hash_of(block))
    assert single.machine.locked_round == round
    assert single.machine.locked_hash == hash_of(block)


def advance_to_round(single: Single, round: int) -> None:
    """Line 55: f + 1 nil precommits of `round` move the machine there."""
    deliver_precommits(single, [1, 2], round, ZERO_HASH)
    assert single.machine.round == round


# ---------------------------------------------------------------- StartRound


def test_line_14_19_proposer_proposes_at_start_with_timestamp_max_now_earliest() -> None:
    single = proposer_single()
    effects = single.feed(single.machine.on_start(NOW + 70))
    [proposal] = broadcast_proposals(effects)
    assert (proposal.height, proposal.round, proposal.pol_round) == (1, 0, -1)
    assert proposal.timestamp_ms == NOW + 70
    assert single.app.build_calls == [(1, 0, NOW + 70)]


def test_line_14_proposer_waits_for_the_block_interval() -> None:
    single = proposer_single()
    effects = single.feed(single.machine.on_start(GENESIS_TS + 10))
    assert broadcast_proposals(effects) == []
    [timeout] = of_type(effects, ScheduleTimeout)
    assert timeout.step == TimeoutStep.BLOCK_INTERVAL and timeout.at_ms == EARLIEST
    assert single.machine.on_tick(EARLIEST - 1) == []
    effects = single.feed(single.machine.on_tick(EARLIEST))
    [proposal] = broadcast_proposals(effects)
    assert proposal.timestamp_ms == EARLIEST


def test_line_19_proposal_persisted_before_broadcast_then_line_22_own_prevote() -> None:
    single = proposer_single()
    effects = single.machine.on_start(NOW)
    kinds = [type(e).__name__ for e in effects]
    assert kinds[:2] == ["PersistWal", "Broadcast"]
    [vote] = own_votes(effects, VoteType.PREVOTE)
    [proposal] = broadcast_proposals(effects)
    assert vote.block_hash == proposal.block_hash
    assert kinds.index("PersistWal", 2) < len(kinds)


def test_line_21_non_proposer_schedules_timeout_propose_after_block_interval() -> None:
    single = make_single(seed=find_seed(make_single().voting_set, lambda p0, p1: p0 != 0))
    effects = single.machine.on_start(GENESIS_TS + 5)
    [timeout] = of_type(effects, ScheduleTimeout)
    assert timeout.step == TimeoutStep.PROPOSE
    assert timeout.at_ms == EARLIEST + PARAMS.timeout_propose_ms


def test_line_18_proposer_without_a_block_waits_like_the_others() -> None:
    single = proposer_single()
    single.app.refuse_to_build = True
    effects = single.machine.on_start(NOW)
    assert broadcast_proposals(effects) == []
    [timeout] = of_type(effects, ScheduleTimeout)
    assert timeout.step == TimeoutStep.PROPOSE


# ----------------------------------------------------------- lines 22 to 33


def test_line_22_24_prevote_for_a_valid_timely_proposal() -> None:
    single = observer()
    block = round_block(single, 0)
    effects = deliver_proposal(single, block, 0)
    [vote] = own_votes(effects, VoteType.PREVOTE)
    assert vote.block_hash == hash_of(block) and vote.round == 0
    assert single.machine.step == Step.PREVOTE


def test_line_23_26_prevote_nil_for_an_invalid_proposal() -> None:
    single = observer()
    block = round_block(single, 0)
    single.app.invalid.add(hash_of(block))
    [vote] = own_votes(deliver_proposal(single, block, 0), VoteType.PREVOTE)
    assert vote.block_hash == ZERO_HASH


def test_line_23_26_prevote_nil_for_a_timestamp_before_the_block_interval() -> None:
    single = observer()
    block = round_block(single, 0, ts=EARLIEST - 1)
    [vote] = own_votes(deliver_proposal(single, block, 0), VoteType.PREVOTE)
    assert vote.block_hash == ZERO_HASH


def test_line_23_26_prevote_nil_for_a_timestamp_beyond_the_drift() -> None:
    single = observer()
    late = round_block(single, 0, ts=NOW + PARAMS.max_timestamp_drift_ms + 1)
    [vote] = own_votes(deliver_proposal(single, late, 0), VoteType.PREVOTE)
    assert vote.block_hash == ZERO_HASH


def test_line_23_24_timestamp_exactly_at_the_drift_bound_is_timely() -> None:
    single = observer()
    edge = round_block(single, 0, ts=NOW + PARAMS.max_timestamp_drift_ms)
    [vote] = own_votes(deliver_proposal(single, edge, 0), VoteType.PREVOTE)
    assert vote.block_hash == hash_of(edge)


def test_line_22_prevote_nil_when_locked_on_other_value() -> None:
    single = observer()
    locked = round_block(single, 0)
    lock_on(single, locked, 0)
    advance_to_round(single, 1)
    other = round_block(single, 1)
    [vote] = own_votes(deliver_proposal(single, other, 1), VoteType.PREVOTE)
    assert vote.block_hash == ZERO_HASH


def test_line_23_prevote_locked_value_when_proposed_again_without_pol() -> None:
    single = observer()
    locked = round_block(single, 0)
    lock_on(single, locked, 0)
    advance_to_round(single, 1)
    [vote] = own_votes(deliver_proposal(single, locked, 1), VoteType.PREVOTE)
    assert vote.block_hash == hash_of(locked)


def test_line_28_30_prevote_value_with_pol_round_at_or_after_lock() -> None:
    """Locked on A in round 0; B has a quorum of prevotes in round 1 (vr = 1 >= lockedRound)."""
    single = observer()
    block_a = round_block(single, 0)
    lock_on(single, block_a, 0)
    advance_to_round(single, 1)
    block_b = round_block(single, 1)
    deliver_prevotes(single, [1, 2, 3], 1, hash_of(block_b))
    advance_to_round(single, 2)
    [vote] = own_votes(deliver_proposal(single, block_b, 2, pol_round=1), VoteType.PREVOTE)
    assert vote.block_hash == hash_of(block_b)


def test_line_29_32_prevote_nil_when_locked_after_the_pol_round() -> None:
    """Locked on B in round 1; a proposal of A with vr = 0 < lockedRound is refused."""
    single = observer()
    block_a = round_block(single, 0)
    deliver_prevotes(single, [1, 2, 3], 0, hash_of(block_a))
    advance_to_round(single, 1)
    block_b = round_block(single, 1)
    lock_on(single, block_b, 1)
    advance_to_round(single, 2)
    [vote] = own_votes(deliver_proposal(single, block_a, 2, pol_round=0), VoteType.PREVOTE)
    assert vote.block_hash == ZERO_HASH


def test_line_28_waits_for_the_pol_quorum_before_prevoting() -> None:
    single = observer()
    advance_to_round(single, 1)
    block = round_block(single, 0)
    effects = deliver_proposal(single, block, 1, pol_round=0)
    assert own_votes(effects, VoteType.PREVOTE) == []
    assert single.machine.step == Step.PROPOSE
    effects = deliver_prevotes(single, [1, 2, 3], 0, hash_of(block))
    [vote] = own_votes(effects, VoteType.PREVOTE)
    assert vote.round == 1 and vote.block_hash == hash_of(block)


def test_line_28_29_old_timestamp_is_not_checked_for_timeliness() -> None:
    """A re-proposed value keeps its old timestamp; only valid(v) matters at line 29."""
    single = observer()
    block = round_block(single, 0, ts=NOW)
    deliver_prevotes(single, [1, 2, 3], 0, hash_of(block))
    advance_to_round(single, 1)
    later = NOW + 10 * PARAMS.max_timestamp_drift_ms
    index = proposer_of(single.voting_set, 1, 1, single.machine.context.proposer_seed)
    proposal = propose(single.keys[index], block, round=1, pol_round=0)
    effects = single.machine.on_proposal(proposal, block, later)
    [vote] = own_votes(effects, VoteType.PREVOTE)
    assert vote.block_hash == hash_of(block)


# ----------------------------------------------------------- lines 34 to 48


def test_line_34_35_mixed_prevote_quorum_schedules_timeout_prevote() -> None:
    single = observer()
    block = round_block(single, 0)
    deliver_proposal(single, block, 0)
    effects = deliver_prevotes(single, [1], 0, hash_of(block)) + deliver_prevotes(
        single, [2], 0, ZERO_HASH
    )
    [timeout] = of_type(effects, ScheduleTimeout)
    assert timeout.step == TimeoutStep.PREVOTE
    assert timeout.at_ms == NOW + compute_timeout_ms(PARAMS, TimeoutStep.PREVOTE, 0)


def test_line_61_64_timeout_prevote_precommits_nil() -> None:
    single = observer()
    block = round_block(single, 0)
    deliver_proposal(single, block, 0)
    deliver_prevotes(single, [1], 0, hash_of(block))
    effects = deliver_prevotes(single, [2], 0, ZERO_HASH)
    [timeout] = of_type(effects, ScheduleTimeout)
    effects = single.machine.on_tick(timeout.at_ms)
    [vote] = own_votes(effects, VoteType.PRECOMMIT)
    assert vote.block_hash == ZERO_HASH
    assert single.machine.step == Step.PRECOMMIT


def test_line_36_41_quorum_of_prevotes_locks_and_precommits() -> None:
    single = observer()
    block = round_block(single, 0)
    deliver_proposal(single, block, 0)
    effects = deliver_prevotes(single, [1, 2], 0, hash_of(block))
    [vote] = own_votes(effects, VoteType.PRECOMMIT)
    assert vote.block_hash == hash_of(block)
    assert single.machine.locked_round == 0 and single.machine.valid_round == 0
    assert single.machine.step == Step.PRECOMMIT


def test_line_36_prevote_quorum_waits_for_the_proposal_value() -> None:
    single = observer()
    block = round_block(single, 0)
    single.feed(single.machine.on_tick(EARLIEST + PARAMS.timeout_propose_ms))  # prevote nil
    effects = deliver_prevotes(single, [1, 2, 3], 0, hash_of(block))
    assert own_votes(effects, VoteType.PRECOMMIT) == []
    effects = deliver_proposal(single, block, 0)
    [vote] = own_votes(effects, VoteType.PRECOMMIT)
    assert vote.block_hash == hash_of(block)


def test_line_42_43_valid_value_updated_in_precommit_step_without_locking() -> None:
    """Already precommitted nil (line 63); a later prevote quorum for v only
    updates validValue/validRound (lines 42-43), no lock, no second precommit."""
    single = observer()
    block = round_block(single, 0)
    single.feed(single.machine.on_tick(EARLIEST + PARAMS.timeout_propose_ms))  # prevote nil
    deliver_proposal(single, block, 0)
    effects = deliver_prevotes(single, [1, 2], 0, hash_of(block))
    [timeout] = of_type(effects, ScheduleTimeout)
    effects = single.machine.on_tick(timeout.at_ms)  # line 63: precommit nil
    assert [v.block_hash for v in own_votes(effects, VoteType.PRECOMMIT)] == [ZERO_HASH]
    effects = deliver_prevotes(single, [3], 0, hash_of(block))
    assert own_votes(effects, VoteType.PRECOMMIT) == []
    assert single.machine.valid_round == 0 and single.machine.valid_hash == hash_of(block)
    assert single.machine.locked_round == -1


def test_line_44_46_quorum_of_nil_prevotes_precommits_nil() -> None:
    single = observer()
    single.feed(single.machine.on_tick(EARLIEST + PARAMS.timeout_propose_ms))
    effects = deliver_prevotes(single, [1, 2], 0, ZERO_HASH)
    [vote] = own_votes(effects, VoteType.PRECOMMIT)
    assert vote.block_hash == ZERO_HASH
    assert single.machine.locked_round == -1


def test_line_47_48_and_65_67_precommit_quorum_then_timeout_starts_next_round() -> None:
    single = observer()
    single.feed(single.machine.on_tick(EARLIEST + PARAMS.timeout_propose_ms))
    deliver_prevotes(single, [1, 2], 0, ZERO_HASH)
    effects = deliver_precommits(single, [1, 2], 0, ZERO_HASH)
    [timeout] = of_type(effects, ScheduleTimeout)
    assert timeout.step == TimeoutStep.PRECOMMIT
    assert timeout.at_ms == NOW + compute_timeout_ms(PARAMS, TimeoutStep.PRECOMMIT, 0)
    effects = single.machine.on_tick(timeout.at_ms)
    assert single.machine.round == 1 and single.machine.step == Step.PROPOSE
    [propose_timeout] = of_type(effects, ScheduleTimeout)
    assert propose_timeout.round == 1


# ----------------------------------------------------------- lines 49 to 54


def test_line_49_51_quorum_of_precommits_commits_with_certificate() -> None:
    single = observer()
    block = round_block(single, 0)
    deliver_proposal(single, block, 0)
    deliver_prevotes(single, [1, 2], 0, hash_of(block))
    effects = deliver_precommits(single, [1, 2], 0, hash_of(block))
    [commit] = of_type(effects, CommitBlock)
    assert commit.height == 1 and commit.block_value == block
    cert = commit.certificate
    assert [s.voter_index for s in cert.signatures] == [0, 1, 2]
    verify_certificate(cert, single.voting_set, PARAMS.chain_id, verify, expected_height=1)
    assert single.machine.is_decided
    assert single.machine.on_tick(NOW + 100_000) == []


def test_line_49_commit_from_an_earlier_round() -> None:
    single = observer()
    block = round_block(single, 0)
    deliver_proposal(single, block, 0)
    advance_to_round(single, 2)
    effects = deliver_precommits(single, [1, 2, 3], 0, hash_of(block))
    [commit] = of_type(effects, CommitBlock)
    assert commit.certificate.round == 0
    assert [s.voter_index for s in commit.certificate.signatures] == [1, 2, 3]


def test_line_50_no_commit_of_an_invalid_value() -> None:
    single = observer()
    block = round_block(single, 0)
    single.app.invalid.add(hash_of(block))
    deliver_proposal(single, block, 0)
    effects = deliver_precommits(single, [1, 2, 3], 0, hash_of(block))
    assert of_type(effects, CommitBlock) == []


def test_line_49_weighted_quorum_one_heavy_voter() -> None:
    """Weights (1, 100, 1, 1): voter 1 alone holds more than 2/3."""
    single = observer(weights=(1, 100, 1, 1))
    block = round_block(single, 0)
    deliver_proposal(single, block, 0)
    effects = deliver_precommits(single, [1], 0, hash_of(block))
    [commit] = of_type(effects, CommitBlock)
    assert [s.voter_index for s in commit.certificate.signatures] == [1]


def test_line_49_weight_two_thirds_exactly_is_not_a_quorum() -> None:
    """Weights (1, 1, 1, 3): 4 of 6 is exactly 2/3, not more."""
    single = observer(weights=(1, 1, 1, 3))
    block = round_block(single, 0)
    deliver_proposal(single, block, 0)
    assert of_type(deliver_precommits(single, [3, 1], 0, hash_of(block)), CommitBlock) == []
    assert of_type(deliver_precommits(single, [2], 0, hash_of(block)), CommitBlock) != []


# ----------------------------------------------------------- lines 55 to 67


def test_line_55_56_jump_on_more_than_one_third_from_a_higher_round() -> None:
    single = observer()
    deliver_prevotes(single, [1], 3, ZERO_HASH)
    assert single.machine.round == 0
    effects = deliver_precommits(single, [2], 3, ZERO_HASH)
    assert single.machine.round == 3
    started = [t.round for t in of_type(effects, ScheduleTimeout)]
    started += [p.round for p in broadcast_proposals(effects)]
    assert started == [3]  # StartRound(3): a propose timeout, or our proposal


def test_line_55_proposal_counts_as_a_message_of_its_round() -> None:
    single = observer()
    seed = single.machine.context.proposer_seed
    proposer = proposer_of(single.voting_set, 1, 2, seed)
    other = next(i for i in (1, 2, 3) if i != proposer)
    deliver_proposal(single, round_block(single, 2), 2)
    assert single.machine.round == 0
    deliver_prevotes(single, [other], 2, ZERO_HASH)
    assert single.machine.round == 2


def test_line_55_weight_one_third_exactly_does_not_jump() -> None:
    """Weights (2, 1, 1, 2) total 6: voters 1 and 2 hold 2 = 1/3, not more."""
    single = observer(weights=(2, 1, 1, 2))
    deliver_prevotes(single, [1, 2], 5, ZERO_HASH)
    assert single.machine.round == 0


def test_line_55_far_ahead_votes_jump_without_being_stored() -> None:
    single = observer()
    far = MAX_ROUNDS_AHEAD + 40
    deliver_prevotes(single, [1, 2], far, ZERO_HASH)
    assert single.machine.round == far


def test_line_57_60_timeout_propose_prevotes_nil() -> None:
    single = observer()
    at = EARLIEST + PARAMS.timeout_propose_ms
    assert single.machine.on_tick(at - 1) == []
    effects = single.machine.on_tick(at)
    [vote] = own_votes(effects, VoteType.PREVOTE)
    assert vote.block_hash == ZERO_HASH
    assert single.machine.step == Step.PREVOTE


def test_line_58_stale_timeout_of_an_old_round_is_ignored() -> None:
    single = observer()
    advance_to_round(single, 1)
    effects = single.machine.on_tick(EARLIEST + PARAMS.timeout_propose_ms)
    assert own_votes(effects, VoteType.PREVOTE) == []
    assert single.machine.step == Step.PROPOSE


def test_line_15_16_proposer_proposes_its_valid_value_with_valid_round() -> None:
    """Round 0: value A gets a prevote quorum (valid, locked); round 1 proposer is us."""
    probe = make_single()
    seed = find_seed(probe.voting_set, lambda p0, p1: p0 != 0 and p1 == 0)
    single = make_single(seed=seed)
    single.feed(single.machine.on_start(NOW))
    block = round_block(single, 0)
    lock_on(single, block, 0)
    deliver_precommits(single, [1, 2], 0, ZERO_HASH)
    effects = single.machine.on_tick(NOW + compute_timeout_ms(PARAMS, TimeoutStep.PRECOMMIT, 0))
    [proposal] = broadcast_proposals(effects)
    assert proposal.round == 1 and proposal.pol_round == 0
    assert proposal.block_hash == hash_of(block)
    assert proposal.timestamp_ms == block.timestamp_ms
    [vote] = own_votes(effects, VoteType.PREVOTE)
    assert vote.block_hash == hash_of(block)


# ---------------------------------------------------- bad and bounded input


def test_unknown_voter_is_rejected() -> None:
    single = observer()
    from consensus_harness import make_keys

    stranger = make_keys(9)[8]
    with pytest.raises(InvalidVote) as info:
        single.machine.on_vote(prevote(stranger, 1, 0, ZERO_HASH), NOW)
    assert info.value.reject_code == "unknown-voter"


def test_bad_signature_is_rejected() -> None:
    single = observer()
    vote = prevote(single.keys[1], 1, 0, ZERO_HASH)
    forged = prevote(single.keys[2], 1, 0, ZERO_HASH)
    import msgspec

    tampered = msgspec.structs.replace(vote, signature=forged.signature)
    with pytest.raises(InvalidVote) as info:
        single.machine.on_vote(tampered, NOW)
    assert info.value.reject_code == "bad-signature"


def test_bad_vote_type_is_rejected() -> None:
    single = observer()
    import msgspec

    vote = msgspec.structs.replace(prevote(single.keys[1], 1, 0, ZERO_HASH), vote_type=3)
    with pytest.raises(InvalidVote) as info:
        single.machine.on_vote(vote, NOW)
    assert info.value.reject_code == "bad-vote-type"


def test_line_22_proposal_from_the_wrong_proposer_is_rejected() -> None:
    single = observer()
    block = round_block(single, 0)
    right = proposer_of(single.voting_set, 1, 0, single.machine.context.proposer_seed)
    wrong = next(i for i in (1, 2, 3) if i != right)
    with pytest.raises(InvalidVote) as info:
        single.machine.on_proposal(propose(single.keys[wrong], block, round=0), block, NOW)
    assert info.value.reject_code == "wrong-proposer"


def test_proposal_with_a_mismatching_block_is_rejected() -> None:
    single = observer()
    block = round_block(single, 0)
    right = proposer_of(single.voting_set, 1, 0, single.machine.context.proposer_seed)
    proposal = propose(single.keys[right], block, round=0)
    with pytest.raises(InvalidVote) as info:
        single.machine.on_proposal(proposal, round_block(single, 0, payload=b"other"), NOW)
    assert info.value.reject_code == "block-mismatch"


def test_line_28_proposal_with_pol_round_not_below_round_is_rejected() -> None:
    single = observer()
    block = round_block(single, 0)
    right = proposer_of(single.voting_set, 1, 0, single.machine.context.proposer_seed)
    with pytest.raises(InvalidVote) as info:
        single.machine.on_proposal(
            propose(single.keys[right], block, round=0, pol_round=0), block, NOW
        )
    assert info.value.reject_code == "bad-pol-round"


def test_repeated_vote_is_ignored_without_effects() -> None:
    single = observer()
    vote = prevote(single.keys[1], 1, 0, ZERO_HASH)
    single.machine.on_vote(vote, NOW)
    assert single.machine.on_vote(vote, NOW) == []


def test_votes_of_old_heights_are_dropped() -> None:
    single = observer()
    assert single.machine.on_vote(prevote(single.keys[1], 0, 0, ZERO_HASH), NOW) == []
    assert single.machine.on_vote(prevote(single.keys[1], 3, 0, ZERO_HASH), NOW) == []


def test_non_member_follows_and_commits_without_signing() -> None:
    single = make_single(with_signer=False)
    effects = single.feed(single.machine.on_start(NOW))
    block = round_block(single, 0)
    effects += deliver_proposal(single, block, 0)
    effects += deliver_prevotes(single, [1, 2, 3], 0, hash_of(block))
    effects += deliver_precommits(single, [1, 2, 3], 0, hash_of(block))
    assert broadcast_votes(effects) == [] and broadcast_proposals(effects) == []
    [commit] = of_type(effects, CommitBlock)
    assert commit.block_value == block
    assert single.machine.own_index is None

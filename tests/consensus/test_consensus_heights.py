"""Moving between heights: lines 49-54, next-height buffering, certificates from sync."""

from __future__ import annotations

import msgspec
import pytest
from consensus_harness import (
    GENESIS_TS,
    PARAMS,
    Single,
    block_for,
    broadcast_votes,
    find_seed,
    hash_of,
    make_context,
    make_keys,
    make_single,
    of_type,
    precommit,
    prevote,
    propose,
    proposer_of,
)

from timecoin.consensus import (
    CommitBlock,
    ConsensusMachine,
    Step,
    build_certificate,
)
from timecoin.consensus.limits import MAX_BUFFERED_VOTES
from timecoin.types import ZERO_HASH, InvalidVote, VoteType

NOW = GENESIS_TS + PARAMS.block_interval_ms


def started() -> Single:
    probe = make_single()
    seed = find_seed(probe.voting_set, lambda p0, p1: p0 != 0)
    single = make_single(seed=seed)
    single.machine.on_start(NOW)
    return single


def decide_height_1(single: Single) -> CommitBlock:
    block = block_for(1, 0, NOW)
    index = proposer_of(single.voting_set, 1, 0, single.machine.context.proposer_seed)
    single.machine.on_proposal(propose(single.keys[index], block), block, NOW)
    effects = []
    for i in (1, 2, 3):
        effects += single.machine.on_vote(precommit(single.keys[i], 1, 0, hash_of(block)), NOW)
    [commit] = of_type(effects, CommitBlock)
    return commit


def test_line_52_54_new_height_resets_state_and_starts_round_0() -> None:
    single = started()
    commit = decide_height_1(single)
    assert single.machine.last_commit == commit
    # messages of the decided height no longer matter
    assert single.machine.on_vote(prevote(single.keys[1], 1, 0, ZERO_HASH), NOW) == []
    context = make_context(single.voting_set, height=2, prev_ts=NOW, seed=b"h2")
    single.machine.on_new_height(context, NOW + 10)
    machine = single.machine
    assert (machine.height, machine.round, machine.step) == (2, 0, Step.PROPOSE)
    assert (machine.locked_round, machine.valid_round, machine.is_decided) == (-1, -1, False)
    assert machine.last_commit == commit


def test_line_54_next_height_messages_are_buffered_and_replayed() -> None:
    single = started()
    seed2 = find_seed(single.voting_set, lambda p0, p1: p0 != 0, height=2)
    context = make_context(single.voting_set, height=2, prev_ts=NOW, seed=seed2)
    block2 = block_for(2, 0, NOW + PARAMS.block_interval_ms)
    proposer2 = proposer_of(single.voting_set, 2, 0, seed2)
    early = [single.machine.on_proposal(propose(single.keys[proposer2], block2), block2, NOW)]
    for i in (1, 2):
        early.append(single.machine.on_vote(prevote(single.keys[i], 2, 0, hash_of(block2)), NOW))
    assert early == [[], [], []]
    decide_height_1(single)
    effects = single.machine.on_new_height(context, NOW + PARAMS.block_interval_ms)
    votes = broadcast_votes(effects)
    assert [(v.height, v.vote_type, v.block_hash) for v in votes] == [
        (2, VoteType.PREVOTE, hash_of(block2)),
        (2, VoteType.PRECOMMIT, hash_of(block2)),  # line 36 with the buffered prevotes
    ]


def test_buffer_of_next_height_votes_is_bounded() -> None:
    single = started()
    stranger = make_keys(9)[8]
    for r in range(MAX_BUFFERED_VOTES):
        single.machine.on_vote(prevote(stranger, 2, r % 5, ZERO_HASH), NOW)
    for i in (1, 2, 3):  # dropped: the buffer is full
        single.machine.on_vote(prevote(single.keys[i], 2, 0, ZERO_HASH), NOW)
    decide_height_1(single)
    context = make_context(single.voting_set, height=2, prev_ts=NOW, seed=b"s")
    single.machine.on_new_height(context, NOW)
    effects = single.machine.on_tick(NOW + 10 * PARAMS.timeout_max_ms)
    # own nil prevote only: the three real prevotes were not kept, no quorum
    assert [v.vote_type for v in broadcast_votes(effects)] == [VoteType.PREVOTE]


def test_messages_two_heights_ahead_are_dropped() -> None:
    single = started()
    assert single.machine.on_vote(prevote(single.keys[1], 3, 0, ZERO_HASH), NOW) == []
    block = block_for(3, 0, NOW)
    assert single.machine.on_proposal(propose(single.keys[1], block), block, NOW) == []


def test_new_height_must_be_above_the_current_one() -> None:
    single = started()
    with pytest.raises(ValueError, match="not above"):
        single.machine.on_new_height(single.machine.context, NOW)


def test_line_49_on_certificate_decides_from_a_certificate_received_otherwise() -> None:
    single = started()
    block = block_for(1, 3, NOW)
    votes = [(i, precommit(single.keys[i], 1, 3, hash_of(block))) for i in (1, 2, 3)]
    certificate = build_certificate(1, 3, hash_of(block), votes, single.voting_set)
    with pytest.raises(InvalidVote, match="block-mismatch"):
        single.machine.on_certificate(certificate, block_for(1, 3, NOW, b"other"), NOW)
    forged = msgspec.structs.replace(certificate, signatures=certificate.signatures[:2])
    with pytest.raises(InvalidVote, match="insufficient-weight"):
        single.machine.on_certificate(forged, block, NOW)
    [commit] = of_type(single.machine.on_certificate(certificate, block, NOW), CommitBlock)
    assert commit.certificate == certificate and commit.block_value == block
    assert single.machine.is_decided
    assert single.machine.on_certificate(certificate, block, NOW) == []


def test_machine_refuses_a_weightless_voting_set() -> None:
    single = make_single()
    empty = msgspec.structs.replace(single.voting_set, voters=[])
    with pytest.raises(ValueError, match="empty or has no weight"):
        ConsensusMachine(
            params=PARAMS,
            app=single.app,
            verifier=lambda pk, m, s: True,
            signer=None,
            context=make_context(empty),
        )

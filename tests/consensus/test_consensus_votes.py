"""The vote keeper: weights, quorums, equivocation, and the line 55 round count."""

from __future__ import annotations

from consensus_harness import make_keys, make_voting_set, precommit, prevote

from timecoin.consensus import VoteKeeper
from timecoin.crypto import sha256
from timecoin.types import ZERO_HASH, VoteType

KEYS = make_keys(4)
A = sha256(b"a")
B = sha256(b"b")


def test_line_34_36_weights_per_block_and_any() -> None:
    keeper = VoteKeeper(make_voting_set(KEYS, (1, 2, 3, 4)))
    keeper.add_vote(0, prevote(KEYS[0], 1, 0, A))
    keeper.add_vote(3, prevote(KEYS[3], 1, 0, A))
    keeper.add_vote(2, prevote(KEYS[2], 1, 0, ZERO_HASH))
    assert keeper.weight_for(0, VoteType.PREVOTE, A) == 5
    assert keeper.weight_for(0, VoteType.PREVOTE, ZERO_HASH) == 3
    assert keeper.weight_any(0, VoteType.PREVOTE) == 8
    assert keeper.weight_any(0, VoteType.PRECOMMIT) == 0
    assert keeper.is_quorum_any(0, VoteType.PREVOTE)  # 8 of 10
    assert not keeper.is_quorum_for(0, VoteType.PREVOTE, A)  # 5 of 10
    keeper.add_vote(1, prevote(KEYS[1], 1, 0, A))
    assert keeper.is_quorum_for(0, VoteType.PREVOTE, A)  # 7 of 10
    assert keeper.get_quorum_hashes(0, VoteType.PREVOTE) == [A]


def test_one_vote_per_voter_and_equivocation_is_returned_and_counted_per_block() -> None:
    keeper = VoteKeeper(make_voting_set(KEYS, (1, 1, 1, 1)))
    first = precommit(KEYS[1], 1, 2, A)
    assert keeper.add_vote(1, first).added
    again = keeper.add_vote(1, first)
    assert not again.added and again.conflicting is None
    other = keeper.add_vote(1, precommit(KEYS[1], 1, 2, B))
    assert other.added and other.conflicting == first
    assert keeper.weight_for(2, VoteType.PRECOMMIT, B) == 1
    assert keeper.weight_any(2, VoteType.PRECOMMIT) == 1
    assert keeper.get_vote(2, VoteType.PRECOMMIT, 1) == first


def test_line_49_precommit_quorums_are_listed_once_in_order() -> None:
    keeper = VoteKeeper(make_voting_set(KEYS, (1, 1, 1, 1)))
    for i in range(4):
        keeper.add_vote(i, precommit(KEYS[i], 1, 1, B))
    for i in range(3):
        keeper.add_vote(i, precommit(KEYS[i], 1, 0, A))
    assert list(keeper.iter_precommit_quorums()) == [(1, B), (0, A)]
    assert [i for i, _ in keeper.get_votes_for(0, VoteType.PRECOMMIT, A)] == [0, 1, 2]


def test_line_55_jump_round_is_the_highest_round_reached_by_more_than_one_third() -> None:
    keeper = VoteKeeper(make_voting_set(KEYS, (1, 1, 1, 1)))
    assert keeper.compute_jump_round() == -1
    keeper.note_round(0, 9)
    assert keeper.compute_jump_round() == -1  # 1 of 4 is not more than 1/3
    keeper.note_round(1, 4)
    assert keeper.compute_jump_round() == 4  # voters 0 and 1 reached round >= 4
    keeper.note_round(2, 7)
    assert keeper.compute_jump_round() == 7
    keeper.note_round(2, 3)  # lower rounds never lower the record
    assert keeper.get_highest_round(2) == 7 and keeper.highest_round == 9

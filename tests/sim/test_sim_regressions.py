"""Regressions the simulator found, each replayed from its seed.

Equivocation and liveness. The vote keeper used to count only a voter's
first vote per (round, type). A Byzantine proposer with more than zero but
less than a third of the weight can split a round: half A gets block X and
the coalition's prevotes for X, half B gets block Y and prevotes for Y. An
honest node of half A locks on X (honest A prevotes plus the Byzantine
ones make a quorum); the honest nodes of half B, having counted the
Byzantine prevotes for Y first, can never count the Byzantine prevotes for X,
so no proof of lock for X ever forms at them, the locked node never prevotes
anything else, and the height stalls forever (liveness lost with f < n/3).
Algorithm 1 counts messages, so an equivocator counts for each block it
voted for; two quorums for different blocks in one round still need more
than a third of the weight to have voted for both, so safety is unchanged.
"""

from __future__ import annotations

import pytest

from timecoin.consensus import VoteKeeper, sign_vote
from timecoin.consensus.limits import MAX_CONFLICTING_VOTES_PER_VOTER
from timecoin.crypto import SigningKey, sha256
from timecoin.params import MINIMAL
from timecoin.sim.config import SimConfig
from timecoin.sim.simulator import run_simulation
from timecoin.types import Voter, VoteType, VotingSet

KEYS = [SigningKey.from_seed(bytes([i + 1]) * 32) for i in range(4)]
VOTING_SET = VotingSet(
    epoch=0,
    voters=[Voter(sha256(k.public_key), k.public_key, 1) for k in KEYS],
)
X, Y = b"\x0a" * 32, b"\x0b" * 32


def _prevote(index: int, block_hash: bytes, round: int = 0) -> object:
    return sign_vote(KEYS[index], MINIMAL.chain_id, VoteType.PREVOTE, 1, round, block_hash)


def test_equivocator_counts_for_each_block_once() -> None:
    keeper = VoteKeeper(VOTING_SET)
    first = sign_vote(KEYS[3], MINIMAL.chain_id, VoteType.PREVOTE, 1, 0, Y)
    second = sign_vote(KEYS[3], MINIMAL.chain_id, VoteType.PREVOTE, 1, 0, X)
    assert keeper.add_vote(3, first).added
    result = keeper.add_vote(3, second)
    assert result.added and result.conflicting == first
    again = keeper.add_vote(3, second)
    assert not again.added
    assert keeper.weight_for(0, VoteType.PREVOTE, X) == 1
    assert keeper.weight_for(0, VoteType.PREVOTE, Y) == 1
    assert keeper.weight_any(0, VoteType.PREVOTE) == 1
    assert keeper.get_vote(0, VoteType.PREVOTE, 3) == first
    for index in (0, 1):
        keeper.add_vote(index, sign_vote(KEYS[index], MINIMAL.chain_id, 1, 1, 0, X))
    assert keeper.is_quorum_for(0, VoteType.PREVOTE, X)
    assert [i for i, _ in keeper.get_votes_for(0, VoteType.PREVOTE, X)] == [0, 1, 3]


def test_conflicting_votes_counted_per_voter_are_bounded() -> None:
    keeper = VoteKeeper(VOTING_SET)
    hashes = [sha256(bytes([i])) for i in range(MAX_CONFLICTING_VOTES_PER_VOTER + 3)]
    results = [
        keeper.add_vote(2, sign_vote(KEYS[2], MINIMAL.chain_id, VoteType.PRECOMMIT, 1, 0, h))
        for h in hashes
    ]
    assert sum(r.added for r in results) == 1 + MAX_CONFLICTING_VOTES_PER_VOTER
    assert all(r.conflicting is not None for r in results[1:])


@pytest.mark.parametrize(
    ("nodes", "seed", "faults"),
    [(5, 6, "partition"), (4, 28, "none"), (7, 5, "chaos"), (6, 79, "crash"), (5, 157, "skew")],
)
def test_split_round_by_an_equivocating_proposer_does_not_stall(
    nodes: int, seed: int, faults: str
) -> None:
    byzantine = (nodes - 1) // 3
    config = SimConfig(
        nodes=nodes, seed=seed, faults=faults, byzantine=byzantine, strategy="equivocate"
    )
    result = run_simulation(config)
    assert result.ok, result.failure_report()

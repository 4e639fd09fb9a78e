"""Vote keeping for one height: votes per round and type, their weights, and
equivocation detection.

The keeper stores verified votes only; the machine checks signatures and
membership before calling `add_vote`. Each voter counts once per (round,
type) toward the weight of all votes (2f+1 of any value, timeouts): its
first vote. A later vote of the same voter for another block is returned as
a conflict (evidence) and still counts for that block, up to
MAX_CONFLICTING_VOTES_PER_VOTER such blocks: Algorithm 1 counts messages, so
an equivocator counts for every block it voted for. Otherwise honest nodes
that counted an equivocator's vote for one block could never count its vote
for the other, and a proof of lock that other honest nodes did see (honest
votes plus the equivocator's) would never form at them: a locked honest node
would then block the height forever. Safety is unchanged: two quorums for
different blocks in one round need more than a third of the weight to have
voted for both.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from timecoin.consensus.limits import MAX_CONFLICTING_VOTES_PER_VOTER
from timecoin.types import Vote, VoteType, VotingSet, is_one_third_plus, is_quorum


class AddVoteResult(NamedTuple):
    """Outcome of `VoteKeeper.add_vote`.

    `added` is True when the vote was new and is now counted; `conflicting`
    is the already counted vote of the same voter, round and type for another
    block, when there is one (equivocation).
    """

    added: bool
    conflicting: Vote | None


@dataclass(slots=True)
class _VoteTally:
    """The votes of one type in one round."""

    by_voter: dict[int, Vote] = field(default_factory=dict)
    conflicting: dict[int, dict[bytes, Vote]] = field(default_factory=dict)
    weight_by_hash: dict[bytes, int] = field(default_factory=dict)
    weight_total: int = 0


@dataclass(slots=True)
class _RoundVotes:
    """Prevotes and precommits of one round."""

    prevotes: _VoteTally = field(default_factory=_VoteTally)
    precommits: _VoteTally = field(default_factory=_VoteTally)


class VoteKeeper:
    """Verified votes of one height against one voting set."""

    def __init__(self, voting_set: VotingSet) -> None:
        """Keep votes weighted by `voting_set` (whose total weight must be positive)."""
        self._weights = [voter.weight for voter in voting_set.voters]
        self._total_weight = sum(self._weights)
        self._rounds: dict[int, _RoundVotes] = {}
        self._highest_round: dict[int, int] = {}
        self._max_round = -1
        self._precommit_quorums: list[tuple[int, bytes]] = []

    @property
    def total_weight(self) -> int:
        """The total weight of the voting set."""
        return self._total_weight

    def _tally(self, round: int, vote_type: int) -> _VoteTally | None:
        votes = self._rounds.get(round)
        if votes is None:
            return None
        return votes.prevotes if vote_type == VoteType.PREVOTE else votes.precommits

    def get_vote(self, round: int, vote_type: int, voter_index: int) -> Vote | None:
        """The counted vote of `voter_index` of `vote_type` in `round`, or None."""
        tally = self._tally(round, vote_type)
        return None if tally is None else tally.by_voter.get(voter_index)

    def add_vote(self, voter_index: int, vote: Vote) -> AddVoteResult:
        """Count `vote` (already verified) by the voter at `voter_index`.

        A second vote of the voter for the same block is ignored. A vote for
        another block is returned as `conflicting` (the voter's first vote)
        and counted for its block, but not again in the weight of all votes;
        at most MAX_CONFLICTING_VOTES_PER_VOTER such blocks count per voter.
        """
        votes = self._rounds.get(vote.round)
        if votes is None:
            votes = self._rounds[vote.round] = _RoundVotes()
        tally = votes.prevotes if vote.vote_type == VoteType.PREVOTE else votes.precommits
        weight = self._weights[voter_index]
        existing = tally.by_voter.get(voter_index)
        if existing is not None:
            if existing.block_hash == vote.block_hash:
                return AddVoteResult(added=False, conflicting=None)
            others = tally.conflicting.setdefault(voter_index, {})
            if vote.block_hash in others or len(others) >= MAX_CONFLICTING_VOTES_PER_VOTER:
                return AddVoteResult(added=False, conflicting=existing)
            others[vote.block_hash] = vote
            self._count_for_block(tally, vote, weight)
            return AddVoteResult(added=True, conflicting=existing)
        tally.by_voter[voter_index] = vote
        tally.weight_total += weight
        self._count_for_block(tally, vote, weight)
        self.note_round(voter_index, vote.round)
        return AddVoteResult(added=True, conflicting=None)

    def _count_for_block(self, tally: _VoteTally, vote: Vote, weight: int) -> None:
        before = tally.weight_by_hash.get(vote.block_hash, 0)
        tally.weight_by_hash[vote.block_hash] = before + weight
        if (
            vote.vote_type == VoteType.PRECOMMIT
            and not is_quorum(before, self._total_weight)
            and is_quorum(before + weight, self._total_weight)
        ):
            self._precommit_quorums.append((vote.round, vote.block_hash))

    def get_highest_round(self, voter_index: int) -> int:
        """The highest round of a verified message of `voter_index`, or -1."""
        return self._highest_round.get(voter_index, -1)

    @property
    def highest_round(self) -> int:
        """The highest round of any verified message at this height, or -1."""
        return self._max_round

    def note_round(self, voter_index: int, round: int) -> None:
        """Record that the voter at `voter_index` sent a verified message in `round`
        (a vote, a proposal, or a vote too far ahead to be stored)."""
        if self._highest_round.get(voter_index, -1) < round:
            self._highest_round[voter_index] = round
            self._max_round = max(self._max_round, round)

    def weight_for(self, round: int, vote_type: int, block_hash: bytes) -> int:
        """The weight of the votes of `vote_type` in `round` for `block_hash`."""
        tally = self._tally(round, vote_type)
        return 0 if tally is None else tally.weight_by_hash.get(block_hash, 0)

    def weight_any(self, round: int, vote_type: int) -> int:
        """The weight of all votes of `vote_type` in `round`, whatever their block."""
        tally = self._tally(round, vote_type)
        return 0 if tally is None else tally.weight_total

    def is_quorum_for(self, round: int, vote_type: int, block_hash: bytes) -> bool:
        """Whether more than 2/3 of the weight voted `vote_type` for `block_hash` in `round`."""
        return is_quorum(self.weight_for(round, vote_type, block_hash), self._total_weight)

    def is_quorum_any(self, round: int, vote_type: int) -> bool:
        """Whether more than 2/3 of the weight sent `vote_type` votes in `round` (2f+1 ⟨*⟩)."""
        return is_quorum(self.weight_any(round, vote_type), self._total_weight)

    def get_quorum_hashes(self, round: int, vote_type: int) -> list[bytes]:
        """The block hashes (ZERO_HASH for nil) voted by a quorum in `round`."""
        tally = self._tally(round, vote_type)
        if tally is None:
            return []
        return [
            block_hash
            for block_hash, weight in tally.weight_by_hash.items()
            if is_quorum(weight, self._total_weight)
        ]

    def iter_precommit_quorums(self) -> Iterator[tuple[int, bytes]]:
        """Every (round, block_hash) with precommits of a quorum, in the order reached."""
        return iter(self._precommit_quorums)

    def get_votes_for(
        self, round: int, vote_type: int, block_hash: bytes
    ) -> list[tuple[int, Vote]]:
        """(voter_index, vote) of every counted vote of `vote_type` in `round` for `block_hash`."""
        tally = self._tally(round, vote_type)
        if tally is None:
            return []
        votes = [(i, v) for i, v in tally.by_voter.items() if v.block_hash == block_hash]
        votes.extend(
            (i, others[block_hash])
            for i, others in tally.conflicting.items()
            if block_hash in others
        )
        return sorted(votes, key=lambda item: item[0])

    def compute_jump_round(self) -> int:
        """The highest round r such that voters of more than 1/3 of the weight sent
        a message in round r or later; -1 when there is none.

        This is line 55 of Algorithm 1 ("f + 1 ⟨*, h_p, round, *, *⟩ with
        round > round_p") counted per voter by its highest round: one honest
        voter among them has reached round r, so jumping there is justified,
        and only one number per voter is kept however far ahead it is.
        """
        weight = 0
        by_round = sorted(self._highest_round.items(), key=lambda item: item[1], reverse=True)
        for voter_index, round in by_round:
            weight += self._weights[voter_index]
            if is_one_third_plus(weight, self._total_weight):
                return round
        return -1

"""Named bounds of the consensus state machine.

Every collection the machine keeps grows with input from peers; each is
capped here so that a Byzantine peer cannot exhaust memory.
"""

from __future__ import annotations

from typing import Final

MAX_ROUNDS_AHEAD: Final = 8
"""Votes and proposals for rounds above `round + MAX_ROUNDS_AHEAD` are not
stored: a vote there only records its signer's highest round (for the round
jump of line 55), a proposal there is dropped."""

MAX_PROPOSALS_PER_ROUND: Final = 2
"""Proposals kept per round: the first, and one conflicting proposal (an
equivocating proposer), whose value may still be the one a quorum votes for."""

MAX_CONFLICTING_VOTES_PER_VOTER: Final = 2
"""Votes of one voter for other blocks than its first vote, per round and vote
type, that still count for their block (an equivocator counts for each block
it voted for, as in Algorithm 1; see `VoteKeeper.add_vote`)."""

MAX_BUFFERED_VOTES: Final = 1_024
"""Votes for the next height kept until the machine reaches that height."""

MAX_BUFFERED_PROPOSALS: Final = 4
"""Proposals (with their block values) for the next height kept until the
machine reaches that height."""

MAX_RULE_PASSES: Final = 64
"""Upper bound on rule evaluations after one input; the rules only move the
state forward, so they settle in far fewer passes."""

MAX_WAL_BLOCK_BYTES: Final = 16_000_000
"""Largest encoded block value stored in a WAL record (the frame limit)."""

MAX_WAL_RECORD_BYTES: Final = MAX_WAL_BLOCK_BYTES + 4_096
"""Largest encoded WAL record accepted by `decode_wal_record`."""

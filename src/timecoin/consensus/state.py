"""Round steps and the per-height context of the consensus machine."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from timecoin.types import VotingSet


class Step(enum.IntEnum):
    """The step of a round (`step_p` of Algorithm 1, line 4), in order."""

    PROPOSE = 1
    PREVOTE = 2
    PRECOMMIT = 3


class TimeoutStep(enum.IntEnum):
    """What a scheduled timeout is for.

    PROPOSE, PREVOTE and PRECOMMIT are `OnTimeoutPropose`, `OnTimeoutPrevote`
    and `OnTimeoutPrecommit` of Algorithm 1 (lines 57, 61, 65).
    BLOCK_INTERVAL wakes the round's proposer when the block interval since
    the previous block has elapsed, so that it may propose.
    """

    PROPOSE = 1
    PREVOTE = 2
    PRECOMMIT = 3
    BLOCK_INTERVAL = 4


@dataclass(frozen=True, slots=True)
class HeightContext:
    """Everything the machine needs to know about one height.

    - `height`: the height being decided (the previous block is `height - 1`);
    - `voting_set`: the committee voting at this height; the masternode
      registry changes it only at epoch boundaries, so consecutive heights of
      one epoch receive the same set;
    - `prev_block_timestamp_ms`: the header timestamp of block `height - 1`;
    - `proposer_seed`: the seed of `select_proposer`; the driver supplies a
      value fixed for the whole epoch (see docs/spec/consensus.md), so that
      no proposer can grind the choice of later proposers.
    """

    height: int
    voting_set: VotingSet
    prev_block_timestamp_ms: int
    proposer_seed: bytes

"""Weighted proposer rotation.

`select_proposer` maps (height, round) to a voter index with probability
proportional to voting weight, deterministically from a seed:

    slot = int.from_bytes(sha256(seed || u64be(height) || u32be(round)), "big")
           mod total_weight

and the proposer is the first voter, in voting-set order, whose cumulative
weight exceeds `slot`. The 256-bit hash makes the modulo bias negligible
(below 2**-200 for any realistic total weight). Voters of weight 0 are
never chosen.
"""

from __future__ import annotations

from timecoin.crypto import sha256
from timecoin.encoding import u32be, u64be
from timecoin.types import VotingSet


def compute_proposer_slot(total_weight: int, height: int, round: int, seed: bytes) -> int:
    """The weight slot in [0, total_weight) drawn for (height, round) from `seed`.

    Raises ValueError when `total_weight` is not positive.
    """
    if total_weight <= 0:
        raise ValueError(f"total weight must be positive, got {total_weight}")
    digest = sha256(seed + u64be(height) + u32be(round))
    return int.from_bytes(digest, "big") % total_weight


def select_proposer(voting_set: VotingSet, height: int, round: int, seed: bytes) -> int:
    """The index in `voting_set.voters` of the proposer of (height, round).

    `seed` is the driver's proposer seed for the epoch. Pure and
    deterministic: every node with the same inputs selects the same index.
    Raises ValueError when the voting set has no positive total weight.
    """
    slot = compute_proposer_slot(voting_set.total_weight, height, round, seed)
    cumulative = 0
    for index, voter in enumerate(voting_set.voters):
        cumulative += voter.weight
        if slot < cumulative:
            return index
    raise AssertionError("slot below the total weight maps onto a voter")

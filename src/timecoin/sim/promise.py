"""The promise the checkers hold the protocol to (docs/spec/consensus.md
section 7, ADR 0013): what share of each committee's weight was Byzantine in
a run, and which violations that share makes protocol defects.

Quorum intersection covers a committee, not the network: safety is promised
while the Byzantine voters of every committee hold at most 1/3 of its
weight, liveness (after the faults heal) while they hold less than 1/3. A
violation in a run where some committee held more is what the checkers must
find (their non-vacuity), not a defect.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from timecoin.types import VotingSet

LIVENESS_KINDS: Final = frozenset({"liveness", "payment-not-final", "final-not-in-block"})
"""Violations that need more than 2/3 of the weight correct, not only at most 1/3 faulty."""


@dataclass(frozen=True, slots=True)
class CommitteeShare:
    """The Byzantine weight of one epoch's committee, and the weight of every
    masternode eligible for it (more than the committee's when the cut left
    some out)."""

    epoch: int
    byzantine_weight: int
    total_weight: int
    eligible_weight: int

    @property
    def share(self) -> float:
        """Byzantine weight over the committee's weight (0 for an empty committee)."""
        return self.byzantine_weight / self.total_weight if self.total_weight else 0.0

    def is_safety_promised(self) -> bool:
        """At most 1/3 of the weight is Byzantine: no two quorums can conflict."""
        return 3 * self.byzantine_weight <= self.total_weight

    def is_liveness_promised(self) -> bool:
        """Less than 1/3 is Byzantine: the correct weight alone is a quorum."""
        return 3 * self.byzantine_weight < self.total_weight

    def describe(self) -> str:
        """`epoch e: b/t` for reports, `b/t of w` when the cut left weight out."""
        text = f"epoch {self.epoch}: {self.byzantine_weight}/{self.total_weight}"
        if self.eligible_weight != self.total_weight:
            text += f" of {self.eligible_weight}"
        return text


def compute_committee_share(
    voting_set: VotingSet,
    is_byzantine_key: Callable[[bytes], bool],
    eligible_weight: int | None = None,
) -> CommitteeShare:
    """The Byzantine weight of `voting_set`, its voters judged by operator key;
    `eligible_weight` defaults to the committee's own."""
    byzantine = sum(v.weight for v in voting_set.voters if is_byzantine_key(v.operator_key))
    total = voting_set.total_weight
    eligible = total if eligible_weight is None else eligible_weight
    return CommitteeShare(voting_set.epoch, byzantine, total, eligible)


def is_promised(kind: str, shares: Iterable[CommitteeShare]) -> bool:
    """Whether the promise covers a violation of `kind` in a run whose
    committees had `shares`: a liveness kind needs every committee below
    1/3 Byzantine, any other kind at most 1/3."""
    if kind in LIVENESS_KINDS:
        return all(s.is_liveness_promised() for s in shares)
    return all(s.is_safety_promised() for s in shares)

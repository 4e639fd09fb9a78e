"""The voting set (committee) of an epoch and its quorum arithmetic."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

import msgspec
from msgspec import Meta

from timecoin.crypto import sha256
from timecoin.encoding import encode
from timecoin.types.primitives import MAX_LIST_VOTES, U64, Epoch, Hash32, PublicKey


class Voter(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """A committee member: the operator key that signs votes, and its weight."""

    masternode_id: Hash32
    operator_key: PublicKey
    weight: U64


class VotingSet(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """The committee of one epoch, in canonical order (the order of `voters`
    defines the `voter_index` used by certificates)."""

    epoch: Epoch
    voters: Annotated[list[Voter], Meta(max_length=MAX_LIST_VOTES)]

    @property
    def total_weight(self) -> int:
        """Sum of the voters' weights."""
        return sum(v.weight for v in self.voters)

    def compute_hash(self) -> bytes:
        """SHA-256 of the canonical encoding (the header's voting-set commitment)."""
        return sha256(encode(self))

    def index_of(self, operator_key: bytes) -> int | None:
        """The index of the voter with `operator_key`, or None."""
        for i, v in enumerate(self.voters):
            if v.operator_key == operator_key:
                return i
        return None


def is_quorum(weight: int, total_weight: int) -> bool:
    """True when `weight` is more than 2/3 of `total_weight` (integer arithmetic)."""
    return 3 * weight > 2 * total_weight


def is_one_third_plus(weight: int, total_weight: int) -> bool:
    """True when `weight` is more than 1/3 of `total_weight`: at least one honest voter
    when at most 1/3 is Byzantine."""
    return 3 * weight > total_weight


def weight_of(voting_set: VotingSet, indices: Iterable[int]) -> int:
    """Total weight of the distinct voters at `indices`."""
    voters = voting_set.voters
    return sum(voters[i].weight for i in set(indices))

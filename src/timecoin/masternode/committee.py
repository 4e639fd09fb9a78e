"""Committees (voting sets) per epoch, and draws by reward weight.

Both are pure functions of the registry entries and a 32-byte seed taken
from the chain, so every node computes the same committee and the same draw.
docs/spec/masternode.md states the rules.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from itertools import accumulate

from timecoin.crypto import sha256
from timecoin.encoding import u32be
from timecoin.masternode.state import MasternodeEntry, RegistryState, is_active
from timecoin.params import ChainParams
from timecoin.types import Voter, VotingSet

SEED_BYTES = 32
"""Length of an epoch or draw seed (a block hash)."""

MAX_DRAWS = 10_000
"""Upper bound on the `count` of one `select_weighted` call."""


def _check_seed(seed: bytes) -> None:
    if len(seed) != SEED_BYTES:
        raise ValueError(f"seed: expected {SEED_BYTES} bytes, got {len(seed)}")


def compute_tiebreak_hash(seed: bytes, operator_key: bytes) -> bytes:
    """sha256(seed || operator_key): orders voters of equal weight within an epoch."""
    return sha256(seed + operator_key)


def compute_voting_set_from_entries(
    entries: Iterable[MasternodeEntry], epoch: int, seed: bytes, params: ChainParams
) -> VotingSet:
    """The committee of `epoch` chosen from `entries` (see `compute_voting_set`)."""
    _check_seed(seed)
    # (-weight, tiebreak, masternode_id, registered_height, voter)
    candidates: list[tuple[int, bytes, bytes, int, Voter]] = []
    for entry in entries:
        if not is_active(entry, epoch):
            continue
        weight = params.tier_params(entry.tier).voting_weight
        if weight <= 0:
            continue
        voter = Voter(entry.masternode_id, entry.operator_key, weight)
        tiebreak = compute_tiebreak_hash(seed, entry.operator_key)
        candidates.append((-weight, tiebreak, entry.masternode_id, entry.registered_height, voter))
    if is_all_voters_rule(epoch, params) and len(candidates) > params.max_voters:
        # The cut takes the heaviest, then the oldest: no seed decides who sits.
        candidates.sort(key=lambda c: (c[0], c[3], c[2]))
        del candidates[params.max_voters :]
    candidates.sort(key=lambda c: (c[0], c[1], c[2]))
    return VotingSet(epoch, [c[4] for c in candidates[: params.max_voters]])


def is_all_voters_rule(epoch: int, params: ChainParams) -> bool:
    """Whether the committee of `epoch` follows the every-voter rule: its
    first height is at or above `params.activation.all_voters_height`."""
    return params.activation.is_all_voters_active(epoch * params.epoch_length)


def compute_voting_set(
    state: RegistryState, epoch: int, seed: bytes, params: ChainParams
) -> VotingSet:
    """The committee of `epoch` from the entries of `state`.

    Eligible: entries active in `epoch` (`is_active`) whose tier has a
    positive voting weight (so never Free). Each voter's weight is its tier's
    `voting_weight`. Membership when more than `params.max_voters` are
    eligible (otherwise every eligible entry sits):

    - every-voter rule (`is_all_voters_rule`, ADR 0013): the `max_voters`
      first by weight descending, then `registered_height` ascending, then
      `masternode_id` ascending; the seed plays no part, so no proposer can
      choose who sits;
    - top-weight rule (before its activation): the `max_voters` first in the
      canonical order below, so the seed breaks ties at the cut.

    The canonical order of the members, which defines the certificate voter
    indices, is weight descending, then `compute_tiebreak_hash(seed,
    operator_key)` ascending, then `masternode_id` ascending (operator keys
    are unique, so the last key only makes the order total by construction).

    Parameters:
        state: the registry (normally with the boundary's drops applied).
        epoch: the epoch whose committee is computed.
        seed: 32 bytes; the hash of the parent of the epoch's boundary block
            (see `on_epoch_boundary`).
        params: the chain parameters (tiers, max_voters).

    Raises:
        ValueError: `seed` is not 32 bytes.
    """
    return compute_voting_set_from_entries(state.entries, epoch, seed, params)


def compute_eligible_weight(
    entries: Iterable[MasternodeEntry], epoch: int, params: ChainParams
) -> int:
    """The voting weight of every entry eligible for the committee of `epoch`
    (active, staked), seated or not.

    The committee's `total_weight` divided by this is the share of the
    voting weight the committee holds, `1 - x` in ADR 0013: 1 while every
    eligible masternode fits in `max_voters`; a Byzantine share of the
    eligible weight below `(1 - x) / 3` keeps the committee below 1/3.
    """
    return sum(
        weight
        for entry in entries
        if is_active(entry, epoch) and (weight := params.tier_params(entry.tier).voting_weight) > 0
    )


def compute_draw_value(seed: bytes, draw_index: int) -> int:
    """The integer of sha256(seed || u32be(draw_index)), big-endian (256 bits)."""
    return int.from_bytes(sha256(seed + u32be(draw_index)), "big")


def select_weighted(
    entries: Sequence[MasternodeEntry], seed: bytes, count: int, params: ChainParams
) -> list[MasternodeEntry]:
    """Draw `count` entries with replacement, each with probability proportional
    to its tier's `reward_weight`, deterministically from `seed`.

    The entries are put in `masternode_id` order first, so the caller's order
    does not matter. Draw i takes r = `compute_draw_value(seed, i)` mod the
    total weight and picks the entry whose cumulative weight interval
    contains r (the modulo bias is below total / 2**256). An entry may be
    drawn more than once; the expected number of its draws is exactly
    count * weight / total. Entries of weight 0 are never drawn; with no
    positive weight the result is empty.

    Parameters:
        entries: the candidates (e.g. `get_active_entries` of one tier group).
        seed: 32 bytes, e.g. the previous block hash.
        count: the number of draws, 0 to `MAX_DRAWS`.
        params: the chain parameters (reward weights by tier).

    Raises:
        ValueError: `seed` is not 32 bytes, or `count` is out of range.
    """
    _check_seed(seed)
    if not 0 <= count <= MAX_DRAWS:
        raise ValueError(f"count: expected 0 to {MAX_DRAWS}, got {count}")
    ordered = sorted(
        (e for e in entries if params.tier_params(e.tier).reward_weight > 0),
        key=lambda e: e.masternode_id,
    )
    if not ordered:
        return []
    cumulative = list(accumulate(params.tier_params(e.tier).reward_weight for e in ordered))
    total = cumulative[-1]
    return [
        ordered[bisect_right(cumulative, compute_draw_value(seed, i) % total)] for i in range(count)
    ]

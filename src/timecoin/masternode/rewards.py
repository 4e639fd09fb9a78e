"""Block rewards: who a block's coinbase pays, and how much.

Each block pays the subsidy plus its fees to a few reward-eligible
masternodes drawn by reward weight from the previous block hash, so the
expected reward of a masternode is proportional to its weight while a block
creates only a handful of outputs. Free masternodes draw only from the Free
pool, a fixed share of the subsidy, so Sybil Free nodes dilute one another
and never the staked tiers. The result is a pure function of the registry,
the height, the previous block hash and the fees; the chain requires the
coinbase to be exactly it. docs/spec/rewards.md states the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from timecoin.crypto import address_from_public_key, sha256
from timecoin.masternode.committee import select_weighted
from timecoin.masternode.heartbeat import is_reward_eligible
from timecoin.masternode.state import MasternodeEntry, RegistryState, get_entry
from timecoin.params import ChainParams, Tier
from timecoin.types import TxOutput, VotingSet

__all__ = [
    "FREE_POOL_SEED_TAG",
    "compute_free_pool",
    "compute_max_reward_outputs",
    "compute_reward_outputs",
    "get_proposer_reward_address",
    "get_reward_eligible_entries",
]

FREE_POOL_SEED_TAG: Final = b"TIMECOIN/free-pool/v1"
"""Tag of the Free pool's draw seed, sha256(tag || prev_hash): the two draws
of one block are independent."""


def compute_free_pool(params: ChainParams) -> int:
    """The Free pool of every block: `block_subsidy * free_pool_share_permille // 1000`."""
    return params.block_subsidy * params.free_pool_share_permille // 1000


def compute_max_reward_outputs(params: ChainParams) -> int:
    """An upper bound on the number of coinbase outputs: one per staked draw,
    one per Free draw, and the proposer's fallback output."""
    return 2 * params.rewarded_masternodes_per_block + 1


def get_reward_eligible_entries(
    registry: RegistryState, height: int, params: ChainParams
) -> list[MasternodeEntry]:
    """The entries of `registry` (the state after block `height - 1`) that may
    be drawn for block `height`'s rewards (`is_reward_eligible`), by id."""
    return [entry for entry in registry.entries if is_reward_eligible(entry, height, params)]


def get_proposer_reward_address(
    registry: RegistryState, voting_set: VotingSet, proposer: bytes
) -> bytes:
    """The reward address of the masternode whose operator key `proposer`
    proposes with in `voting_set`; the address of `proposer` itself when it
    names no registered member (a state the block rules never accept)."""
    index = voting_set.index_of(proposer)
    if index is not None:
        entry = get_entry(registry, voting_set.voters[index].masternode_id)
        if entry is not None:
            return entry.reward_address
    return address_from_public_key(proposer)


def _split(amount: int, winners: Sequence[MasternodeEntry]) -> list[tuple[bytes, int]]:
    """`amount` split evenly over the draws; the first `amount % n` get one unit more."""
    count = len(winners)
    share, remainder = divmod(amount, count)
    return [
        (entry.reward_address, share + (1 if index < remainder else 0))
        for index, entry in enumerate(winners)
    ]


def compute_reward_outputs(
    registry: RegistryState,
    height: int,
    prev_hash: bytes,
    fees: int,
    proposer_reward_address: bytes,
    params: ChainParams,
) -> list[TxOutput]:
    """The outputs of the coinbase of block `height`, in order.

    1. The total is `block_subsidy + fees`; the Free pool is
       `compute_free_pool(params)` (a share of the subsidy), the staked pool
       the rest (the rest of the subsidy and all the fees).
    2. Eligible entries (`get_reward_eligible_entries`) split by tier into
       Free and staked.
    3. Staked: `rewarded_masternodes_per_block` draws by reward weight
       (`select_weighted`, with replacement) seeded by `prev_hash`; the staked
       pool is split evenly over the draws, the first `pool % draws` getting
       one base unit more. Free: the same with the Free pool, seeded by
       sha256(`FREE_POOL_SEED_TAG` || `prev_hash`).
    4. With no eligible Free entry, the Free pool joins the staked pool.
       With no eligible staked entry (or no draw), the staked pool goes to
       `proposer_reward_address`: the proposer is a live voting member, and
       paying it keeps the issuance schedule while heartbeats are missing.
    5. Payments to one address merge into one output, in order of first
       payment (staked draws, then Free draws, then the fallback); an output
       below `max(dust_limit, 1)` is left out (its amount is never created).

    Parameters:
        registry: the registry after block `height - 1`.
        height: the block's height.
        prev_hash: the block's `prev_hash` (the hash of block `height - 1`).
        fees: the sum of the fees of the block's non-coinbase transactions.
        proposer_reward_address: `get_proposer_reward_address` of the
            block's proposer.
        params: the chain parameters.

    Raises:
        ValueError: `prev_hash` is not 32 bytes, or `fees` is negative.
    """
    if fees < 0:
        raise ValueError(f"fees: expected at least 0, got {fees}")
    free_pool = compute_free_pool(params)
    staked_pool = params.block_subsidy - free_pool + fees
    count = params.rewarded_masternodes_per_block
    eligible = get_reward_eligible_entries(registry, height, params)
    free = [entry for entry in eligible if entry.tier == Tier.FREE]
    staked = [entry for entry in eligible if entry.tier != Tier.FREE]
    free_winners = select_weighted(free, sha256(FREE_POOL_SEED_TAG + prev_hash), count, params)
    staked_winners = select_weighted(staked, prev_hash, count, params)
    payments: list[tuple[bytes, int]] = []
    if not free_winners:
        staked_pool += free_pool
    if staked_winners:
        payments.extend(_split(staked_pool, staked_winners))
    if free_winners:
        payments.extend(_split(free_pool, free_winners))
    if not staked_winners:
        payments.append((proposer_reward_address, staked_pool))
    merged: dict[bytes, int] = {}
    for address, amount in payments:
        merged[address] = merged.get(address, 0) + amount
    floor = max(params.dust_limit, 1)
    return [
        TxOutput(amount=amount, address=address)
        for address, amount in merged.items()
        if amount >= floor
    ]

"""`compute_reward_outputs` on synthetic registries: expected rewards are
proportional to reward weight, Free masternodes never dilute the staked
tiers, the pools fall back as documented, and the result is deterministic."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace as dc_replace

import msgspec

from timecoin.crypto import sha256
from timecoin.masternode import (
    MasternodeEntry,
    RegistryState,
    compute_free_pool,
    compute_reward_outputs,
)
from timecoin.params import COIN, MINIMAL, Tier
from timecoin.types import VotingSet

PARAMS = MINIMAL
HEIGHT = 100
WINDOW = HEIGHT // PARAMS.reward_window_blocks
PROPOSER = b"\x01" * 20


def entry(label: int, tier: Tier, *, heartbeat: bool = True) -> MasternodeEntry:
    return MasternodeEntry(
        masternode_id=sha256(b"mn" + bytes([label])),
        tier=tier,
        collateral=None,
        owner_key=sha256(b"owner" + bytes([label])),
        operator_key=sha256(b"op" + bytes([label])),
        reward_address=bytes([label]) * 20,
        network_address=b"",
        registered_height=0,
        active_from_epoch=0,
        last_heartbeat_sequence=1 if heartbeat else None,
        last_heartbeat_window=WINDOW if heartbeat else None,
    )


def registry(*entries: MasternodeEntry) -> RegistryState:
    ordered = tuple(sorted(entries, key=lambda e: e.masternode_id))
    return RegistryState(HEIGHT - 1, ordered, VotingSet(PARAMS.epoch_of(HEIGHT), []), None)


def outputs_by_label(state: RegistryState, seed: bytes, fees: int = 0) -> dict[int, int]:
    outputs = compute_reward_outputs(state, HEIGHT, seed, fees, PROPOSER, PARAMS)
    return {o.address[0]: o.amount for o in outputs}


def test_expected_reward_is_proportional_to_weight() -> None:
    state = registry(entry(1, Tier.GOLD), entry(2, Tier.SILVER), entry(3, Tier.BRONZE))
    totals: Counter[int] = Counter()
    for r in range(400):
        totals.update(outputs_by_label(state, sha256(bytes([r % 256, r // 256]))))
    gold, silver, bronze = totals[1], totals[2], totals[3]
    # Weights 100 : 10 : 1 of 111; 400 blocks x 4 draws.
    assert abs(gold / (gold + silver + bronze) - 100 / 111) < 0.03
    assert silver > bronze


def test_free_masternodes_share_only_the_free_pool() -> None:
    free = [entry(10 + i, Tier.FREE) for i in range(50)]
    state = registry(entry(1, Tier.BRONZE), *free)
    for r in range(20):
        paid = outputs_by_label(state, sha256(bytes([r])), fees=5 * COIN)
        assert paid[1] == PARAMS.block_subsidy - compute_free_pool(PARAMS) + 5 * COIN
        assert sum(v for k, v in paid.items() if k != 1) == compute_free_pool(PARAMS)


def test_pool_fallbacks() -> None:
    seed = sha256(b"seed")
    # No Free masternode: the Free pool joins the staked pool.
    assert outputs_by_label(registry(entry(1, Tier.SILVER)), seed) == {1: PARAMS.block_subsidy}
    # No staked masternode: the staked pool goes to the proposer.
    paid = outputs_by_label(registry(entry(9, Tier.FREE)), seed, fees=7)
    assert paid == {
        9: compute_free_pool(PARAMS),
        1: PARAMS.block_subsidy - compute_free_pool(PARAMS) + 7,
    }
    # Nobody eligible (no heartbeat, or a stale one): the proposer takes all.
    silent = registry(entry(1, Tier.GOLD, heartbeat=False), entry(9, Tier.FREE, heartbeat=False))
    assert outputs_by_label(silent, seed, fees=7) == {1: PARAMS.block_subsidy + 7}
    stale = msgspec.structs.replace(
        entry(3, Tier.GOLD), last_heartbeat_window=WINDOW - PARAMS.heartbeat_grace_windows - 1
    )
    assert outputs_by_label(registry(stale), seed) == {1: PARAMS.block_subsidy}
    just_in_time = msgspec.structs.replace(
        stale, last_heartbeat_window=WINDOW - PARAMS.heartbeat_grace_windows
    )
    assert outputs_by_label(registry(just_in_time), seed) == {3: PARAMS.block_subsidy}


def test_deterministic_even_split_and_dust() -> None:
    state = registry(entry(1, Tier.BRONZE), entry(2, Tier.BRONZE))
    seed = sha256(b"x")
    first = compute_reward_outputs(state, HEIGHT, seed, 3, PROPOSER, PARAMS)
    assert first == compute_reward_outputs(state, HEIGHT, seed, 3, PROPOSER, PARAMS)
    assert sum(o.amount for o in first) == PARAMS.block_subsidy + 3
    poor = dc_replace(PARAMS, block_subsidy=PARAMS.dust_limit)
    tiny = compute_reward_outputs(state, HEIGHT, seed, 0, PROPOSER, poor)
    # The staked pool split over four draws is below dust: nothing is created.
    assert all(o.amount >= poor.dust_limit for o in tiny)

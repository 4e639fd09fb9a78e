"""Committees: eligibility, the max_voters cap, tie-breaks; draws by reward weight."""

from __future__ import annotations

import dataclasses
import math
import random

import msgspec
import pytest
from masternode_helpers import PARAMS, genesis_state, make_key

from timecoin.crypto import sha256
from timecoin.masternode import (
    MAX_DRAWS,
    MasternodeEntry,
    compute_tiebreak_hash,
    compute_voting_set,
    compute_voting_set_from_entries,
    select_weighted,
)
from timecoin.params import DEFAULT_TIERS, Tier, TierParams
from timecoin.types import OutPoint

SEED = sha256(b"seed")


def _entry(n: int, tier: Tier, **changes: object) -> MasternodeEntry:
    entry = MasternodeEntry(
        masternode_id=sha256(b"id" + bytes([n])),
        tier=tier,
        collateral=None if tier == Tier.FREE else OutPoint(sha256(b"id" + bytes([n])), 0),
        owner_key=make_key(f"c-owner{n}").public_key,
        operator_key=sha256(b"operator" + bytes([n])),
        reward_address=bytes(20),
        network_address=b"",
        registered_height=0,
        active_from_epoch=0,
    )
    return msgspec.structs.replace(entry, **changes)


def test_committee_is_the_highest_weights_then_tiebreak_order() -> None:
    tiers = [Tier.BRONZE] * 6 + [Tier.GOLD] * 2 + [Tier.FREE] * 2 + [Tier.SILVER] * 3
    state = genesis_state(tiers)
    assert PARAMS.max_voters == 7
    voting_set = state.voting_set
    assert [v.weight for v in voting_set.voters] == [100, 100, 10, 10, 10, 1, 1]

    bronze_keys = [make_key(f"op{i}").public_key for i in range(6)]
    expected_bronze = sorted(bronze_keys, key=lambda k: compute_tiebreak_hash(bytes(32), k))[:2]
    assert [v.operator_key for v in voting_set.voters[5:]] == expected_bronze
    for first, second in zip(voting_set.voters, voting_set.voters[1:], strict=False):
        if first.weight == second.weight:
            assert compute_tiebreak_hash(bytes(32), first.operator_key) < compute_tiebreak_hash(
                bytes(32), second.operator_key
            )


def test_committee_does_not_depend_on_input_order_and_follows_the_seed() -> None:
    entries = [_entry(n, Tier.BRONZE) for n in range(20)]
    reference = compute_voting_set_from_entries(entries, 0, SEED, PARAMS)
    shuffled = list(entries)
    random.Random(7).shuffle(shuffled)
    assert compute_voting_set_from_entries(shuffled, 0, SEED, PARAMS) == reference
    assert len(reference.voters) == PARAMS.max_voters

    selections = {
        frozenset(
            v.masternode_id
            for v in compute_voting_set_from_entries(entries, 0, sha256(bytes([s])), PARAMS).voters
        )
        for s in range(8)
    }
    assert len(selections) > 1


def test_committee_eligibility() -> None:
    entries = [
        _entry(1, Tier.GOLD),
        _entry(2, Tier.FREE),
        _entry(3, Tier.SILVER, active_from_epoch=6),
        _entry(4, Tier.SILVER, banned_from_epoch=5),
        _entry(5, Tier.BRONZE, deregistered_from_epoch=5),
        _entry(6, Tier.BRONZE, banned_from_epoch=9, deregistered_from_epoch=9),
    ]
    voting_set = compute_voting_set_from_entries(entries, 5, SEED, PARAMS)
    assert voting_set.epoch == 5
    assert [v.masternode_id for v in voting_set.voters] == [
        entries[0].masternode_id,
        entries[5].masternode_id,
    ]
    assert voting_set.total_weight == 101
    at_six = compute_voting_set_from_entries(entries, 6, SEED, PARAMS)
    assert [v.weight for v in at_six.voters] == [100, 10, 1]


def test_committee_with_no_eligible_masternode_is_empty() -> None:
    state = genesis_state([Tier.FREE, Tier.FREE])
    assert state.voting_set.voters == []
    assert compute_voting_set(state, 0, SEED, PARAMS).total_weight == 0


def test_committee_seed_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="seed"):
        compute_voting_set_from_entries([], 0, b"", PARAMS)


def test_select_weighted_is_proportional_to_reward_weight() -> None:
    entries = [_entry(1, Tier.BRONZE), _entry(2, Tier.SILVER), _entry(3, Tier.GOLD)]
    counts = dict.fromkeys((e.masternode_id for e in entries), 0)
    rounds = 5
    for r in range(rounds):
        for entry in select_weighted(entries, sha256(bytes([r])), MAX_DRAWS, PARAMS):
            counts[entry.masternode_id] += 1
    draws = rounds * MAX_DRAWS
    total = 111
    for entry, weight in zip(entries, (1, 10, 100), strict=True):
        p = weight / total
        sd = math.sqrt(draws * p * (1 - p))
        assert abs(counts[entry.masternode_id] - draws * p) < 5 * sd


def test_select_weighted_is_deterministic_and_order_free() -> None:
    entries = [_entry(n, Tier.SILVER if n % 3 else Tier.BRONZE) for n in range(10)]
    picked = select_weighted(entries, SEED, 4, PARAMS)
    assert len(picked) == 4
    assert select_weighted(list(reversed(entries)), SEED, 4, PARAMS) == picked
    assert select_weighted(entries, SEED, 6, PARAMS)[:4] == picked
    assert select_weighted(entries, sha256(b"other"), 4, PARAMS) != picked


def test_select_weighted_edge_cases() -> None:
    assert select_weighted([], SEED, 3, PARAMS) == []
    assert select_weighted([_entry(1, Tier.GOLD)], SEED, 0, PARAMS) == []
    only = _entry(1, Tier.GOLD)
    assert select_weighted([only], SEED, 3, PARAMS) == [only] * 3

    no_free_rewards = dataclasses.replace(
        PARAMS, tiers=(TierParams(Tier.FREE, 0, 0, 0), *DEFAULT_TIERS[1:])
    )
    free = _entry(2, Tier.FREE)
    assert select_weighted([free], SEED, 3, no_free_rewards) == []
    assert select_weighted([free, only], SEED, 50, no_free_rewards) == [only] * 50

    with pytest.raises(ValueError, match="count"):
        select_weighted([only], SEED, -1, PARAMS)
    with pytest.raises(ValueError, match="count"):
        select_weighted([only], SEED, MAX_DRAWS + 1, PARAMS)
    with pytest.raises(ValueError, match="seed"):
        select_weighted([only], SEED[:31], 1, PARAMS)

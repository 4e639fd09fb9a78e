"""The every-voter committee rule (ADR 0013): every masternode with voting
weight sits, up to `max_voters`; the cut, if any, is by weight then age, never
by the seed; it activates at `params.activation.all_voters_height`."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest
from masternode_helpers import PARAMS, genesis_state

from timecoin.crypto import sha256
from timecoin.masternode import (
    MasternodeEntry,
    compute_eligible_weight,
    compute_tiebreak_hash,
    compute_voting_set_from_entries,
    is_all_voters_rule,
)
from timecoin.params import PRESETS, ActivationHeights, ChainParams, Tier
from timecoin.types import OutPoint

ALL_VOTERS = dataclasses.replace(PARAMS, activation=ActivationHeights(all_voters_height=0))
SEEDS = [sha256(bytes([s])) for s in range(16)]


def _entry(n: int, tier: Tier, registered_height: int = 0) -> MasternodeEntry:
    return MasternodeEntry(
        masternode_id=sha256(b"rule-id" + n.to_bytes(2, "big")),
        tier=tier,
        collateral=OutPoint(sha256(b"rule-id" + n.to_bytes(2, "big")), 0),
        owner_key=sha256(b"owner" + n.to_bytes(2, "big")),
        operator_key=sha256(b"operator" + n.to_bytes(2, "big")),
        reward_address=bytes(20),
        network_address=b"",
        registered_height=registered_height,
        active_from_epoch=0,
    )


def _members(
    entries: list[MasternodeEntry], epoch: int, seed: bytes, params: ChainParams
) -> set[bytes]:
    voting_set = compute_voting_set_from_entries(entries, epoch, seed, params)
    return {v.masternode_id for v in voting_set.voters}


def test_every_eligible_masternode_sits_with_its_full_weight() -> None:
    entries = [_entry(n, Tier.BRONZE) for n in range(4)] + [_entry(9, Tier.GOLD)]
    entries.append(msgspec.structs.replace(_entry(10, Tier.FREE), collateral=None))
    voting_set = compute_voting_set_from_entries(entries, 0, SEEDS[0], ALL_VOTERS)
    assert len(voting_set.voters) == 5
    assert voting_set.total_weight == 104
    # the order (voter indices) still follows the seed among equal weights
    bronze = [v.operator_key for v in voting_set.voters[1:]]
    assert bronze == sorted(bronze, key=lambda k: compute_tiebreak_hash(SEEDS[0], k))


def test_adversary_share_of_the_committee_is_its_share_of_the_total() -> None:
    # 30 Bronze, 12 Silver, 1 Gold would not fit 7 seats under the old rule;
    # with max_voters large enough every voter sits: the shares are equal.
    params = dataclasses.replace(ALL_VOTERS, max_voters=100)
    entries = (
        [_entry(n, Tier.BRONZE) for n in range(30)]
        + [_entry(100 + n, Tier.SILVER) for n in range(12)]
        + [_entry(200, Tier.GOLD)]
    )
    adversary = {e.masternode_id for e in entries[:10]} | {e.masternode_id for e in entries[30:34]}
    total = 30 + 120 + 100
    adversary_weight = 10 + 40
    for seed in SEEDS:
        voting_set = compute_voting_set_from_entries(entries, 3, seed, params)
        assert voting_set.total_weight == total
        bad = sum(v.weight for v in voting_set.voters if v.masternode_id in adversary)
        assert bad == adversary_weight


def test_cut_takes_the_heaviest_then_the_oldest_whatever_the_seed() -> None:
    # 12 Bronze for 7 seats: 2 Silver sit, then the 5 oldest Bronze.
    bronze = [_entry(n, Tier.BRONZE, registered_height=100 - n) for n in range(12)]
    silver = [_entry(50 + n, Tier.SILVER, registered_height=500) for n in range(2)]
    entries = bronze + silver
    expected = {e.masternode_id for e in silver} | {e.masternode_id for e in bronze[-5:]}
    for seed in SEEDS:
        assert _members(entries, 2, seed, ALL_VOTERS) == expected


def test_eligible_weight_measures_what_the_cut_leaves_out() -> None:
    bronze = [_entry(n, Tier.BRONZE, registered_height=n) for n in range(12)]
    gold = [_entry(50, Tier.GOLD)]
    free = [msgspec.structs.replace(_entry(60, Tier.FREE), collateral=None)]
    entries = bronze + gold + free
    voting_set = compute_voting_set_from_entries(entries, 2, SEEDS[0], ALL_VOTERS)
    assert compute_eligible_weight(entries, 2, ALL_VOTERS) == 112
    assert voting_set.total_weight == 106  # Gold and the 6 oldest Bronze
    roomy = dataclasses.replace(ALL_VOTERS, max_voters=32)
    everyone = compute_voting_set_from_entries(entries, 2, SEEDS[0], roomy)
    assert everyone.total_weight == compute_eligible_weight(entries, 2, roomy)


def test_cut_breaks_equal_age_by_masternode_id() -> None:
    entries = [_entry(n, Tier.BRONZE) for n in range(10)]
    expected = set(sorted(e.masternode_id for e in entries)[: PARAMS.max_voters])
    assert _members(entries, 1, SEEDS[3], ALL_VOTERS) == expected


def test_top_weight_rule_lets_the_seed_choose_who_sits() -> None:
    """Before activation the seed decides the cut (what a seed grinder exploits)."""
    entries = [_entry(n, Tier.BRONZE) for n in range(10)]
    old = {frozenset(_members(entries, 1, seed, PARAMS)) for seed in SEEDS}
    new = {frozenset(_members(entries, 1, seed, ALL_VOTERS)) for seed in SEEDS}
    assert len(old) > 1
    assert len(new) == 1


def test_rule_activates_with_the_first_epoch_at_or_above_its_height() -> None:
    params = dataclasses.replace(PARAMS, activation=ActivationHeights(all_voters_height=8))
    assert PARAMS.epoch_length == 4
    assert not is_all_voters_rule(1, params)  # heights 4..7
    assert is_all_voters_rule(2, params)  # heights 8..11
    assert not is_all_voters_rule(100, PARAMS)
    entries = [_entry(n, Tier.BRONZE) for n in range(10)]
    by_id = set(sorted(e.masternode_id for e in entries)[: PARAMS.max_voters])
    seed = next(s for s in SEEDS if _members(entries, 1, s, PARAMS) != by_id)
    assert _members(entries, 1, seed, params) == _members(entries, 1, seed, PARAMS) != by_id
    assert _members(entries, 2, seed, params) == by_id


def test_genesis_committee_follows_the_active_rule() -> None:
    state = genesis_state([Tier.BRONZE] * 9, params=ALL_VOTERS)
    lowest_ids = sorted(e.masternode_id for e in state.entries)[: PARAMS.max_voters]
    assert sorted(v.masternode_id for v in state.voting_set.voters) == lowest_ids


@pytest.mark.parametrize("name", ["mainnet", "testnet", "devnet"])
def test_networks_run_the_every_voter_rule_from_genesis(name: str) -> None:
    params = PRESETS[name]
    assert params.activation.all_voters_height == 0
    assert is_all_voters_rule(0, params)
    assert params.max_voters >= 300


def test_minimal_keeps_the_top_weight_rule_for_unit_tests() -> None:
    assert PRESETS["minimal"].activation.all_voters_height is None

"""Weighted proposer rotation (`proposer(h_p, round)` of Algorithm 1, line 14)."""

from __future__ import annotations

from collections import Counter

import pytest
from consensus_harness import make_keys, make_voting_set

from timecoin.consensus import compute_proposer_slot, select_proposer
from timecoin.crypto import sha256
from timecoin.encoding import u32be, u64be


def test_line_14_proposer_is_deterministic_and_matches_the_documented_formula() -> None:
    voting_set = make_voting_set(make_keys(3), (1, 10, 100))
    seed = b"seed"
    for height in range(1, 50):
        for round in range(3):
            slot = int.from_bytes(sha256(seed + u64be(height) + u32be(round)), "big") % 111
            expected = 0 if slot < 1 else 1 if slot < 11 else 2
            assert compute_proposer_slot(111, height, round, seed) == slot
            assert select_proposer(voting_set, height, round, seed) == expected
            assert select_proposer(voting_set, height, round, seed) == expected


def test_line_14_frequencies_are_proportional_to_weight() -> None:
    weights = (1, 10, 100, 10, 1)
    voting_set = make_voting_set(make_keys(len(weights)), weights)
    samples = 40_000
    counts = Counter(select_proposer(voting_set, h, 0, b"epoch") for h in range(samples))
    total = sum(weights)
    for index, weight in enumerate(weights):
        expected = samples * weight / total
        sigma = (samples * (weight / total) * (1 - weight / total)) ** 0.5
        assert abs(counts[index] - expected) < 5 * sigma + 1, (index, counts[index], expected)


def test_line_14_rounds_rotate_the_proposer() -> None:
    voting_set = make_voting_set(make_keys(4), (1, 1, 1, 1))
    chosen = {select_proposer(voting_set, 9, r, b"s") for r in range(40)}
    assert chosen == {0, 1, 2, 3}


def test_zero_weight_voter_is_never_proposer() -> None:
    voting_set = make_voting_set(make_keys(3), (0, 5, 0))
    assert {select_proposer(voting_set, h, 0, b"s") for h in range(200)} == {1}


def test_weightless_voting_set_is_refused() -> None:
    voting_set = make_voting_set(make_keys(2), (0, 0))
    with pytest.raises(ValueError, match="positive"):
        select_proposer(voting_set, 1, 0, b"s")

"""Timeouts grow linearly per round up to timeout_max_ms (lines 21, 35, 48)."""

from __future__ import annotations

from dataclasses import replace

from consensus_harness import (
    GENESIS_TS,
    PARAMS,
    Network,
    find_seed,
    make_single,
    of_type,
    precommit,
)

from timecoin.consensus import ScheduleTimeout, TimeoutStep, compute_timeout_ms
from timecoin.types import ZERO_HASH


def test_line_21_35_48_timeouts_grow_linearly_and_are_capped() -> None:
    params = replace(
        PARAMS,
        timeout_propose_ms=1_000,
        timeout_vote_ms=500,
        timeout_delta_ms=250,
        timeout_max_ms=3_000,
    )
    assert [compute_timeout_ms(params, TimeoutStep.PROPOSE, r) for r in range(11)] == [
        1_000,
        1_250,
        1_500,
        1_750,
        2_000,
        2_250,
        2_500,
        2_750,
        3_000,
        3_000,
        3_000,
    ]
    assert compute_timeout_ms(params, TimeoutStep.PREVOTE, 4) == 1_500
    assert compute_timeout_ms(params, TimeoutStep.PRECOMMIT, 4) == 1_500
    assert compute_timeout_ms(params, TimeoutStep.PRECOMMIT, 1_000) == 3_000


def test_line_21_machine_schedules_the_round_propose_timeout() -> None:
    probe = make_single()
    seed = find_seed(probe.voting_set, lambda p0, p1: p0 != 0 and p1 != 0)
    single = make_single(seed=seed)
    now = GENESIS_TS + PARAMS.block_interval_ms
    single.machine.on_start(now)
    for round in (1, 5, 9, 60):
        effects = []
        for voter in (1, 2):
            effects += single.machine.on_vote(
                precommit(single.keys[voter], 1, round, ZERO_HASH), now
            )
        assert single.machine.round == round
        timeouts = [t for t in of_type(effects, ScheduleTimeout) if t.step == TimeoutStep.PROPOSE]
        if timeouts:  # none when this node proposes the round
            [timeout] = timeouts
            assert timeout.at_ms == now + compute_timeout_ms(PARAMS, TimeoutStep.PROPOSE, round)


def test_line_65_67_rounds_advance_with_an_offline_proposer_and_growing_timeouts() -> None:
    """The round-0 proposer is down: rounds time out until a live proposer's round."""
    net = Network(weights=(1, 1, 1, 1))
    proposer0 = net.machines[0].get_proposer_index(0)
    net.crashed.add(proposer0)
    live = [i for i in range(4) if i != proposer0]
    net.start()
    net.run_until(lambda: net.heights_committed(live) >= 3)
    assert any(net.commits[live[0]][h].certificate.round > 0 for h in range(3))
    for i in live:
        assert [c.certificate.block_hash for c in net.commits[i][:3]] == [
            c.certificate.block_hash for c in net.commits[live[0]][:3]
        ]

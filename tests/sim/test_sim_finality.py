"""Instant finality in the simulator: the finality campaign of `make test`
(100 seeds over 4 to 7 nodes, random faults, the most Byzantine nodes below
a third voting for both sides of every double spend, double-spend attacks
and epoch changes under load), and the non-vacuity of its checkers: with
more than a third of the weight voting for both sides, conflicting
transactions become final in some seeds, and the command line says so.

Split in chunks so that both pytest workers share the campaign. A failure
prints each failed seed with the command that replays it.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from timecoin.cli.sim_cmd import sim_cmd
from timecoin.sim.campaign import BYZANTINE_MAX, CampaignSpec, run_campaign
from timecoin.sim.config import SimConfig
from timecoin.sim.simulator import run_simulation

SEEDS = 100
CHUNKS = 4
SPEC = CampaignSpec(
    min_nodes=4, max_nodes=7, byzantine=BYZANTINE_MAX, strategy="doublevote", heights=12
)
FIRST_SEED = 10_000
"""Seeds apart from the consensus campaign's."""


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_finality_campaign_chunk_has_no_violation(chunk: int) -> None:
    size = SEEDS // CHUNKS
    first = FIRST_SEED + chunk * size
    summary = run_campaign(SPEC, range(first, first + size))
    assert summary.seeds == size
    assert summary.ok, summary.describe()
    assert all(o.min_height >= SPEC.heights for o in summary.outcomes)


def test_finality_runs_pay_rewards_and_make_transactions_final() -> None:
    result = run_simulation(SimConfig(nodes=5, seed=3, heights=16))
    assert result.ok, result.failure_report()
    assert result.final_transactions > 10
    assert result.transactions > 10
    assert result.heartbeats > 5
    assert result.reward_recipients >= 3
    assert result.voting_set_changes >= 1


def test_checker_finds_conflicting_finals_with_a_third_double_voting() -> None:
    found = 0
    for seed in range(6):
        result = run_simulation(
            SimConfig(nodes=4, seed=seed, byzantine=2, strategy="doublevote", heights=12)
        )
        found += any(v.kind == "conflicting-final" for v in result.violations)
    assert found >= 1


def test_cli_exits_non_zero_when_two_of_four_double_vote() -> None:
    runner = CliRunner()
    result = runner.invoke(
        sim_cmd, ["--strategy", "doublevote", "--byzantine", "2", "--nodes", "4"]
    )
    assert result.exit_code != 0
    assert "conflicting-final" in result.output

"""The simulator holds the protocol to its promise (ADR 0013): it reports the
Byzantine share of every committee of a run, counts a violation as a
protocol defect only where that share is within the promise, and ends a
stalled run promptly with its verdict; a `grind` proposer measures what
choosing the next committee's seed buys."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from timecoin.cli.sim_cmd import sim_cmd
from timecoin.masternode import compute_eligible_weight
from timecoin.params import Tier
from timecoin.sim.campaign import CampaignSpec, CampaignSummary, SeedOutcome, config_for_seed
from timecoin.sim.config import (
    COMMITTEE_ALL,
    COMMITTEE_TOP,
    TIERS_MIXED,
    TOP_RULE_MAX_VOTERS,
    SimConfig,
)
from timecoin.sim.promise import CommitteeShare, compute_committee_share, is_promised
from timecoin.sim.simulator import (
    MONITOR_INTERVAL_MS,
    STALL_HEIGHTS,
    SimResult,
    Simulation,
    compute_liveness_budget_ms,
    run_simulation,
)


def test_promise_covers_safety_up_to_a_third_and_liveness_below() -> None:
    third = CommitteeShare(epoch=0, byzantine_weight=2, total_weight=6, eligible_weight=6)
    below = CommitteeShare(epoch=1, byzantine_weight=2, total_weight=7, eligible_weight=7)
    above = CommitteeShare(epoch=2, byzantine_weight=3, total_weight=7, eligible_weight=9)
    assert is_promised("agreement", [third, below])
    assert is_promised("conflicting-final", [below])
    assert not is_promised("agreement", [below, above])
    assert is_promised("liveness", [below])
    assert not is_promised("liveness", [third])
    assert not is_promised("payment-not-final", [below, third])
    assert above.describe() == "epoch 2: 3/7 of 9"
    assert below.describe() == "epoch 1: 2/7"


def test_every_node_votes_and_the_share_of_every_committee_is_reported() -> None:
    config = SimConfig(nodes=7, seed=11, byzantine=2, strategy="withhold", heights=9)
    result = run_simulation(config)
    assert result.ok, result.failure_report()
    epochs = [s.epoch for s in result.committee_shares]
    assert epochs == sorted(epochs) and len(epochs) >= 3
    for share in result.committee_shares:
        # every genesis node sits: the committee share is the network's share
        assert share.byzantine_weight == 2
        assert share.total_weight >= 7
    assert result.max_byzantine_share == 2 / 7
    assert result.defects == []


def test_top_weight_rule_committee_is_the_old_cap() -> None:
    config = SimConfig(nodes=9, seed=5, heights=1, committee=COMMITTEE_TOP)
    params = config.chain_params()
    assert params.max_voters == TOP_RULE_MAX_VOTERS
    assert params.activation.all_voters_height is None
    assert SimConfig(nodes=9, seed=5).chain_params().activation.all_voters_height == 0
    assert config.replay_command().endswith("--committee top")


def test_stalled_run_ends_promptly_with_its_verdict_outside_the_promise() -> None:
    """Half the weight withholds: no block ever. The run used to go on to the
    deadline of its whole target (here 30 heights) while its event rate grew."""
    config = SimConfig(nodes=4, seed=1, byzantine=2, strategy="withhold", heights=30)
    result = run_simulation(config)
    assert [v.kind for v in result.violations] == ["liveness"]
    assert "no progress" in result.violations[0].message
    stall_ms = compute_liveness_budget_ms(config, STALL_HEIGHTS)
    assert result.virtual_ms <= result.heal_ms + stall_ms + MONITOR_INTERVAL_MS
    assert result.virtual_ms < result.heal_ms + compute_liveness_budget_ms(config, 30) // 4
    assert result.committee_shares[0].describe() == "epoch 0: 2/4"
    assert result.defects == []  # beyond the promise: what the checker must find
    assert "0 within the promise" in result.failure_report()


def test_campaign_summary_separates_defects_from_runs_beyond_the_promise() -> None:
    def outcome(seed: int, defects: int, share: float, within: bool) -> SeedOutcome:
        return SeedOutcome(
            config=SimConfig(nodes=4, seed=seed),
            min_height=1,
            virtual_ms=1,
            events=1,
            safety_violations=1,
            liveness_failures=0,
            report=f"seed {seed}",
            defects=defects,
            max_byzantine_share=share,
            within_promise=within,
        )

    summary = CampaignSummary([outcome(1, 0, 0.5, False), outcome(2, 1, 0.25, True)])
    assert summary.defects == 1
    assert summary.runs_beyond_promise == 1
    text = summary.describe()
    assert "protocol defects (violations within the promise): 1" in text
    assert "largest Byzantine share of a committee: 0.500" in text


def test_cli_reports_the_byzantine_share_per_seed() -> None:
    args = "--nodes 4 --seed 3 --heights 3 --byzantine 1 --strategy withhold --faults none"
    outcome = CliRunner().invoke(sim_cmd, [*args.split(), "--verbose"])
    assert outcome.exit_code == 0, outcome.output
    assert "max-byzantine-share=0.250 defects=0" in outcome.output
    assert "protocol defects (violations within the promise): 0" in outcome.output


def _grind(committee: str) -> SimResult:
    config = SimConfig(
        nodes=10,
        seed=0,
        byzantine=3,
        strategy="grind",
        heights=20,
        faults="none",
        committee=committee,
    )
    result = run_simulation(config)
    assert result.ok, result.failure_report()
    assert result.seeds_ground > 0
    return result


def test_grinding_the_seed_block_buys_committee_weight_under_the_top_weight_rule() -> None:
    result = _grind(COMMITTEE_TOP)
    assert result.seeds_improved > 0
    assert result.grind_gain_weight > 0
    # 3 of 10 Bronze: 2.1 of 7 seats on average; ground committees hold 3
    assert max(s.byzantine_weight for s in result.committee_shares) == 3
    assert not all(s.is_liveness_promised() for s in result.committee_shares)


def test_grinding_buys_nothing_when_every_voter_votes() -> None:
    result = _grind(COMMITTEE_ALL)
    assert result.seeds_improved == 0
    assert result.grind_gain_weight == 0
    assert {s.byzantine_weight for s in result.committee_shares} == {3}


def _network_share(sim: Simulation) -> tuple[int, int]:
    entries = sim.genesis_state.registry.entries
    weights = {e.operator_key: sim.params.tier_params(e.tier).voting_weight for e in entries}
    bad = sum(w for key, w in weights.items() if sim.is_byzantine_key(key))
    return bad, sum(weights.values())


def test_byzantine_share_of_the_weight_from_a_mixed_population() -> None:
    config = SimConfig(
        nodes=10, seed=1, byzantine_percent=25, strategy="withhold", tiers=TIERS_MIXED
    )
    sim = Simulation(config)
    tiers = sorted(e.tier for e in sim.genesis_state.registry.entries)
    assert tiers.count(Tier.GOLD) == 1 and tiers.count(Tier.SILVER) == 3
    bad, total = _network_share(sim)
    assert total == 136
    assert 0 < 100 * bad <= 25 * total
    committee = compute_committee_share(sim.genesis_state.registry.voting_set, sim.is_byzantine_key)
    assert (committee.byzantine_weight, committee.total_weight) == (bad, total)
    assert "--byzantine 25% --strategy withhold" in config.replay_command()
    assert config.replay_command().endswith("--tiers mixed")


def test_top_weight_rule_committee_share_differs_from_the_network_share() -> None:
    """The cut drops Bronze weight, so the committee's Byzantine share is not
    the network's (here lower: the Byzantine nodes hold the Bronze cut)."""
    shares = set()
    for seed in range(3):
        config = SimConfig(
            nodes=10,
            seed=seed,
            byzantine_percent=30,
            strategy="withhold",
            tiers=TIERS_MIXED,
            committee=COMMITTEE_TOP,
        )
        sim = Simulation(config)
        bad, total = _network_share(sim)
        committee = compute_committee_share(
            sim.genesis_state.registry.voting_set, sim.is_byzantine_key
        )
        assert committee.total_weight < total
        registry = sim.genesis_state.registry
        assert compute_eligible_weight(registry.entries, 0, sim.params) == total
        shares.add(committee.byzantine_weight * total == bad * committee.total_weight)
    assert shares == {False}


def test_cli_takes_a_share_of_the_weight() -> None:
    args = "--nodes 4 --seed 3 --heights 2 --byzantine 25% --strategy withhold --faults none"
    outcome = CliRunner().invoke(sim_cmd, [*args.split(), "--verbose"])
    assert outcome.exit_code == 0, outcome.output
    assert "byzantine=25%/withhold" in outcome.output
    bad = CliRunner().invoke(sim_cmd, ["--byzantine", "0%", "--strategy", "withhold"])
    assert bad.exit_code == 2
    both = SimConfig(nodes=4, seed=0, byzantine=1, byzantine_percent=25, strategy="withhold")
    with pytest.raises(ValueError, match="not both"):
        both.check()


@pytest.mark.parametrize("seed", [915000, 915001])
def test_thirteen_node_withhold_seeds_stay_live_when_every_node_votes(seed: int) -> None:
    """4 withholders of 13 hold 4/13 < 1/3 of the weight. Under the old rule
    a 7-seat committee held 3 of them from epoch 1 and 10 honest nodes
    stopped at height 3 (beyond the promise, not a defect); now the
    committee is the network."""
    spec = CampaignSpec(min_nodes=13, max_nodes=13, byzantine=4, strategy="withhold", heights=5)
    config = config_for_seed(spec, seed)
    assert config.replay_command().startswith(f"timecoin sim --nodes 13 --seed {seed} --faults")
    result = run_simulation(config)
    assert result.ok, result.failure_report()
    assert {s.byzantine_weight for s in result.committee_shares} == {4}
    assert all(s.total_weight >= 13 for s in result.committee_shares)

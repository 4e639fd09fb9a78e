"""Scale runs: 100 and 1,000 masternodes of mixed tiers, a committee of at
most 100 voters, followers that only apply committed blocks."""

from __future__ import annotations

import pytest

from timecoin.params import Tier
from timecoin.sim.config import SimConfig
from timecoin.sim.simulator import Simulation


@pytest.mark.parametrize("nodes", [100, 1_000])
def test_scale_run_commits_ten_heights(nodes: int) -> None:
    sim = Simulation(SimConfig(nodes=nodes, seed=5, heights=10))
    result = sim.run()
    assert result.ok, result.failure_report()
    assert result.min_height >= 10
    node = sim.nodes[0]
    voting_set = node.state.registry.voting_set
    assert len(voting_set.voters) <= 100
    tiers = {entry.tier for entry in node.state.registry.entries}
    assert tiers == {Tier.FREE, Tier.BRONZE, Tier.SILVER, Tier.GOLD}
    followers = [n for n in sim.nodes if n.machine is None]
    assert len(followers) >= nodes - len(voting_set.voters)

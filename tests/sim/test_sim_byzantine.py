"""Each Byzantine strategy below a third of the weight breaks nothing, and
the checkers find the forks that more than a third can make."""

from __future__ import annotations

from click.testing import CliRunner

from timecoin.cli.sim_cmd import sim_cmd
from timecoin.masternode import get_entry
from timecoin.sim.byzantine import GarbageStrategy, InvalidStrategy
from timecoin.sim.config import SimConfig
from timecoin.sim.simulator import Simulation, run_simulation


def _run(strategy: str, seed: int, nodes: int = 4, byzantine: int = 1) -> Simulation:
    sim = Simulation(
        SimConfig(nodes=nodes, seed=seed, byzantine=byzantine, strategy=strategy, heights=16)
    )
    result = sim.run()
    assert result.ok, result.failure_report()
    return sim


def test_equivocation_is_recorded_included_and_banned() -> None:
    banned = recorded = included = 0
    for seed in range(4):
        sim = _run("equivocate", seed)
        recorded += sim.recorder.evidence_events
        node = sim.nodes[sim.honest_ids[0]]
        included += sum(len(block.evidence) for block, _ in node.disk.blocks)
        byzantine_key = sim.nodes[sim.byzantine_ids[0]].public_key
        entries = [e for e in node.state.registry.entries if e.operator_key == byzantine_key]
        entry = get_entry(node.state.registry, entries[0].masternode_id)
        voting_set = node.state.registry.voting_set
        # Evidence bans from the epoch after the block including it: a ban
        # recorded in the run's last epoch takes effect after the run.
        if entry is not None and entry.banned_from_epoch is not None:
            banned += 1
            if entry.banned_from_epoch <= voting_set.epoch:
                assert voting_set.index_of(byzantine_key) is None
    assert recorded > 0 and included > 0 and banned > 0


def test_withholding_node_does_not_stop_the_others() -> None:
    for seed in range(3):
        _run("withhold", seed)
    _run("withhold", 3, nodes=7, byzantine=2)


def test_invalid_proposals_are_never_committed() -> None:
    for seed in range(3):
        sim = _run("invalid", seed, nodes=7, byzantine=2)
        strategies = [sim.nodes[i].strategy for i in sim.byzantine_ids]
        assert sum(s.sent for s in strategies if isinstance(s, InvalidStrategy)) > 0


def test_garbage_is_rejected_by_the_decoder_and_nodes_survive() -> None:
    sim = _run("garbage", 4)
    strategy = sim.nodes[sim.byzantine_ids[0]].strategy
    assert isinstance(strategy, GarbageStrategy) and strategy.sent > 0
    honest = [sim.nodes[i] for i in sim.honest_ids]
    assert sum(n.decode_rejects for n in honest) > 0
    assert sum(n.invalid_messages for n in honest) > 0


def test_more_than_a_third_equivocating_forks_the_chain() -> None:
    kinds: list[str] = []
    for seed in range(4):
        result = run_simulation(
            SimConfig(nodes=4, seed=seed, byzantine=2, strategy="equivocate", heights=10)
        )
        kinds.extend(v.kind for v in result.violations)
        if not result.ok:
            assert "replay: timecoin sim --nodes 4 --seed" in result.failure_report()
    assert "agreement" in kinds


def test_cli_exits_non_zero_on_a_fork() -> None:
    outcome = CliRunner().invoke(
        sim_cmd, ["--nodes", "4", "--byzantine", "2", "--strategy", "equivocate", "--seeds", "3"]
    )
    assert outcome.exit_code == 1, outcome.output
    assert "agreement" in outcome.output
    assert "replay: timecoin sim --nodes 4 --seed" in outcome.output


def test_cli_exits_zero_when_all_seeds_pass() -> None:
    outcome = CliRunner().invoke(sim_cmd, ["--nodes", "4", "--seeds", "2", "--heights", "6"])
    assert outcome.exit_code == 0, outcome.output
    assert "safety violations: 0" in outcome.output

"""Consensus benchmark on the deterministic simulator.

Figures (all measured in this run, so ratios are meaningful on a noisy machine):
- wall time per committed height at 4, 100 and 1,000 masternodes (100 and
  1,000 with mixed tiers, a committee of at most 100 voters, the others
  following), each as a ratio to the 4-node figure;
- commit latency in simulated time, from the first send of the proposal to
  each honest node's commit, under LAN-like delays (1-5 ms): p50, p90, p99,
  against the target "three message delays plus verification cost", where
  the mean message delay is sampled from the same delay model and the
  verification cost is the Ed25519 verifications on the critical path (the
  proposal, then a quorum of prevotes and a quorum of precommits) at the
  per-verification time measured here.

Simulated time does not advance while a node computes, hence the explicit
verification term. Writes JSON to bench/results/consensus.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time

from benchlib import add_common_arguments, percentile, write_result
from timecoin.crypto import SigningKey, verify
from timecoin.sim.config import SimConfig
from timecoin.sim.network import sample_delay_ms
from timecoin.sim.simulator import SimResult, Simulation


def measure_verify_us(count: int) -> float:
    """Microseconds per Ed25519 verification (the consensus verifier)."""
    key = SigningKey.from_seed(bytes(range(32)))
    message = b"vote" * 20
    signature = key.sign(message)
    start = time.perf_counter()
    for _ in range(count):
        verify(key.public_key, message, signature)
    return (time.perf_counter() - start) / count * 1e6


def mean_lan_delay_ms(samples: int) -> float:
    """The mean of the LAN delay model, sampled."""
    rng = random.Random(0)
    return statistics.fmean(sample_delay_ms("lan", rng) for _ in range(samples))


def run_scale(nodes: int, heights: int, seeds: list[int]) -> tuple[dict[str, object], list[int]]:
    """Wall time per height of `nodes`-node runs without faults, and their
    commit latencies."""
    results: list[SimResult] = []
    committee = 0
    start = time.perf_counter()
    for seed in seeds:
        sim = Simulation(SimConfig(nodes=nodes, seed=seed, heights=heights, delay="lan"))
        results.append(sim.run())
        committee = len(sim.nodes[sim.honest_ids[0]].state.registry.voting_set.voters)
    wall_s = time.perf_counter() - start
    committed = sum(r.min_height for r in results)
    latencies = [ms for r in results for ms in r.commit_latencies_ms]
    summary: dict[str, object] = {
        "nodes": nodes,
        "committee": committee,
        "seeds": len(seeds),
        "heights_committed": committed,
        "violations": sum(len(r.violations) for r in results),
        "wall_s": wall_s,
        "wall_ms_per_height": wall_s * 1e3 / committed if committed else None,
        "events_per_height": sum(r.events for r in results) / committed if committed else None,
    }
    return summary, latencies


def main() -> None:
    """Run the benchmark, print a summary and write bench/results/consensus.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--heights", type=int, default=10, help="heights of the scale runs")
    parser.add_argument("--small-heights", type=int, default=50, help="heights of 4-node runs")
    add_common_arguments(parser)
    args = parser.parse_args()

    if args.smoke:
        verify_us = measure_verify_us(100)
        delay_ms = mean_lan_delay_ms(1_000)
        sizes = [(4, 3, [0]), (10, 2, [0])]
    else:
        verify_us = measure_verify_us(2_000)
        delay_ms = mean_lan_delay_ms(20_000)
        sizes = [(4, args.small_heights, [0, 1, 2, 3, 4]), (100, args.heights, [0])]
        sizes.append((1_000, args.heights, [0]))
    runs: list[dict[str, object]] = []
    latency_runs: dict[str, dict[str, float]] = {}
    for nodes, heights, seeds in sizes:
        run, latencies = run_scale(nodes, heights, seeds)
        runs.append(run)
        committee = run["committee"]
        quorum = 2 * committee // 3 + 1 if isinstance(committee, int) else 0
        verify_ms = (1 + 2 * quorum) * verify_us / 1e3
        target_ms = 3 * delay_ms + verify_ms
        latencies.sort()
        p50 = percentile(latencies, 50)
        latency_runs[str(nodes)] = {
            "commits": len(latencies),
            "p50_ms": p50,
            "p90_ms": percentile(latencies, 90),
            "p99_ms": percentile(latencies, 99),
            "target_p50_ms": target_ms,
            "verification_ms": verify_ms,
            "p50_ratio_to_target": p50 / target_ms,
            "p50_in_message_delays": p50 / delay_ms,
        }
        wall, baseline = run["wall_ms_per_height"], runs[0]["wall_ms_per_height"]
        if isinstance(wall, float) and isinstance(baseline, float):
            run["ratio_to_4_nodes"] = wall / baseline
    result = {
        "benchmark": "consensus",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "verify_us": verify_us,
        "mean_lan_delay_ms": delay_ms,
        "scale": runs,
        "commit_latency": latency_runs,
        "targets": {"p50_ms": "3 x mean delay + (1 + 2 x quorum) x verify"},
    }
    path = write_result(args, "consensus", result)
    print(f"Ed25519 verify: {verify_us:.1f} us; mean LAN delay: {delay_ms:.2f} ms")
    for run in runs:
        print(
            f"{run['nodes']:>5} nodes (committee {run['committee']}): "
            f"{run['wall_ms_per_height']:.1f} ms wall per height "
            f"({run.get('ratio_to_4_nodes', 1.0):.1f}x 4 nodes), "
            f"{run['events_per_height']:.0f} events per height, "
            f"{run['violations']} violations"
        )
    for label, lat in latency_runs.items():
        print(
            f"{label:>5} nodes commit latency: p50 {lat['p50_ms']:.0f} ms "
            f"({lat['p50_in_message_delays']:.1f} delays), p90 {lat['p90_ms']:.0f} ms, "
            f"p99 {lat['p99_ms']:.0f} ms; target p50 {lat['target_p50_ms']:.1f} ms "
            f"(ratio {lat['p50_ratio_to_target']:.2f})"
        )
    print(f"results: {path}")


if __name__ == "__main__":
    main()

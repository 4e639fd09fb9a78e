"""Campaigns: many seeded runs, each with its own configuration drawn from
its seed, summarised for the CLI, the tests and `make sim`.

A `CampaignSpec` says what may vary (node count range, Byzantine count,
strategy, fault profile); `config_for_seed` draws the concrete `SimConfig`
of a seed from a generator seeded by that seed alone, and the replay command
of a failure names the concrete values, so any failure replays from its
command without the campaign around it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Final

from timecoin.sim.byzantine import STRATEGIES
from timecoin.sim.config import (
    COMMITTEE_ALL,
    FAULTS_RANDOM,
    STRATEGY_NONE,
    STRATEGY_RANDOM,
    TIERS_BRONZE,
    SimConfig,
)
from timecoin.sim.faults import FAULT_PROFILES
from timecoin.sim.simulator import SimResult, run_simulation

BYZANTINE_MAX: Final = -1
"""`CampaignSpec.byzantine` value meaning the most nodes below a third: (n - 1) // 3."""


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    """What varies across the seeds of a campaign.

    - `min_nodes`, `max_nodes`: node count range (inclusive), drawn per seed;
    - `byzantine`: Byzantine count, or BYZANTINE_MAX;
    - `strategy`: a strategy name, STRATEGY_RANDOM (drawn per seed) or
      STRATEGY_NONE;
    - `faults`: a profile name or FAULTS_RANDOM (drawn per seed);
    - `heights`: target height of every run; `delay`: delay model override;
    - `committee`: the committee rule of every run (`SimConfig.committee`);
    - `byzantine_percent`: instead of `byzantine`, the Byzantine share of
      the voting weight, at most (`SimConfig.byzantine_percent`);
    - `tiers`: the genesis tier mix of small runs (`SimConfig.tiers`).
    """

    min_nodes: int
    max_nodes: int
    byzantine: int = 0
    strategy: str = STRATEGY_RANDOM
    faults: str = FAULTS_RANDOM
    heights: int = 20
    delay: str | None = None
    committee: str = COMMITTEE_ALL
    byzantine_percent: int | None = None
    tiers: str = TIERS_BRONZE


def config_for_seed(spec: CampaignSpec, seed: int) -> SimConfig:
    """The concrete configuration of `seed` in the campaign `spec`."""
    rng = random.Random(f"timecoin-sim-campaign/{seed}")
    nodes = rng.randint(spec.min_nodes, spec.max_nodes)
    byzantine = (nodes - 1) // 3 if spec.byzantine == BYZANTINE_MAX else spec.byzantine
    strategy = spec.strategy
    if strategy == STRATEGY_RANDOM:
        strategy = rng.choice(STRATEGIES)
    if byzantine == 0 and spec.byzantine_percent is None:
        strategy = STRATEGY_NONE
    faults = spec.faults if spec.faults != FAULTS_RANDOM else rng.choice(FAULT_PROFILES)
    return SimConfig(
        nodes=nodes,
        seed=seed,
        faults=faults,
        byzantine=byzantine,
        strategy=strategy,
        heights=spec.heights,
        delay=spec.delay,
        committee=spec.committee,
        byzantine_percent=spec.byzantine_percent,
        tiers=spec.tiers,
    )


@dataclass(frozen=True, slots=True)
class SeedOutcome:
    """The figures of one run kept by a campaign."""

    config: SimConfig
    min_height: int
    virtual_ms: int
    events: int
    safety_violations: int
    liveness_failures: int
    report: str | None
    defects: int = 0
    max_byzantine_share: float = 0.0
    mean_byzantine_share: float = 0.0
    within_promise: bool = True
    seeds_ground: int = 0
    seeds_improved: int = 0
    grind_gain_weight: int = 0

    @classmethod
    def from_result(cls, result: SimResult) -> SeedOutcome:
        """The outcome of `result`."""
        return cls(
            config=result.config,
            min_height=result.min_height,
            virtual_ms=result.virtual_ms,
            events=result.events,
            safety_violations=len(result.safety_violations),
            liveness_failures=len(result.liveness_failures),
            report=None if result.ok else result.failure_report(),
            defects=len(result.defects),
            max_byzantine_share=result.max_byzantine_share,
            mean_byzantine_share=(
                sum(s.share for s in shares) / len(shares)
                if (shares := result.committee_shares)
                else 0.0
            ),
            within_promise=all(s.is_liveness_promised() for s in result.committee_shares),
            seeds_ground=result.seeds_ground,
            seeds_improved=result.seeds_improved,
            grind_gain_weight=result.grind_gain_weight,
        )


@dataclass(slots=True)
class CampaignSummary:
    """Totals of a campaign."""

    outcomes: list[SeedOutcome] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def seeds(self) -> int:
        """Runs done."""
        return len(self.outcomes)

    @property
    def heights_committed(self) -> int:
        """Sum over runs of the lowest honest height."""
        return sum(o.min_height for o in self.outcomes)

    @property
    def safety_violations(self) -> int:
        """Safety violations over all runs."""
        return sum(o.safety_violations for o in self.outcomes)

    @property
    def liveness_failures(self) -> int:
        """Liveness failures over all runs."""
        return sum(o.liveness_failures for o in self.outcomes)

    @property
    def defects(self) -> int:
        """Violations the promise covers, over all runs: protocol defects."""
        return sum(o.defects for o in self.outcomes)

    @property
    def mean_byzantine_share(self) -> float:
        """The Byzantine share of a committee's weight, averaged over runs."""
        if not self.outcomes:
            return 0.0
        return sum(o.mean_byzantine_share for o in self.outcomes) / len(self.outcomes)

    @property
    def runs_beyond_promise(self) -> int:
        """Runs in which some committee held 1/3 or more Byzantine weight."""
        return sum(not o.within_promise for o in self.outcomes)

    @property
    def failed(self) -> list[SeedOutcome]:
        """The runs with any violation."""
        return [o for o in self.outcomes if o.report is not None]

    @property
    def ok(self) -> bool:
        """True when no run broke anything."""
        return not self.failed

    @property
    def virtual_ms_per_height(self) -> float:
        """Mean simulated time per committed height."""
        heights = self.heights_committed
        return sum(o.virtual_ms for o in self.outcomes) / heights if heights else 0.0

    def describe(self) -> str:
        """A multi-line summary with the replay command of every failure."""
        lines = [
            f"seeds: {self.seeds}",
            f"heights committed: {self.heights_committed} (lowest honest height per seed, summed)",
            f"safety violations: {self.safety_violations}",
            f"liveness failures: {self.liveness_failures}",
            f"protocol defects (violations within the promise): {self.defects}",
            f"runs with a committee at or above 1/3 Byzantine weight: "
            f"{self.runs_beyond_promise}; largest Byzantine share of a committee: "
            f"{max((o.max_byzantine_share for o in self.outcomes), default=0.0):.3f}, "
            f"mean {self.mean_byzantine_share:.3f}",
            f"wall time: {self.wall_s:.1f} s",
            f"simulated time per height: {self.virtual_ms_per_height:.0f} ms",
        ]
        ground = sum(o.seeds_ground for o in self.outcomes)
        if ground:
            improved = sum(o.seeds_improved for o in self.outcomes)
            gain = sum(o.grind_gain_weight for o in self.outcomes)
            lines.append(
                f"seed blocks ground: {ground}, improved: {improved}, "
                f"Byzantine weight gained in the next committee: {gain}"
            )
        for outcome in self.failed:
            if outcome.report is not None:
                lines.append(outcome.report)
        return "\n".join(lines)


def run_seed(config: SimConfig) -> SeedOutcome:
    """Run one configuration (a top-level function, so worker processes can run it)."""
    return SeedOutcome.from_result(run_simulation(config))


def iter_outcomes(configs: Iterable[SimConfig], jobs: int = 1) -> Iterator[SeedOutcome]:
    """Run `configs`, in `jobs` processes when above 1, yielding outcomes in order."""
    if jobs <= 1:
        for config in configs:
            yield run_seed(config)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(run_seed, configs, chunksize=4)


def run_campaign(
    spec: CampaignSpec,
    seeds: Iterable[int],
    *,
    jobs: int = 1,
    on_outcome: Callable[[SeedOutcome], None] | None = None,
    wall_clock: Callable[[], float] = time.perf_counter,
) -> CampaignSummary:
    """Run every seed of `seeds` under `spec` and summarise.

    `wall_clock` only measures the campaign for the report; the simulations
    never read it.
    """
    start_s = wall_clock()
    summary = CampaignSummary()
    configs = [config_for_seed(spec, seed) for seed in seeds]
    for outcome in iter_outcomes(configs, jobs):
        summary.outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    summary.wall_s = wall_clock() - start_s
    return summary

"""Parameters of one simulation run and the command that replays it.

A run is fully determined by its `SimConfig`: the seed, the node count, the
fault profile, the Byzantine count and strategy, and the target height.
Everything random in the run is drawn from one `random.Random(seed)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Final

from timecoin.params import MINIMAL, ActivationHeights, ChainParams

SIM_PARAMS: Final = replace(
    MINIMAL,
    max_voters=32,
    block_interval_ms=100,
    timeout_propose_ms=300,
    timeout_vote_ms=150,
    timeout_delta_ms=50,
    timeout_max_ms=1_500,
    heartbeat_interval_ms=250,
    heartbeat_removal_windows=1_000,
    activation=ActivationHeights(epoch_reports_height=1, all_voters_height=0),
)
"""MINIMAL (epoch_length 4, reward windows of 2 blocks, grace 2 windows)
with the every-voter committee rule (ADR 0013) and room for every node of a
small run in the committee (`max_voters` 32, as on the networks where every
staked masternode votes), a short block interval and timeouts, so that a simulated
height takes little virtual time; heartbeats every 250 ms (about one per
window); removal for missing heartbeats after 1,000 windows, longer than any
run, so that crashes never shrink a committee below what the Byzantine
share of a run assumes; the epoch-report rule active from height 1."""

SCALE_PARAMS: Final = replace(SIM_PARAMS, max_voters=100)
"""SIM_PARAMS with a committee of up to 100 voters, for runs of 100+ nodes."""

COMMITTEE_ALL: Final = "all"
COMMITTEE_TOP: Final = "top"
COMMITTEE_RULES: Final = (COMMITTEE_ALL, COMMITTEE_TOP)
"""`SimConfig.committee`: the every-voter rule of the networks, or the
top-weight rule it replaced (ADR 0013), kept to measure what it allowed."""

TIERS_BRONZE: Final = "bronze"
TIERS_MIXED: Final = "mixed"
TIERS: Final = (TIERS_BRONZE, TIERS_MIXED)
"""`SimConfig.tiers` of a small run: every genesis masternode Bronze, or a
mix of Gold, Silver and Bronze (scale runs always mix, with Free nodes)."""

TOP_RULE_MAX_VOTERS: Final = 7
"""Committee size of small runs under the top-weight rule (scale runs keep 100)."""


def top_rule_params(params: ChainParams, max_voters: int) -> ChainParams:
    """`params` under the top-weight committee rule with `max_voters` seats."""
    activation = replace(params.activation, all_voters_height=None)
    return replace(params, max_voters=max_voters, activation=activation)


SCALE_NODES: Final = 16
"""Runs with more nodes than this use `SCALE_PARAMS`, mixed tiers, no spare
nodes and sparser workload."""

STRATEGY_NONE: Final = "none"
STRATEGY_RANDOM: Final = "random"
FAULTS_RANDOM: Final = "random"


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Everything that defines one run (see docs/spec/simulator.md).

    - `nodes`: masternode nodes registered at genesis;
    - `seed`: the one seed of every random draw of the run;
    - `faults`: a fault profile name (`timecoin.sim.faults.FAULT_PROFILES`);
    - `byzantine`, `strategy`: how many of the genesis nodes are Byzantine
      and what they do (`timecoin.sim.byzantine.STRATEGIES`);
    - `heights`: every honest node must commit this many blocks;
    - `spare_nodes`: honest nodes not registered at genesis, registered and
      deregistered by the workload so that the voting set changes;
    - `wallets`, `tx_interval_ms`: the transfer workload;
    - `params`: the chain parameters (None: SIM_PARAMS, or SCALE_PARAMS above
      SCALE_NODES nodes);
    - `delay`: a delay model name overriding the profile's, or None;
    - `max_virtual_ms`: hard stop of the run in virtual time (None: derived);
    - `committee`: the committee rule, COMMITTEE_ALL (the networks' rule) or
      COMMITTEE_TOP (the `max_voters` heaviest, ties by the epoch seed);
    - `byzantine_percent`: instead of a count, the Byzantine nodes are drawn
      one by one in random order, each kept while their voting weight stays
      at most this percent of the total (`byzantine` must then be 0);
    - `tiers`: TIERS_BRONZE or TIERS_MIXED (small runs).
    """

    nodes: int
    seed: int
    faults: str = "none"
    byzantine: int = 0
    strategy: str = STRATEGY_NONE
    heights: int = 20
    spare_nodes: int | None = None
    wallets: int = 6
    tx_interval_ms: int | None = None
    params: ChainParams | None = field(default=None, compare=False)
    delay: str | None = None
    max_virtual_ms: int | None = None
    committee: str = COMMITTEE_ALL
    byzantine_percent: int | None = None
    tiers: str = TIERS_BRONZE

    @property
    def is_scale(self) -> bool:
        """True for runs above SCALE_NODES nodes (mixed tiers, followers)."""
        return self.nodes > SCALE_NODES

    def chain_params(self) -> ChainParams:
        """The chain parameters of the run."""
        if self.params is not None:
            return self.params
        params = SCALE_PARAMS if self.is_scale else SIM_PARAMS
        if self.committee == COMMITTEE_TOP:
            seats = params.max_voters if self.is_scale else TOP_RULE_MAX_VOTERS
            return top_rule_params(params, seats)
        return params

    def spare_count(self) -> int:
        """The number of spare (late-registered) honest nodes."""
        if self.spare_nodes is not None:
            return self.spare_nodes
        return 0 if self.is_scale else 1

    def transfer_interval_ms(self) -> int:
        """Mean virtual time between two submitted transfers."""
        if self.tx_interval_ms is not None:
            return self.tx_interval_ms
        return 200 if self.is_scale else 40

    def replay_command(self) -> str:
        """The exact command that runs this configuration again."""
        parts = [
            "timecoin sim",
            f"--nodes {self.nodes}",
            f"--seed {self.seed}",
            f"--faults {self.faults}",
            f"--byzantine {self.byzantine}"
            if self.byzantine_percent is None
            else f"--byzantine {self.byzantine_percent}%",
            f"--strategy {self.strategy}",
            f"--heights {self.heights}",
        ]
        if self.delay is not None:
            parts.append(f"--delay {self.delay}")
        if self.committee != COMMITTEE_ALL:
            parts.append(f"--committee {self.committee}")
        if self.tiers != TIERS_BRONZE:
            parts.append(f"--tiers {self.tiers}")
        return " ".join(parts)

    def check(self) -> None:
        """Raise ValueError when the configuration cannot run."""
        if self.nodes < 1:
            raise ValueError(f"nodes: expected at least 1, got {self.nodes}")
        if not 0 <= self.byzantine <= self.nodes:
            raise ValueError(f"byzantine: expected 0..{self.nodes}, got {self.byzantine}")
        if self.heights < 1:
            raise ValueError(f"heights: expected at least 1, got {self.heights}")
        if self.byzantine_percent is not None:
            if self.byzantine:
                raise ValueError("byzantine: give a count or a percent of the weight, not both")
            if not 0 < self.byzantine_percent <= 100:
                raise ValueError(f"byzantine: expected 1..100 %, got {self.byzantine_percent}")
        if (self.byzantine or self.byzantine_percent) and self.strategy == STRATEGY_NONE:
            raise ValueError("byzantine nodes need a strategy")
        if self.tiers not in TIERS:
            raise ValueError(f"tiers: expected one of {TIERS}, got {self.tiers}")
        if self.committee not in COMMITTEE_RULES:
            raise ValueError(f"committee: expected one of {COMMITTEE_RULES}, got {self.committee}")

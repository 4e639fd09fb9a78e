"""The deterministic simulator: N complete nodes on a virtual clock and a
simulated network, disk and clock skew, with faults, Byzantine masternodes,
a transaction and masternode workload, and checkers of safety and liveness.

Everything random comes from one `random.Random(seed)`, nothing reads the
wall clock, and every failure prints the command that replays it.
docs/spec/simulator.md describes the model.
"""

from timecoin.sim.byzantine import STRATEGIES, ByzantineStrategy, Coalition, make_strategy
from timecoin.sim.campaign import (
    BYZANTINE_MAX,
    CampaignSpec,
    CampaignSummary,
    SeedOutcome,
    config_for_seed,
    run_campaign,
)
from timecoin.sim.checkers import Recorder, Violation
from timecoin.sim.config import SCALE_PARAMS, SIM_PARAMS, SimConfig
from timecoin.sim.disk import SimDisk
from timecoin.sim.events import EventQueue
from timecoin.sim.faults import FAULT_PROFILES, Crash, FaultPlan, plan_faults
from timecoin.sim.network import DELAY_MODELS, NetworkModel, Partition, sample_delay_ms
from timecoin.sim.node import SimNode, compute_proposer_seed
from timecoin.sim.simulator import SimResult, Simulation, run_simulation
from timecoin.sim.workload import Workload

__all__ = [
    "BYZANTINE_MAX",
    "DELAY_MODELS",
    "FAULT_PROFILES",
    "SCALE_PARAMS",
    "SIM_PARAMS",
    "STRATEGIES",
    "ByzantineStrategy",
    "CampaignSpec",
    "CampaignSummary",
    "Coalition",
    "Crash",
    "EventQueue",
    "FaultPlan",
    "NetworkModel",
    "Partition",
    "Recorder",
    "SeedOutcome",
    "SimConfig",
    "SimDisk",
    "SimNode",
    "SimResult",
    "Simulation",
    "Violation",
    "Workload",
    "compute_proposer_seed",
    "config_for_seed",
    "make_strategy",
    "plan_faults",
    "run_campaign",
    "run_simulation",
    "sample_delay_ms",
]

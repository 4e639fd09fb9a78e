"""Fault profiles: named recipes that draw a run's faults from its seed.

A profile turns (random generator, node ids, Byzantine ids, heal time) into
a `FaultPlan`: network settings (delay model, loss, duplication,
partitions), crashes with restarts, and clock skews. Every network fault and
every crash ends by `heal_ms`; after it the network is reliable with bounded
delay and every crashed node has restarted. The `restart` profile stops
every honest node at one instant and starts them again one by one, as an
operator restarts a whole network (any height, any offset of an epoch).
Clock skews are a property of the nodes, not a fault of the network: they stay, bounded by
`MAX_SKEW_MS`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from timecoin.sim.network import NetworkModel, Partition

MAX_SKEW_MS: Final = 200
"""Bound on the clock skew of any node."""

FAULT_PROFILES: Final = ("none", "lossy", "partition", "crash", "skew", "chaos", "restart")
"""Profile names, in the order campaigns list them."""


@dataclass(frozen=True, slots=True)
class Crash:
    """Node `node` stops at `at_ms` and restarts from its disk at `restart_ms`.

    With `after_persist`, the crash instead happens right after the first
    write-ahead-log append the node makes at or after `at_ms`, before the
    effects that follow it (typically the Broadcast of the vote it logged).
    """

    node: int
    at_ms: int
    restart_ms: int
    after_persist: bool = False


@dataclass(slots=True)
class FaultPlan:
    """The faults of one run."""

    profile: str
    network: NetworkModel
    crashes: list[Crash] = field(default_factory=list)
    skews_ms: dict[int, int] = field(default_factory=dict)

    @property
    def heal_ms(self) -> int:
        """The virtual time from which no fault applies."""
        return self.network.heal_ms


def plan_faults(
    profile: str,
    rng: random.Random,
    nodes: Sequence[int],
    honest: Sequence[int],
    heal_ms: int,
    delay_override: str | None = None,
) -> FaultPlan:
    """Draw the faults of `profile` for a run whose faults heal at `heal_ms`.

    `nodes` are all node ids; `honest` the ones that may crash (Byzantine
    nodes misbehave on their own). At most a third of the honest nodes
    (at least one) crash. Raises ValueError for an unknown profile.
    """
    if profile not in FAULT_PROFILES:
        raise ValueError(f"unknown fault profile {profile!r}; expected one of {FAULT_PROFILES}")
    if profile == "none":
        plan = FaultPlan(profile, NetworkModel(delay_model="lan", heal_ms=0))
    else:
        plan = FaultPlan(profile, NetworkModel(heal_ms=heal_ms))
        _draw(plan, profile, rng, nodes, honest, heal_ms)
    if delay_override is not None:
        plan.network.delay_model = delay_override
    return plan


def _draw(
    plan: FaultPlan,
    profile: str,
    rng: random.Random,
    nodes: Sequence[int],
    honest: Sequence[int],
    heal_ms: int,
) -> None:
    network = plan.network
    chaos = profile == "chaos"
    network.delay_model = rng.choice(("lan", "uniform", "wan"))
    if profile == "lossy" or chaos:
        network.delay_model = rng.choice(("uniform", "wan", "heavy"))
        network.loss = rng.uniform(0.02, 0.1 if chaos else 0.2)
        network.duplication = rng.uniform(0.0, 0.05 if chaos else 0.1)
    if profile == "partition" or chaos:
        for _ in range(rng.randint(0 if chaos else 1, 2)):
            network.partitions.append(_draw_partition(rng, nodes, heal_ms))
    if profile == "crash" or chaos:
        plan.crashes.extend(_draw_crashes(rng, honest, heal_ms, allow_none=chaos))
    if profile == "restart":
        plan.crashes.extend(_draw_network_restart(rng, honest, heal_ms))
    if profile == "skew" or chaos:
        bound = MAX_SKEW_MS if profile == "skew" else MAX_SKEW_MS // 2
        plan.skews_ms = {node: rng.randint(-bound, bound) for node in nodes}


def _draw_partition(rng: random.Random, nodes: Sequence[int], heal_ms: int) -> Partition:
    shuffled = list(nodes)
    rng.shuffle(shuffled)
    cut = rng.randint(1, max(1, len(shuffled) - 1))
    start_ms = rng.randint(0, max(0, heal_ms - 200))
    end_ms = rng.randint(min(start_ms + 100, heal_ms), heal_ms)
    return Partition(
        start_ms=start_ms,
        end_ms=end_ms,
        side_a=frozenset(shuffled[:cut]),
        side_b=frozenset(shuffled[cut:]),
        one_way=rng.random() < 0.3,
    )


def _draw_network_restart(rng: random.Random, honest: Sequence[int], heal_ms: int) -> list[Crash]:
    """Every honest node stops at one instant; each restarts within 1 s, in
    a random order, all by `heal_ms`."""
    at_ms = rng.randint(0, max(0, heal_ms - 1_100))
    return [Crash(node, at_ms, min(at_ms + rng.randint(50, 1_000), heal_ms)) for node in honest]


def _draw_crashes(
    rng: random.Random, honest: Sequence[int], heal_ms: int, *, allow_none: bool
) -> list[Crash]:
    limit = max(1, len(honest) // 3)
    count = rng.randint(0 if allow_none else 1, limit)
    victims = rng.sample(list(honest), min(count, len(honest)))
    crashes = []
    for node in victims:
        at_ms = rng.randint(0, max(0, heal_ms - 100))
        restart_ms = min(at_ms + rng.randint(100, 1_000), heal_ms)
        crashes.append(Crash(node, at_ms, restart_ms, after_persist=rng.random() < 0.5))
    return crashes

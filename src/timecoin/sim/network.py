"""The simulated network: per-message delay, loss, duplication, reordering
and partitions, all drawn from the run's one random generator.

Every message is a separate delivery per recipient. Reordering is not a
separate fault: two messages with independently drawn delays arrive in
either order. Before `heal_ms` the fault settings apply; from `heal_ms` on
the network is reliable (no loss, no duplication, no partition) and every
delay is at most `HEALED_MAX_DELAY_MS`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Final

HEALED_MAX_DELAY_MS: Final = 50
"""Bound on any delay once the network has healed."""

MAX_DELAY_MS: Final = 3_000
"""Bound on any delay, heavy tails included."""

DELAY_MODELS: Final = ("fixed", "uniform", "lan", "wan", "heavy")
"""Names of the delay distributions (`sample_delay_ms`)."""


def sample_delay_ms(model: str, rng: random.Random) -> int:
    """One message delay in ms drawn from the distribution `model`.

    - fixed: 10 ms;
    - uniform: 1 to 50 ms;
    - lan: 1 to 5 ms (LAN-like);
    - wan: 20 ms plus a log-normal part with median 20 ms (WAN-like);
    - heavy: 2 ms times a Pareto(1.2) draw (heavy-tailed).

    Every value is capped at MAX_DELAY_MS. Raises ValueError for an unknown model.
    """
    if model == "fixed":
        value = 10.0
    elif model == "uniform":
        value = rng.uniform(1.0, 50.0)
    elif model == "lan":
        value = rng.uniform(1.0, 5.0)
    elif model == "wan":
        value = 20.0 + rng.lognormvariate(math.log(20.0), 0.6)
    elif model == "heavy":
        value = 2.0 * rng.paretovariate(1.2)
    else:
        raise ValueError(
            f"unknown delay model {model!r}; expected one of {', '.join(DELAY_MODELS)}"
        )
    return max(1, min(int(value), MAX_DELAY_MS))


@dataclass(frozen=True, slots=True)
class Partition:
    """Nodes of `side_a` and `side_b` cannot reach each other in [start_ms, end_ms).

    When `one_way` is True only messages from `side_a` to `side_b` are lost:
    A hears B, B does not hear A (an asymmetric partition).
    """

    start_ms: int
    end_ms: int
    side_a: frozenset[int]
    side_b: frozenset[int]
    one_way: bool = False

    def blocks(self, src: int, dst: int, now_ms: int) -> bool:
        """True when this partition loses a message from `src` to `dst` at `now_ms`."""
        if not self.start_ms <= now_ms < self.end_ms:
            return False
        if src in self.side_a and dst in self.side_b:
            return True
        return not self.one_way and src in self.side_b and dst in self.side_a


@dataclass(slots=True)
class NetworkModel:
    """Link behaviour of one run.

    - `delay_model`: a name of DELAY_MODELS;
    - `loss`, `duplication`: probabilities per delivery before `heal_ms`;
    - `partitions`: scheduled partitions (each ends by `heal_ms`);
    - `heal_ms`: from this virtual time on, the network is reliable.
    """

    delay_model: str = "lan"
    loss: float = 0.0
    duplication: float = 0.0
    partitions: list[Partition] = field(default_factory=list)
    heal_ms: int = 0
    sent: int = 0
    lost: int = 0
    duplicated: int = 0

    def is_healed(self, now_ms: int) -> bool:
        """True when faults no longer apply at `now_ms`."""
        return now_ms >= self.heal_ms

    def plan_delivery(self, src: int, dst: int, now_ms: int, rng: random.Random) -> list[int]:
        """The delays (ms) of the copies of one message from `src` to `dst` sent at
        `now_ms`: empty when it is lost, two entries when it is duplicated."""
        self.sent += 1
        delay = sample_delay_ms(self.delay_model, rng)
        if self.is_healed(now_ms):
            return [min(delay, HEALED_MAX_DELAY_MS)]
        for partition in self.partitions:
            if partition.blocks(src, dst, now_ms):
                self.lost += 1
                return []
        if self.loss and rng.random() < self.loss:
            self.lost += 1
            return []
        if self.duplication and rng.random() < self.duplication:
            self.duplicated += 1
            return [delay, sample_delay_ms(self.delay_model, rng)]
        return [delay]

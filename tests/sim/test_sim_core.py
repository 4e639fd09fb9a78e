"""The simulator's parts: event order, network model, fault plans, wire
decoding, and determinism of whole runs."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest

from timecoin.encoding import DecodeError
from timecoin.p2p.messages import GetBlocks, decode_message, encode_message
from timecoin.params import MINIMAL
from timecoin.sim.config import SimConfig
from timecoin.sim.events import EventQueue
from timecoin.sim.faults import FAULT_PROFILES, MAX_SKEW_MS, plan_faults
from timecoin.sim.network import (
    DELAY_MODELS,
    HEALED_MAX_DELAY_MS,
    MAX_DELAY_MS,
    NetworkModel,
    Partition,
    sample_delay_ms,
)
from timecoin.sim.simulator import Simulation


def test_events_run_in_time_then_schedule_order() -> None:
    queue = EventQueue()
    seen: list[str] = []
    queue.schedule_at(5, lambda: seen.append("b"))
    queue.schedule_at(1, lambda: seen.append("a"))
    queue.schedule_at(5, lambda: seen.append("c"))
    while queue.run_next():
        pass
    assert seen == ["a", "b", "c"]
    assert queue.now_ms == 5


def test_events_never_go_back_in_time() -> None:
    queue = EventQueue(now_ms=100)
    queue.schedule_at(10, lambda: None)
    queue.run_next()
    assert queue.now_ms == 100


@pytest.mark.parametrize("model", DELAY_MODELS)
def test_delays_are_bounded(model: str) -> None:
    rng = random.Random(1)
    delays = [sample_delay_ms(model, rng) for _ in range(2_000)]
    assert min(delays) >= 1 and max(delays) <= MAX_DELAY_MS
    if model == "lan":
        assert max(delays) <= 5


def test_one_way_partition_blocks_one_direction_until_it_ends() -> None:
    partition = Partition(10, 20, frozenset({0}), frozenset({1}), one_way=True)
    assert partition.blocks(0, 1, 10)
    assert not partition.blocks(1, 0, 10)
    assert not partition.blocks(0, 1, 20)


def test_network_is_reliable_and_bounded_after_heal() -> None:
    rng = random.Random(2)
    network = NetworkModel(delay_model="heavy", loss=0.9, duplication=0.9, heal_ms=100)
    network.partitions.append(Partition(0, 100, frozenset({0}), frozenset({1})))
    assert network.plan_delivery(0, 1, 50, rng) == []
    for _ in range(500):
        delays = network.plan_delivery(0, 1, 100, rng)
        assert len(delays) == 1 and delays[0] <= HEALED_MAX_DELAY_MS


@pytest.mark.parametrize("profile", FAULT_PROFILES)
def test_fault_plans_heal_and_replay(profile: str) -> None:
    nodes, honest = list(range(7)), [0, 1, 2, 4, 5, 6]
    plan = plan_faults(profile, random.Random(3), nodes, honest, 1_500)
    again = plan_faults(profile, random.Random(3), nodes, honest, 1_500)
    assert plan == again
    for crash in plan.crashes:
        assert crash.node in honest
        assert crash.at_ms <= crash.restart_ms <= plan.heal_ms
    for partition in plan.network.partitions:
        assert partition.end_ms <= plan.heal_ms
    assert all(abs(skew) <= MAX_SKEW_MS for skew in plan.skews_ms.values())


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00",
        b"\xff" * 40,
        encode_message(GetBlocks(3, 5)) + b"\x00",
        b"\x91\x93\x09\x01\x01",
    ],
)
def test_malformed_bytes_raise_decode_error(data: bytes) -> None:
    """The simulator carries the p2p messages through the p2p decoder."""
    with pytest.raises(DecodeError):
        decode_message(data, MINIMAL.sizes.max_frame_bytes)


def _trace(config: SimConfig) -> tuple[int, int, list[str]]:
    sim = Simulation(config)
    result = sim.run()
    node = sim.nodes[sim.honest_ids[0]]
    return (
        result.events,
        result.virtual_ms,
        [block.header.tx_root.hex() for block, _ in node.disk.blocks],
    )


def test_same_seed_same_run() -> None:
    config = SimConfig(nodes=5, seed=11, faults="chaos", byzantine=1, strategy="equivocate")
    assert _trace(config) == _trace(config)


def test_run_does_not_depend_on_hash_randomization() -> None:
    code = (
        "from timecoin.sim.config import SimConfig\n"
        "from timecoin.sim.simulator import Simulation\n"
        "sim = Simulation(SimConfig(nodes=5, seed=12, faults='chaos', byzantine=1, "
        "strategy='equivocate', heights=8))\n"
        "r = sim.run()\n"
        "node = sim.nodes[sim.honest_ids[0]]\n"
        "print(r.events, r.virtual_ms, [b.header.tx_root.hex() for b, _ in node.disk.blocks])\n"
    )
    outputs = set()
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1

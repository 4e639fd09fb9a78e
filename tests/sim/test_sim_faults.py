"""Focused fault scenarios: a crash between a WAL append and the send after
it, restart from the simulated disk, and partitions that heal."""

from __future__ import annotations

from timecoin.consensus import WalProposal, WalRecord, WalVote, decode_wal_record
from timecoin.p2p.messages import VoteMsg, encode_message
from timecoin.sim.config import SimConfig
from timecoin.sim.faults import Crash
from timecoin.sim.network import Partition
from timecoin.sim.node import SimNode
from timecoin.sim.simulator import Simulation


def test_crash_after_wal_append_restarts_from_disk_without_equivocating() -> None:
    sim = Simulation(SimConfig(nodes=4, seed=21, heights=12))
    sim.heal_ms = 1_200
    sim.plan.crashes.append(Crash(node=0, at_ms=430, restart_ms=900, after_persist=True))
    sent: list[tuple[int, int, bytes]] = []
    crashed_with: list[tuple[int, WalRecord]] = []
    send, crash_node = sim.send, sim.crash_node

    def record_send(src: int, dst: int, data: bytes, extra_delay_ms: int = 0) -> None:
        sent.append((sim.queue.now_ms, src, data))
        send(src, dst, data, extra_delay_ms)

    def record_crash(node: SimNode) -> None:
        if not node.disk.last_append_finality:
            crashed_with.append((sim.queue.now_ms, decode_wal_record(node.disk.wal[-1])))
        crash_node(node)

    sim.send = record_send  # type: ignore[method-assign]
    sim.crash_node = record_crash  # type: ignore[method-assign]
    result = sim.run()
    assert result.ok, result.failure_report()
    assert result.crashes == 1 and sim.nodes[0].incarnation == 2
    if not crashed_with:
        return  # crashed after a finality WAL append (its votes are checked by the campaign)
    crash_ms, record = crashed_with[0]
    assert isinstance(record, WalVote | WalProposal)
    if isinstance(record, WalVote):
        data = encode_message(VoteMsg(votes=[record.vote]))
        assert not [s for s in sent if s[1] == 0 and s[2] == data and s[0] <= crash_ms]
    assert min(n.height for n in sim.nodes) >= 12


def test_crashes_at_any_moment_keep_safety_and_liveness() -> None:
    for seed in range(30, 36):
        sim = Simulation(SimConfig(nodes=4, seed=seed, heights=10))
        sim.heal_ms = 2_000
        for node in (1, 2):
            at_ms = sim.rng.randint(100, 900)
            sim.plan.crashes.append(Crash(node, at_ms, at_ms + 400, after_persist=node == 1))
        result = sim.run()
        assert result.ok, result.failure_report()
        assert result.crashes >= 1


def _first_commit_times(sim: Simulation) -> dict[int, int]:
    times: dict[int, int] = {}
    on_commit = sim.on_commit

    def record(node: SimNode, *args: object, **kwargs: object) -> None:
        times.setdefault(node.node_id, sim.queue.now_ms)
        on_commit(node, *args, **kwargs)  # type: ignore[arg-type]

    sim.on_commit = record  # type: ignore[method-assign]
    return times


def test_even_split_commits_nothing_until_it_heals() -> None:
    sim = Simulation(SimConfig(nodes=4, seed=22, heights=8))
    sim.heal_ms = sim.network.heal_ms = 1_500
    sim.network.partitions.append(Partition(0, 1_500, frozenset({0, 1}), frozenset({2, 3})))
    times = _first_commit_times(sim)
    result = sim.run()
    assert result.ok, result.failure_report()
    assert min(times.values()) >= 1_500


def test_minority_finalizes_nothing_and_catches_up() -> None:
    sim = Simulation(SimConfig(nodes=4, seed=23, heights=20))
    sim.heal_ms = sim.network.heal_ms = 1_500
    sim.network.partitions.append(Partition(0, 1_500, frozenset({0}), frozenset({1, 2, 3, 4})))
    times = _first_commit_times(sim)
    result = sim.run()
    assert result.ok, result.failure_report()
    assert times[0] >= 1_500
    assert min(times[i] for i in (1, 2, 3)) < 1_500
    assert sim.nodes[0].height >= 20


def test_one_way_partition_heals() -> None:
    sim = Simulation(SimConfig(nodes=4, seed=24, heights=10))
    sim.heal_ms = sim.network.heal_ms = 1_000
    sim.network.partitions.append(
        Partition(0, 1_000, frozenset({0, 1}), frozenset({2, 3}), one_way=True)
    )
    result = sim.run()
    assert result.ok, result.failure_report()

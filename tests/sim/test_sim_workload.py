"""The workload really exercises the chain: transfers, double-spend attempts,
and registrations and deregistrations that change the voting set."""

from __future__ import annotations

from timecoin.sim.config import SimConfig
from timecoin.sim.simulator import Simulation
from timecoin.types import MasternodeRegistration


def test_spare_node_joins_and_leaves_the_voting_set() -> None:
    sim = Simulation(SimConfig(nodes=4, seed=3, heights=40))
    result = sim.run()
    assert result.ok, result.failure_report()
    assert result.registrations >= 1 and result.deregistrations >= 1
    assert result.voting_set_changes >= 2
    spare = sim.nodes[4]
    assert spare.disk.wal_appends > 0  # it voted while a member
    blocks = [block for block, _ in sim.nodes[0].disk.blocks]
    registrations = [
        tx
        for block in blocks
        for tx in block.transactions
        if isinstance(tx.payload, MasternodeRegistration)
    ]
    assert registrations and all(tx.owner_signature is not None for tx in registrations)


def test_transfers_and_double_spend_attempts_are_resolved() -> None:
    sim = Simulation(SimConfig(nodes=5, seed=8, heights=30, faults="lossy"))
    result = sim.run()
    assert result.ok, result.failure_report()
    assert result.transactions > 50
    assert sim.workload.double_spends > 0
    spent = [
        txin.prevout
        for block, _ in sim.nodes[0].disk.blocks
        for tx in block.transactions
        for txin in tx.inputs
    ]
    assert len(spent) == len(set(spent))

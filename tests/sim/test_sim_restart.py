"""Whole-network restarts in simulation, as in life (ADR 0008).

A restarted simulated node loses its memory and its connections: it comes
back from its simulated disk and exchanges messages again only after
`RECONNECT_MIN_MS` to `RECONNECT_MAX_MS` (dialing, handshakes), so what its
restore sends at once reaches nobody, as on real hosts. Under the `restart`
fault profile every honest node stops at one instant. On the code before
ADR 0008 these seeds halted for good at an epoch's last-but-one height
(height 2 of 4-block epochs), every node holding too few epoch reports; the
machine now asks its peers for them (`RequestReports`) and logs the bodies
of voted transactions with its votes.
"""

from __future__ import annotations

import pytest

from timecoin.sim.config import SimConfig
from timecoin.sim.simulator import run_simulation

HALTED_BEFORE = [(4, 14), (7, 16), (5, 26), (4, 28), (7, 31)]
"""(nodes, seed) of restart runs that halted on the code before ADR 0008."""


@pytest.mark.parametrize(("nodes", "seed"), HALTED_BEFORE)
def test_whole_network_restart_never_halts(nodes: int, seed: int) -> None:
    config = SimConfig(nodes=nodes, seed=seed, faults="restart", heights=20)
    result = run_simulation(config)
    assert result.crashes >= nodes, "the whole network must have restarted"
    assert result.ok, result.failure_report()

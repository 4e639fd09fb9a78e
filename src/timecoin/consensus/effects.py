"""The effects the consensus machine returns instead of doing I/O.

Every input method of `ConsensusMachine` returns a list of effects. A driver
MUST execute them in list order, and MUST make each `PersistWal` durable
(fsync, or the simulator's equivalent) before executing the next effect: a
signed vote or proposal is always preceded by the `PersistWal` that logs it,
so a crash can lose a broadcast but never a signature the network may have
seen. A `CommitBlock` must likewise be durable before the driver reports the
block committed or calls `on_new_height`.
"""

from __future__ import annotations

from dataclasses import dataclass

from timecoin.consensus.state import TimeoutStep
from timecoin.consensus.wal import WalRecord
from timecoin.types import Certificate, Evidence, Proposal, Vote


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send `message` to every peer. For a proposal, `block_value` is its block
    (send both together); for a vote it is None."""

    message: Vote | Proposal
    block_value: object = None


@dataclass(frozen=True, slots=True)
class PersistWal:
    """Append `record` to the write-ahead log, durably, before the next effect."""

    record: WalRecord


@dataclass(frozen=True, slots=True)
class ScheduleTimeout:
    """Call `on_tick(now_ms)` with `now_ms >= at_ms` (the timeout of `step` in
    (height, round) is then due). Stale timeouts are ignored by the machine, so
    a driver never needs to cancel one."""

    height: int
    round: int
    step: TimeoutStep
    at_ms: int


@dataclass(frozen=True, slots=True)
class CommitBlock:
    """`block_value` is decided at `height`, proven by `certificate`. The driver
    applies and stores it, then calls `on_new_height` with the next context."""

    height: int
    block_value: object
    certificate: Certificate


@dataclass(frozen=True, slots=True)
class RecordEvidence:
    """`evidence` of an equivocation was observed: keep it and gossip it."""

    evidence: Evidence


Effect = Broadcast | PersistWal | ScheduleTimeout | CommitBlock | RecordEvidence

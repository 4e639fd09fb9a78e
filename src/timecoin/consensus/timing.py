"""Timeouts, the block interval and proposal timestamps.

All values are milliseconds; time is always an input (`now_ms`), never read.
"""

from __future__ import annotations

from timecoin.consensus.state import TimeoutStep
from timecoin.params import ChainParams


def compute_timeout_ms(params: ChainParams, step: TimeoutStep, round: int) -> int:
    """The duration of the `step` timeout in `round`.

    `timeoutPropose(r) = timeout_propose_ms + r * timeout_delta_ms` and
    `timeoutPrevote(r) = timeoutPrecommit(r) = timeout_vote_ms + r *
    timeout_delta_ms` (Algorithm 1, lines 21, 35, 48), growing linearly per
    round and capped at `timeout_max_ms`.
    Raises ValueError for BLOCK_INTERVAL, which is a point in time, not a duration.
    """
    if step == TimeoutStep.PROPOSE:
        base = params.timeout_propose_ms
    elif step in (TimeoutStep.PREVOTE, TimeoutStep.PRECOMMIT):
        base = params.timeout_vote_ms
    else:
        raise ValueError(f"{step!r} has no duration")
    return min(base + round * params.timeout_delta_ms, params.timeout_max_ms)


def compute_earliest_proposal_ms(params: ChainParams, prev_block_timestamp_ms: int) -> int:
    """The earliest time, and the smallest valid timestamp, of the next block:
    `prev_block_timestamp_ms + block_interval_ms`."""
    return prev_block_timestamp_ms + params.block_interval_ms


def compute_proposal_timestamp_ms(
    params: ChainParams, prev_block_timestamp_ms: int, now_ms: int
) -> int:
    """The timestamp a proposer gives a new block: `max(now, earliest)`."""
    return max(now_ms, compute_earliest_proposal_ms(params, prev_block_timestamp_ms))


def is_timestamp_valid(
    params: ChainParams, prev_block_timestamp_ms: int, timestamp_ms: int
) -> bool:
    """Whether a block timestamp respects the block interval (part of `valid(v)`,
    deterministic): `timestamp_ms >= prev_block_timestamp_ms + block_interval_ms`."""
    return timestamp_ms >= compute_earliest_proposal_ms(params, prev_block_timestamp_ms)


def is_timestamp_timely(params: ChainParams, timestamp_ms: int, received_ms: int) -> bool:
    """Whether a new proposal's timestamp is not too far in the future of the
    time it was received: `timestamp_ms <= received_ms + max_timestamp_drift_ms`.

    Local and not deterministic: it only decides this node's prevote at line 22.
    """
    return timestamp_ms <= received_ms + params.max_timestamp_drift_ms

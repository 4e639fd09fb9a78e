"""The seeded campaign of `make test`: 240 seeds over 4 to 7 nodes, random
fault profiles, the most Byzantine nodes below a third ((n - 1) // 3: one of
4, two of 7) with random strategies, 20 heights each, no violation.

Split in chunks so that both pytest workers share it. A failure prints each
failed seed with the command that replays it.
"""

from __future__ import annotations

import pytest

from timecoin.sim.campaign import BYZANTINE_MAX, CampaignSpec, run_campaign

SEEDS = 240
CHUNKS = 8
SPEC = CampaignSpec(min_nodes=4, max_nodes=7, byzantine=BYZANTINE_MAX, heights=20)


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_campaign_chunk_has_no_violation(chunk: int) -> None:
    size = SEEDS // CHUNKS
    summary = run_campaign(SPEC, range(chunk * size, (chunk + 1) * size))
    assert summary.seeds == size
    assert summary.ok, summary.describe()
    assert all(o.min_height >= SPEC.heights for o in summary.outcomes)

"""Block capacity covers the finality rate in every preset."""

from __future__ import annotations

import pytest

from timecoin.chain import compute_block_overhead_bytes
from timecoin.params import PRESETS, ChainParams

AVERAGE_TX_BYTES = 250
"""A one-input, two-output transaction with its signature is about 230 bytes."""


@pytest.mark.parametrize("params", list(PRESETS.values()), ids=list(PRESETS))
def test_block_capacity_covers_interval_times_final_tps(params: ChainParams) -> None:
    per_block = params.block_interval_ms * params.max_final_tps // 1000
    assert params.sizes.max_block_transactions - 1 >= per_block
    budget_bytes = params.sizes.max_block_bytes - compute_block_overhead_bytes(params)
    assert budget_bytes >= per_block * AVERAGE_TX_BYTES

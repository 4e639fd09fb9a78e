"""The sync message class's p2p rate admits a full sync pipeline from one peer."""

from __future__ import annotations

from timecoin.node.syncer import MAX_SERVE_BYTES, SYNC_BYTES_PER_S, sync_class_rate
from timecoin.p2p.messages import MessageClass
from timecoin.params import DEVNET, MAINNET
from timecoin.sync import SyncConfig


def test_sync_class_rate_covers_the_outstanding_answers_of_a_peer() -> None:
    for params in (MAINNET, DEVNET):
        cls, rate = sync_class_rate(params)
        assert cls is MessageClass.SYNC
        assert rate.bytes_per_s == SYNC_BYTES_PER_S >= params.rates.bytes_per_s
        outstanding = SyncConfig(checkpoint=None).max_requests_per_peer * MAX_SERVE_BYTES
        assert rate.bytes_per_s * rate.burst_s >= outstanding
        assert rate.messages_per_s == params.rates.messages_per_s
        assert rate.ban_multiple == params.rates.ban_multiple

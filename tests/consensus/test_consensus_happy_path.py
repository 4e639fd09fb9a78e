"""Four validators driven by a tiny in-test network loop."""

from __future__ import annotations

from consensus_harness import Network, ToyBlock

from timecoin.consensus import verify_certificate
from timecoin.crypto import verify


def test_line_10_to_54_four_equal_validators_commit_ten_heights() -> None:
    """Lines 10-54: with everyone correct and on time, every height commits in round 0."""
    net = Network(weights=(1, 1, 1, 1))
    net.start()
    net.run_until(lambda: net.heights_committed() >= 10)
    for height in range(10):
        commits = [net.commits[i][height] for i in range(4)]
        hashes = {c.certificate.block_hash for c in commits}
        assert len(hashes) == 1, "agreement"
        for c in commits:
            assert c.height == height + 1
            assert c.certificate.round == 0
            verify_certificate(c.certificate, net.voting_set, net.params.chain_id, verify)


def test_block_interval_spaces_block_timestamps() -> None:
    """Proposer waits prev_ts + block_interval; consecutive timestamps differ by >= interval."""
    net = Network(weights=(1, 1, 1, 1))
    net.start()
    net.run_until(lambda: net.heights_committed() >= 5)
    stamps = []
    for c in net.commits[0][:5]:
        assert isinstance(c.block_value, ToyBlock)
        stamps.append(c.block_value.timestamp_ms)
    previous = net.start_ms
    for stamp in stamps:
        assert stamp >= previous + net.params.block_interval_ms
        previous = stamp

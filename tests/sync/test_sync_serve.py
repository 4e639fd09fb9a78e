"""Per-peer limits on served sync requests."""

from __future__ import annotations

import pytest

from timecoin.sync import ServeLimiter


def test_bucket_refuses_beyond_the_burst_and_refills() -> None:
    limiter = ServeLimiter(items_per_s=10, burst_items=20)
    assert limiter.allow("a", 15, 0)
    assert limiter.allow("a", 5, 0)
    assert not limiter.allow("a", 1, 0)
    assert limiter.refused == 1
    assert limiter.allow("b", 20, 0)  # peers are independent
    assert limiter.allow("a", 10, 1_000)
    assert not limiter.allow("a", 1, 1_000)


def test_a_request_larger_than_the_burst_passes_only_on_a_full_bucket() -> None:
    limiter = ServeLimiter(items_per_s=10, burst_items=20)
    assert limiter.allow("a", 50, 0)
    assert not limiter.allow("a", 1, 2_000)  # still in debt
    assert limiter.allow("a", 1, 5_000)


def test_the_peer_table_is_bounded() -> None:
    limiter = ServeLimiter(items_per_s=1, burst_items=1, max_peers=2)
    for peer in "abc":
        assert limiter.allow(peer, 1, 0)
    assert limiter.allow("a", 1, 0)  # "a" was evicted, so it starts full again
    limiter.forget("a")


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ServeLimiter(items_per_s=0, burst_items=1)

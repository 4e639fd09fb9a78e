"""The REST API's pure parts: parameter validation, the per-client limiter on
an explicit clock, and the address summary (funded, spent, unspent)."""

from __future__ import annotations

import aiohttp
import pytest

from timecoin.crypto import SigningKey, address_from_public_key
from timecoin.explorer.esplora import compute_fee, fee_histogram, summarize_address
from timecoin.explorer.rest import (
    BadRequest,
    ClientLimiter,
    RestConfig,
    RestServer,
    parse_hash,
    parse_int,
)
from timecoin.explorer.source import FoundTransaction, Placement, PooledTransaction
from timecoin.params import MINIMAL
from timecoin.types import TX_VERSION, Coin, OutPoint, Transaction, TxInput, TxOutput, compute_txid

KEY = SigningKey.from_seed(bytes([3]) * 32)
MINE = address_from_public_key(KEY.public_key)
OTHER = bytes([9]) * 20
IN_BLOCK = Placement(bytes([1]) * 32, 5, 0, 1_000, True)
POOLED = Placement(None, None, None, None, False)


def _tx(inputs: list[tuple[OutPoint, bytes]], outputs: list[tuple[int, bytes]]) -> Transaction:
    return Transaction(
        version=TX_VERSION,
        inputs=[TxInput(op, key) for op, key in inputs],
        outputs=[TxOutput(amount, address) for amount, address in outputs],
        lock_time=0,
        payload=None,
        signatures=[bytes(64)] * len(inputs),
        owner_signature=None,
    )


def test_parameters_are_validated() -> None:
    assert parse_hash("ab" * 32, "txid") == bytes([0xAB]) * 32
    for bad in ("ab" * 31, "zz" * 32, "ab" * 33, ""):
        with pytest.raises(BadRequest):
            parse_hash(bad, "txid")
    assert parse_int("42", "height", 100) == 42
    for bad in ("-1", "101", "1e3", "", "٣", "9" * 20):
        with pytest.raises(BadRequest):
            parse_int(bad, "height", 100)


def test_limiter_throttles_one_client_and_refills() -> None:
    limiter = ClientLimiter(rate_per_s=10, burst=5)
    now = 100.0
    assert [limiter.allow("a", now) for _ in range(7)] == [True] * 5 + [False] * 2
    assert limiter.allow("b", now), "another client has its own bucket"
    assert not limiter.allow("a", now + 0.05)
    assert limiter.allow("a", now + 0.2), "two requests earned in 0.2 s at 10/s"


def test_address_summary_counts_funding_spending_and_unspent() -> None:
    funding = _tx([(OutPoint(bytes(32), 0), bytes([7]) * 32)], [(500, MINE), (100, OTHER)])
    funding_id = compute_txid(funding)
    spending = _tx([(OutPoint(funding_id, 0), KEY.public_key)], [(300, OTHER), (150, MINE)])
    spending_id = compute_txid(spending)
    history = [
        (FoundTransaction(spending, spending_id, POOLED), [Coin(500, MINE, 5)]),
        (FoundTransaction(funding, funding_id, IN_BLOCK), [Coin(700, OTHER, 1)]),
    ]
    summary = summarize_address(MINE, history)
    assert (summary.chain.tx_count, summary.chain.funded_txo_sum) == (1, 500)
    assert (summary.mempool.spent_txo_count, summary.mempool.spent_txo_sum) == (1, 500)
    assert (summary.mempool.funded_txo_count, summary.mempool.funded_txo_sum) == (1, 150)
    assert list(summary.unspent) == [OutPoint(spending_id, 1)]
    assert compute_fee(spending, [Coin(500, MINE, 5)]) == 50
    assert compute_fee(spending, [None]) is None


def test_fee_histogram_bins_highest_rate_first() -> None:
    def pooled(fee: int, size: int) -> PooledTransaction:
        tx = _tx([], [(1, OTHER)])
        return PooledTransaction(tx, bytes([fee % 256]) * 32, size, fee, 0, False)

    pool = [pooled(10 * 60_000, 60_000), pooled(2 * 60_000, 60_000), pooled(1 * 1_000, 1_000)]
    assert fee_histogram(pool) == [[2.0, 120_000], [1.0, 1_000]]
    assert fee_histogram([]) == []


class _NoChain:
    """A source for requests that never reach it: only its parameters are read."""

    params = MINIMAL
    history_depth_blocks = 0


async def test_server_throttles_a_flooding_client_with_429() -> None:
    server = RestServer(
        _NoChain(),  # type: ignore[arg-type]
        RestConfig(port=0, requests_per_s=1, burst=3),
        clock=lambda: 0.0,  # no refill: exactly `burst` requests pass
    )
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            statuses = []
            for _ in range(5):
                async with session.get(f"{server.url}/no/such/path") as response:
                    statuses.append(response.status)
                    assert response.headers["Access-Control-Allow-Origin"] == "*"
            async with session.options(f"{server.url}/blocks/tip/height") as response:
                assert response.status == 204, "a preflight is never throttled"
    finally:
        await server.stop()
    assert statuses == [404, 404, 404, 429, 429]
    assert server.throttled_count == 2

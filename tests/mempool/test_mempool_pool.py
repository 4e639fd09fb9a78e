"""The pool: consensus admission with a shared signature cache, conflicts,
orphans, per-peer shares, the memory cap and eviction that never touches
voted or final transactions, blocks, relay floors, and the final view."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from timecoin.crypto import SigningKey, address_from_public_key, sha256
from timecoin.ledger import (
    MemoryUtxoSet,
    SignatureCache,
    compute_input_signing_message,
    compute_tx_size,
)
from timecoin.mempool import (
    FinalUtxoView,
    Mempool,
    MempoolPolicy,
    MempoolRejected,
    estimate_entry_memory_bytes,
)
from timecoin.params import COIN, MINIMAL
from timecoin.types import (
    TX_VERSION,
    Coin,
    InvalidTransaction,
    OutPoint,
    Transaction,
    TxInput,
    TxOutput,
    compute_txid,
)

PARAMS = MINIMAL
OWNER = SigningKey.from_seed(sha256(b"mempool-tests/owner"))
ADDRESS = address_from_public_key(OWNER.public_key)
HEIGHT = 5
COINS = {
    OutPoint(txid=sha256(f"coin/{i}".encode()), index=0): Coin(
        amount=10 * COIN, address=ADDRESS, height=1
    )
    for i in range(10)
}
OUTPOINTS = list(COINS)


def make_tx(
    spends: Sequence[OutPoint], fee: int = 10_000, amount_in: int = 10 * COIN
) -> Transaction:
    unsigned = Transaction(
        version=TX_VERSION,
        inputs=[TxInput(prevout=op, public_key=OWNER.public_key) for op in spends],
        outputs=[TxOutput(amount=amount_in * len(spends) - fee, address=ADDRESS)],
        lock_time=0,
        payload=None,
        signatures=[],
        owner_signature=None,
    )
    txid = compute_txid(unsigned)
    signatures = [
        OWNER.sign(compute_input_signing_message(PARAMS.chain_id, txid, i))
        for i in range(len(spends))
    ]
    return Transaction(
        version=TX_VERSION,
        inputs=unsigned.inputs,
        outputs=unsigned.outputs,
        lock_time=0,
        payload=None,
        signatures=signatures,
        owner_signature=None,
    )


def view() -> MemoryUtxoSet:
    return MemoryUtxoSet(COINS)


def test_admits_by_consensus_and_caches_signatures() -> None:
    cache = SignatureCache()
    pool = Mempool(PARAMS, sig_cache=cache)
    tx = make_tx([OUTPOINTS[0]])
    result = pool.add(tx, view(), HEIGHT, now_ms=0)
    assert result.added and result.fee == 10_000 and compute_txid(tx) in pool
    message = compute_input_signing_message(PARAMS.chain_id, compute_txid(tx), 0)
    assert cache.contains(OWNER.public_key, message, tx.signatures[0])
    assert not pool.add(tx, view(), HEIGHT, now_ms=1).added


def test_consensus_errors_are_raised() -> None:
    pool = Mempool(PARAMS)
    tx = make_tx([OUTPOINTS[0]])
    bad = Transaction(
        version=tx.version,
        inputs=tx.inputs,
        outputs=tx.outputs,
        lock_time=0,
        payload=None,
        signatures=[bytes(64)],
        owner_signature=None,
    )
    with pytest.raises(InvalidTransaction, match="bad-signature"):
        pool.add(bad, view(), HEIGHT, now_ms=0)
    with pytest.raises(InvalidTransaction, match="fee-too-low"):
        pool.add(make_tx([OUTPOINTS[1]], fee=1), view(), HEIGHT, now_ms=0)


def test_first_seen_wins_conflicts() -> None:
    pool = Mempool(PARAMS)
    pool.add(make_tx([OUTPOINTS[0]]), view(), HEIGHT, now_ms=0)
    with pytest.raises(MempoolRejected, match="txn-mempool-conflict"):
        pool.add(make_tx([OUTPOINTS[0]], fee=20_000), view(), HEIGHT, now_ms=1)


def test_orphans_wait_for_their_parent() -> None:
    pool = Mempool(PARAMS)
    parent = make_tx([OUTPOINTS[0]])
    child = make_tx([OutPoint(compute_txid(parent), 0)], amount_in=10 * COIN - 10_000)
    with pytest.raises(MempoolRejected, match="orphan"):
        pool.add(child, view(), HEIGHT, now_ms=0, peer="p")
    assert pool.orphan_count == 1
    # the parent becomes final: its outputs are in the final view
    final_view = FinalUtxoView(view(), [parent], HEIGHT)
    [(again, peer)] = pool.take_orphans(compute_txid(parent))
    assert again == child and peer == "p" and pool.orphan_count == 0
    assert pool.add(again, final_view, HEIGHT, now_ms=1).added


def test_orphans_are_bounded() -> None:
    pool = Mempool(PARAMS, MempoolPolicy(max_orphans=2))
    for i in range(4):
        with pytest.raises(MempoolRejected):
            pool.add(
                make_tx([OutPoint(sha256(f"missing/{i}".encode()), 0)]), view(), HEIGHT, now_ms=i
            )
    assert pool.orphan_count == 2


def test_per_peer_share_counts_only_unprotected() -> None:
    pool = Mempool(PARAMS, MempoolPolicy(max_peer_txs=2))
    first = make_tx([OUTPOINTS[0]])
    pool.add(first, view(), HEIGHT, now_ms=0, peer="p")
    pool.add(make_tx([OUTPOINTS[1]]), view(), HEIGHT, now_ms=0, peer="p")
    with pytest.raises(MempoolRejected, match="peer-limit"):
        pool.add(make_tx([OUTPOINTS[2]]), view(), HEIGHT, now_ms=0, peer="p")
    assert pool.add(make_tx([OUTPOINTS[2]]), view(), HEIGHT, now_ms=0, peer="q").added
    pool.mark_voted(compute_txid(first))
    assert pool.peer_usage("p")[0] == 1
    assert pool.add(make_tx([OUTPOINTS[3]]), view(), HEIGHT, now_ms=0, peer="p").added


def cap_for(count: int) -> int:
    tx = make_tx([OUTPOINTS[0]])
    return count * estimate_entry_memory_bytes(tx, compute_tx_size(tx)) + 10


def test_memory_cap_evicts_cheapest_candidate_never_protected() -> None:
    pool = Mempool(PARAMS, MempoolPolicy(max_memory_bytes=cap_for(2)))
    cheap = make_tx([OUTPOINTS[0]], fee=10_000)
    voted = make_tx([OUTPOINTS[1]], fee=10_000)
    pool.add(cheap, view(), HEIGHT, now_ms=0)
    pool.add(voted, view(), HEIGHT, now_ms=0)
    pool.mark_voted(compute_txid(voted))
    with pytest.raises(MempoolRejected, match="mempool-full"):
        pool.add(make_tx([OUTPOINTS[2]], fee=10_000), view(), HEIGHT, now_ms=1)
    result = pool.add(make_tx([OUTPOINTS[3]], fee=50_000), view(), HEIGHT, now_ms=2)
    assert result.evicted == (compute_txid(cheap),)
    assert compute_txid(voted) in pool
    pool.mark_final(result.txid)
    with pytest.raises(MempoolRejected, match="mempool-full"):
        pool.add(make_tx([OUTPOINTS[4]], fee=900_000), view(), HEIGHT, now_ms=3)
    assert pool.memory_bytes <= cap_for(2)


def test_final_transaction_replaces_a_conflicting_candidate() -> None:
    pool = Mempool(PARAMS)
    candidate = make_tx([OUTPOINTS[0]], fee=10_000)
    final = make_tx([OUTPOINTS[0]], fee=20_000)
    pool.add(candidate, view(), HEIGHT, now_ms=0)
    result = pool.add(final, view(), HEIGHT, now_ms=1, final=True)
    assert result.evicted == (compute_txid(candidate),)
    entry = pool.get(result.txid)
    assert entry is not None and entry.final and entry.is_protected


def test_voted_loser_stays_until_the_winner_is_in_a_block() -> None:
    pool = Mempool(PARAMS)
    voted = make_tx([OUTPOINTS[0]], fee=10_000)
    winner = make_tx([OUTPOINTS[0]], fee=20_000)
    pool.add(voted, view(), HEIGHT, now_ms=0)
    pool.mark_voted(compute_txid(voted))
    pool.add(winner, view(), HEIGHT, now_ms=1, final=True)
    assert compute_txid(voted) in pool and compute_txid(winner) in pool
    assert pool.spenders_of(OUTPOINTS[0]) == {compute_txid(voted), compute_txid(winner)}
    removed = pool.remove_block([winner])
    assert set(removed) == {compute_txid(voted), compute_txid(winner)}
    assert len(pool) == 0


def test_block_removes_included_conflicted_and_descendants() -> None:
    pool = Mempool(PARAMS)
    parent = make_tx([OUTPOINTS[0]])
    child = make_tx([OutPoint(compute_txid(parent), 0)], amount_in=10 * COIN - 10_000)
    other = make_tx([OUTPOINTS[1]])
    final_view = FinalUtxoView(view(), [parent], HEIGHT)
    pool.add(parent, view(), HEIGHT, now_ms=0)
    pool.add(child, final_view, HEIGHT, now_ms=0)
    pool.add(other, view(), HEIGHT, now_ms=0)
    rival = make_tx([OUTPOINTS[0]], fee=30_000)
    removed = pool.remove_block([rival])
    assert set(removed) == {compute_txid(parent), compute_txid(child)}
    assert [entry.txid for entry in pool.entries()] == [compute_txid(other)]


def test_relay_floors_apply_only_to_a_non_voting_pool() -> None:
    policy = MempoolPolicy(min_fee_per_kb=1_000_000, dust_limit=100 * COIN, max_tx_bytes=10)
    tx = make_tx([OUTPOINTS[0]])
    assert Mempool(PARAMS, policy, voting=True).add(tx, view(), HEIGHT, now_ms=0).added
    relay = Mempool(PARAMS, policy, voting=False)
    with pytest.raises(MempoolRejected, match="tx-size-policy"):
        relay.add(tx, view(), HEIGHT, now_ms=0)
    with pytest.raises(MempoolRejected, match="dust"):
        Mempool(PARAMS, MempoolPolicy(dust_limit=100 * COIN), voting=False).add(
            tx, view(), HEIGHT, now_ms=0
        )
    with pytest.raises(MempoolRejected, match="min-fee-rate"):
        Mempool(PARAMS, MempoolPolicy(min_fee_per_kb=1_000_000), voting=False).add(
            tx, view(), HEIGHT, now_ms=0
        )


def test_final_view_spends_and_creates() -> None:
    parent = make_tx([OUTPOINTS[0]])
    final_view = FinalUtxoView(view(), [parent], HEIGHT)
    assert final_view.get_coin(OUTPOINTS[0]) is None
    created = final_view.get_coin(OutPoint(compute_txid(parent), 0))
    assert created is not None and created.height == HEIGHT
    assert final_view.get_coin(OUTPOINTS[1]) == COINS[OUTPOINTS[1]]
    child = make_tx([OutPoint(compute_txid(parent), 0)], amount_in=10 * COIN - 10_000)
    final_view.add_final(child)
    assert final_view.get_coin(OutPoint(compute_txid(parent), 0)) is None


def test_final_view_after_a_block_equals_a_rebuilt_one() -> None:
    # Chains of final transactions; blocks take prefixes of them (parents
    # first). Updating the view with each block must leave it equal to a
    # view rebuilt over the new tip from the still-unblocked ones.
    a = make_tx([OUTPOINTS[0]])
    b = make_tx([OutPoint(compute_txid(a), 0)], amount_in=10 * COIN - 10_000)
    c = make_tx([OutPoint(compute_txid(b), 0)], amount_in=10 * COIN - 20_000)
    d = make_tx([OUTPOINTS[1], OUTPOINTS[2]])
    e = make_tx([OUTPOINTS[3]])
    final = [a, b, d, c, e]
    base = view()
    incremental = FinalUtxoView(base, final, HEIGHT)
    watched = set(OUTPOINTS)
    for tx in final:
        watched.update(OutPoint(compute_txid(tx), i) for i in range(len(tx.outputs)))
    unblocked = list(final)
    height = HEIGHT
    for block in ([a], [b, d, c], [e]):
        for tx in block:  # the tip moves: the block's transactions enter base
            txid = compute_txid(tx)
            for txin in tx.inputs:
                del base.coins[txin.prevout]
            for index, out in enumerate(tx.outputs):
                base.coins[OutPoint(txid, index)] = Coin(out.amount, out.address, height)
            unblocked.remove(tx)
        height += 1
        incremental.apply_block([(compute_txid(tx), tx) for tx in block], height)
        rebuilt = FinalUtxoView(base, unblocked, height)
        for outpoint in watched:
            got, want = incremental.get_coin(outpoint), rebuilt.get_coin(outpoint)
            assert (got is None) == (want is None), (outpoint, got, want)
            if got is not None and want is not None:
                assert (got.amount, got.address) == (want.amount, want.address)
    assert not incremental._spent and not incremental._created

"""compute_txid memoizes by object identity and never returns a stale txid."""

from __future__ import annotations

from timecoin.crypto import sha256
from timecoin.types import TX_VERSION, OutPoint, Transaction, TxOutput, compute_txid, hashing
from timecoin.types.hashing import encode_tx_body


def _tx(n: int) -> Transaction:
    return Transaction(
        version=TX_VERSION,
        inputs=[],
        outputs=[TxOutput(amount=n + 1, address=b"\x01" * 20)],
        lock_time=n,
        payload=None,
        signatures=[],
        owner_signature=None,
    )


def test_txids_stay_exact_across_evictions_and_reused_ids() -> None:
    # More transactions than the memo holds, each dropped at once, so
    # CPython reuses their ids: every answer must still be that object's.
    for n in range(hashing._TXID_MEMO_SIZE + 5_000):
        tx = _tx(n)
        assert compute_txid(tx) == sha256(encode_tx_body(tx))
    assert len(hashing._txid_memo) <= hashing._TXID_MEMO_SIZE


def test_equal_transactions_have_one_txid_and_a_hit_returns_it() -> None:
    a, b = _tx(7), _tx(7)
    assert compute_txid(a) == compute_txid(b) == compute_txid(a)
    assert hashing._txid_memo[id(a)][0] is a
    assert OutPoint(txid=compute_txid(a), index=0).txid == sha256(encode_tx_body(a))

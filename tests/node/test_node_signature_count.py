"""The node's signature counter sees every verification path: inline checks
of `validate_transaction`, batches of a `BatchVerifier`, uncached checks."""

from __future__ import annotations

import msgspec

from timecoin.crypto import BatchVerifier, SigningKey, address_from_public_key, sha256
from timecoin.ledger import MemoryUtxoSet, compute_input_signing_message, validate_transaction
from timecoin.node.finality import CountingSignatureCache
from timecoin.params import COIN, MINIMAL
from timecoin.types import (
    TX_VERSION,
    Coin,
    OutPoint,
    Transaction,
    TxInput,
    TxOutput,
    compute_txid,
)

KEY = SigningKey.from_seed(b"\x07" * 32)


def _signed_transfer(n: int) -> tuple[Transaction, bytes, MemoryUtxoSet]:
    """A one-input transfer of funding coin `n` and a UTXO set holding that coin."""
    address = address_from_public_key(KEY.public_key)
    outpoint = OutPoint(txid=sha256(b"coin" + n.to_bytes(4, "big")), index=0)
    utxos = MemoryUtxoSet({outpoint: Coin(amount=COIN, address=address, height=0)})
    unsigned = Transaction(
        version=TX_VERSION,
        inputs=[TxInput(prevout=outpoint, public_key=KEY.public_key)],
        outputs=[TxOutput(amount=COIN - 100_000, address=address)],
        lock_time=0,
        payload=None,
        signatures=[],
        owner_signature=None,
    )
    txid = compute_txid(unsigned)
    signature = KEY.sign(compute_input_signing_message(MINIMAL.chain_id, txid, 0))
    tx = msgspec.structs.replace(unsigned, signatures=[signature])
    return tx, txid, utxos


def test_inline_validation_counts_each_miss_once() -> None:
    cache = CountingSignatureCache()
    tx, txid, utxos = _signed_transfer(1)
    validate_transaction(tx, txid, utxos, MINIMAL, 1, sig_cache=cache)
    assert cache.verifications == 1
    validate_transaction(tx, txid, utxos, MINIMAL, 1, sig_cache=cache)
    assert cache.verifications == 1  # a cache hit is not a verification


def test_sink_skips_cached_signatures() -> None:
    cache = CountingSignatureCache()
    tx, txid, utxos = _signed_transfer(2)
    sink: list[tuple[bytes, bytes, bytes]] = []
    validate_transaction(tx, txid, utxos, MINIMAL, 1, sig_sink=sink, sig_cache=cache)
    assert len(sink) == 1
    cache.add(*sink[0])
    sink.clear()
    validate_transaction(tx, txid, utxos, MINIMAL, 1, sig_sink=sink, sig_cache=cache)
    assert sink == []


def test_batches_and_uncached_checks_are_counted() -> None:
    cache = CountingSignatureCache()
    items = []
    for n in range(3):
        tx, txid, _ = _signed_transfer(10 + n)
        message = compute_input_signing_message(MINIMAL.chain_id, txid, 0)
        items.append((KEY.public_key, message, tx.signatures[0]))
    verifier = BatchVerifier(threads=1)
    try:
        assert cache.count_batch(verifier.verify_all)(items) == [True, True, True]
    finally:
        verifier.close()
    assert cache.verifications == 3
    assert cache.verify_uncached(*items[0])
    assert not cache.verify_uncached(KEY.public_key, b"other message", items[0][2])
    assert cache.verifications == 5
    assert len(cache) == 0  # uncached checks leave the cache alone

"""The node's signature counter sees every verification path: inline checks
of `validate_transaction`, batches of a `BatchVerifier`, uncached checks."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import msgspec

from timecoin.crypto import BatchVerifier, SigningKey, address_from_public_key, sha256
from timecoin.ledger import MemoryUtxoSet, compute_input_signing_message, validate_transaction
from timecoin.node.finality import CountingSignatureCache, FinalityNetwork, FinalityService
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


def _service(cache: CountingSignatureCache) -> FinalityService:
    """A finality service over an in-memory UTXO set (not started)."""
    return FinalityService(
        params=MINIMAL,
        chain=MemoryUtxoSet({}),  # type: ignore[arg-type]
        state=SimpleNamespace(height=0),  # type: ignore[arg-type]
        key=None,
        wal=None,  # type: ignore[arg-type]
        final_store=None,  # type: ignore[arg-type]
        network=FinalityNetwork(lambda m: None, lambda t, p: None, lambda e: None),
        executor=ThreadPoolExecutor(max_workers=1),
        sig_cache=cache,
        voting_sets={},
    )


def test_preverify_caches_valid_signatures_off_the_loop() -> None:
    async def run() -> None:
        cache = CountingSignatureCache()
        service = _service(cache)
        good, good_txid, _ = _signed_transfer(20)
        bad, _, _ = _signed_transfer(21)
        bad = msgspec.structs.replace(bad, signatures=[good.signatures[0]])
        await service.preverify([good, bad])
        assert cache.verifications == 2
        message = compute_input_signing_message(MINIMAL.chain_id, good_txid, 0)
        assert cache.contains(KEY.public_key, message, good.signatures[0])
        assert len(cache) == 1  # the invalid signature is not cached
        await service.preverify([good, bad])
        assert cache.verifications == 3  # only the invalid one is checked again
        await service.stop()
        await service.preverify([bad])  # stopped: nothing is verified
        assert cache.verifications == 3

    asyncio.run(run())

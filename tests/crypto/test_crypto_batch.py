"""BatchVerifier: same results as verify, in order, inline or threaded."""

from __future__ import annotations

import pytest

from timecoin.crypto import BatchVerifier, SigningKey, verify, verify_batch

_KEYS = [SigningKey.from_seed(bytes([i]) * 32) for i in range(1, 5)]


def _items(count: int) -> list[tuple[bytes, bytes, bytes]]:
    items = []
    for i in range(count):
        key = _KEYS[i % len(_KEYS)]
        message = i.to_bytes(4, "big")
        signature = key.sign(message)
        if i % 7 == 3:
            signature = signature[:10] + bytes([signature[10] ^ 1]) + signature[11:]
        if i % 11 == 5:
            message += b"!"
        items.append((key.public_key, message, signature))
    return items


ITEMS = _items(300)
EXPECTED = [verify(*item) for item in ITEMS]


def test_expected_mix() -> None:
    assert any(EXPECTED) and not all(EXPECTED)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("chunk_size", [1, 16, 64, 1000])
def test_verify_all_matches_verify(threads: int, chunk_size: int) -> None:
    with BatchVerifier(threads=threads, chunk_size=chunk_size) as verifier:
        assert verifier.verify_all(ITEMS) == EXPECTED
        assert verifier.verify_all(ITEMS[:5]) == EXPECTED[:5]
        assert verifier.verify_all([]) == []


def test_all_valid() -> None:
    good = [item for item, ok in zip(ITEMS, EXPECTED, strict=True) if ok]
    with BatchVerifier(chunk_size=8) as verifier:
        assert verifier.all_valid(good)
        assert not verifier.all_valid([*good, ITEMS[3]])
        assert verifier.all_valid([])


def test_small_batches_run_inline_without_a_pool() -> None:
    verifier = BatchVerifier(chunk_size=64)
    assert verifier.verify_all(ITEMS[:127]) == EXPECTED[:127]
    assert verifier._executor is None
    assert verifier.verify_all(ITEMS[:128]) == EXPECTED[:128]
    assert verifier._executor is not None
    verifier.close()


def test_close_is_idempotent_and_final() -> None:
    verifier = BatchVerifier(chunk_size=4)
    assert verifier.verify_all(ITEMS[:40]) == EXPECTED[:40]
    verifier.close()
    verifier.close()
    assert verifier.verify_all(ITEMS[:5]) == EXPECTED[:5]
    with pytest.raises(RuntimeError, match="closed"):
        verifier.verify_all(ITEMS[:40])


def test_verify_batch_helper() -> None:
    assert verify_batch(ITEMS) == EXPECTED
    with BatchVerifier(threads=2, chunk_size=10) as verifier:
        assert verify_batch(ITEMS, verifier) == EXPECTED


def test_malformed_items_are_false() -> None:
    items = [(b"short", b"m", bytes(64)), (bytes(32), b"m", b"short"), ITEMS[0]]
    assert BatchVerifier(threads=1).verify_all(items) == [False, False, EXPECTED[0]]


@pytest.mark.parametrize(("threads", "chunk_size"), [(0, 64), (2, 0), (-1, 1)])
def test_rejects_bad_configuration(threads: int, chunk_size: int) -> None:
    with pytest.raises(ValueError):
        BatchVerifier(threads=threads, chunk_size=chunk_size)


def test_submit_returns_results_in_order_while_caller_continues() -> None:
    key = SigningKey.from_seed(bytes(32))
    items = [(key.public_key, b"m%d" % i, key.sign(b"m%d" % i)) for i in range(300)]
    items[137] = (key.public_key, b"tampered", items[137][2])
    with BatchVerifier(threads=2, chunk_size=16) as verifier:
        pending = verifier.submit(items)
        results = pending.result()
        assert not pending.all_valid()
    assert results == [i != 137 for i in range(300)]


def test_configure_parallel_verification_sets_the_switch_interval() -> None:
    import sys

    from timecoin.crypto import GIL_SWITCH_INTERVAL_S, configure_parallel_verification

    before = sys.getswitchinterval()
    try:
        configure_parallel_verification()
        assert sys.getswitchinterval() == pytest.approx(GIL_SWITCH_INTERVAL_S)
    finally:
        sys.setswitchinterval(before)

"""MuHash3072: vectors, multiset algebra, serialization, the lazy product."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timecoin.crypto import MUHASH_BYTES, MUHASH_MODULUS, MuHash3072, muhash_element
from timecoin.crypto import muhash as muhash_module

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "crypto_muhash.json").read_text()
)
P = MUHASH_MODULUS


def test_modulus() -> None:
    assert P == 2**3072 - 1103717
    assert MUHASH_BYTES == 384


@pytest.mark.parametrize("case", VECTORS["elements"], ids=lambda case: case["data"] or "empty")
def test_element_vectors(case: dict[str, str]) -> None:
    assert muhash_element(bytes.fromhex(case["data"])) == int(case["residue"], 16)


def _replay(ops: list[list[str]], batched: bool) -> MuHash3072:
    state = MuHash3072()
    inserts = [bytes.fromhex(data) for op, data in ops if op == "insert"]
    removes = [bytes.fromhex(data) for op, data in ops if op == "remove"]
    if batched:
        state.insert_many(inserts)
        state.remove_many(removes)
    else:
        for op, data in ops:
            if op == "insert":
                state.insert(bytes.fromhex(data))
            else:
                state.remove(bytes.fromhex(data))
    return state


@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda case: case["name"])
def test_digest_vectors(case: dict[str, Any], batched: bool) -> None:
    state = _replay(case["ops"], batched)
    assert state.digest().hex() == case["digest"]
    assert state.to_bytes().hex() == case["state"]
    restored = MuHash3072.from_bytes(bytes.fromhex(case["state"]))
    assert restored.digest().hex() == case["digest"]


def test_vector_relations() -> None:
    digests = {case["name"]: case["digest"] for case in VECTORS["cases"]}
    assert digests["three-elements"] == digests["three-elements-reordered"]
    assert digests["insert-then-remove"] == digests["two-elements"]
    assert digests["duplicate-element"] != digests["one-element"]
    assert digests["empty"] == hashlib.sha256((1).to_bytes(384, "little")).hexdigest()


def test_order_independence() -> None:
    items = [i.to_bytes(2, "big") * 5 for i in range(50)]
    forward, backward, shuffled = MuHash3072(), MuHash3072(), MuHash3072()
    for item in items:
        forward.insert(item)
    for item in reversed(items):
        backward.insert(item)
    mixed = items[:]
    random.Random(7).shuffle(mixed)
    shuffled.insert_many(mixed)
    assert forward == backward == shuffled
    assert forward.digest() == shuffled.digest()


def test_insert_then_remove_is_identity() -> None:
    empty = MuHash3072()
    state = MuHash3072()
    state.insert(b"x")
    state.insert_many([b"y", b"z"])
    state.remove(b"y")
    state.remove_many([b"x", b"z"])
    assert state == empty
    assert state.digest() == empty.digest()
    assert state.to_bytes() == (1).to_bytes(384, "little")


def test_multiset_semantics() -> None:
    once, twice = MuHash3072(), MuHash3072()
    once.insert(b"coin")
    twice.insert_many([b"coin", b"coin"])
    assert once != twice
    twice.remove(b"coin")
    assert once == twice
    # Removing an element never inserted is representable and undone by inserting it.
    ghost = MuHash3072()
    ghost.remove(b"ghost")
    assert ghost != MuHash3072()
    ghost.insert(b"ghost")
    assert ghost == MuHash3072()


def test_combine_is_multiset_sum() -> None:
    left, right, whole = MuHash3072(), MuHash3072(), MuHash3072()
    left.insert_many([b"a", b"b"])
    right.insert(b"c")
    right.remove(b"a")
    whole.insert_many([b"b", b"c"])
    left.combine(right)
    assert left == whole


def test_copy_is_independent_and_digest_does_not_mutate() -> None:
    state = MuHash3072()
    state.insert(b"a")
    state.remove(b"b")
    twin = state.copy()
    before = (state._numerator, state._denominator)
    state.digest()
    assert (state._numerator, state._denominator) == before
    twin.insert(b"c")
    assert twin != state


def test_normalize_leaves_denominator_one() -> None:
    state = MuHash3072()
    state.insert(b"a")
    state.remove(b"b")
    digest = state.digest()
    state.normalize()
    assert state._denominator == 1
    assert state.digest() == digest
    state.normalize()
    assert state.digest() == digest


def test_serialization_round_trip() -> None:
    state = MuHash3072()
    state.insert_many([b"a", b"b", b"c"])
    state.remove(b"d")
    blob = state.to_bytes()
    assert len(blob) == 384
    restored = MuHash3072.from_bytes(blob)
    assert restored == state
    assert restored.to_bytes() == blob
    as_bytearray: Any = bytearray(blob)
    assert MuHash3072.from_bytes(as_bytearray) == state


@pytest.mark.parametrize(
    "blob",
    [
        P.to_bytes(384, "little"),
        (P + 1).to_bytes(384, "little"),
        (2**3072 - 1).to_bytes(384, "little"),
        bytes(384),
        bytes(383),
        bytes(385),
        b"",
    ],
    ids=["p", "p+1", "max", "zero", "short", "long", "empty"],
)
def test_from_bytes_rejects(blob: bytes) -> None:
    with pytest.raises(ValueError):
        MuHash3072.from_bytes(blob)


def test_from_bytes_accepts_p_minus_one() -> None:
    state = MuHash3072.from_bytes((P - 1).to_bytes(384, "little"))
    assert state.to_bytes() == (P - 1).to_bytes(384, "little")


def test_equality_and_hashing() -> None:
    assert MuHash3072() == MuHash3072()
    assert MuHash3072() != b"not a muhash"
    with pytest.raises(TypeError):
        hash(MuHash3072())
    assert MuHash3072().digest().hex() in repr(MuHash3072())


class _FixedShake:
    """Stand-in for hashlib.shake_256 returning a chosen 384-byte expansion."""

    def __init__(self, value: int) -> None:
        self._bytes = value.to_bytes(384, "little")

    def __call__(self, _data: bytes) -> _FixedShake:
        return self

    def digest(self, length: int) -> bytes:
        assert length == 384
        return self._bytes


@pytest.mark.parametrize(
    "value",
    [2**3072 - 1, P + 1, P, 0, 1, P - 1, 2**3071],
    ids=["max", "p+1", "p", "zero", "one", "p-1", "half"],
)
def test_lazy_reduction_extremes(monkeypatch: pytest.MonkeyPatch, value: int) -> None:
    """insert_many's folded product matches exact arithmetic for worst-case element values."""
    monkeypatch.setattr(muhash_module, "_shake_256", _FixedShake(value))
    residue = value % P or 1
    count = 37
    batched, single = MuHash3072(), MuHash3072()
    batched.insert_many([b"x"] * count)
    for _ in range(count):
        single.insert(b"x")
    expected = pow(residue, count, P).to_bytes(384, "little")
    assert batched.to_bytes() == expected
    assert single.to_bytes() == expected


def test_insert_many_matches_reference_for_many_elements() -> None:
    items = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(500)]
    value = 1
    for item in items:
        residue = (
            int.from_bytes(hashlib.shake_256(hashlib.sha256(item).digest()).digest(384), "little")
            % P
        )
        value = value * (residue or 1) % P
    state = MuHash3072()
    state.insert_many(iter(items))
    assert state.to_bytes() == value.to_bytes(384, "little")


@settings(max_examples=60)
@given(
    st.lists(st.binary(max_size=12), max_size=12),
    st.randoms(use_true_random=False),
)
def test_order_independence_property(items: list[bytes], rng: random.Random) -> None:
    ordered = MuHash3072()
    for item in items:
        ordered.insert(item)
    permuted = items[:]
    rng.shuffle(permuted)
    split = len(permuted) // 2
    grouped, tail = MuHash3072(), MuHash3072()
    grouped.insert_many(permuted[:split])
    tail.insert_many(permuted[split:])
    grouped.combine(tail)
    assert ordered == grouped
    for item in permuted:
        grouped.remove(item)
    assert grouped == MuHash3072()

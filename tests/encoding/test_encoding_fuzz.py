"""Fuzzing the decoder: random and mutated bytes for every consensus type.

Every outcome must be either a valid object that re-encodes to exactly the
input, or a DecodeError; any other exception is a bug. The generator is
seeded, so a failure replays (the seed is in the test id).
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from encoding_strategies import CONSENSUS_TYPES, MAX_BYTES, STRATEGIES
from hypothesis import given, settings
from hypothesis import strategies as st

from timecoin.encoding import DecodeError, decode, encode

SEED = 20_240_601
CASES_PER_TYPE = 2_000


def check_outcome(data: bytes, type_: type[Any]) -> bool:
    """True when `data` decoded; raises on any exception but DecodeError."""
    try:
        obj = decode(data, type_, MAX_BYTES)
    except DecodeError as exc:
        assert exc.reject_code in {"malformed", "non-canonical", "oversized"}
        return False
    assert isinstance(obj, type_)
    assert encode(obj) == data
    return True


def seeds_for(type_: type[Any]) -> list[bytes]:
    """A few valid encodings of `type_` to mutate (deterministic)."""
    strategy = STRATEGIES[type_]
    found: list[bytes] = []

    @settings(max_examples=8, database=None, derandomize=True)
    @given(strategy)
    def collect(obj: Any) -> None:
        found.append(encode(obj))

    collect()
    return found


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(7)
        pos = rng.randrange(len(buf) + 1)
        if kind == 0 and buf:  # flip a bit
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        elif kind == 1 and buf:  # replace a byte
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        elif kind == 2:  # insert bytes
            buf[pos:pos] = rng.randbytes(rng.randint(1, 3))
        elif kind == 3 and buf:  # delete bytes
            del buf[pos : pos + rng.randint(1, 3)]
        elif kind == 4:  # truncate
            del buf[pos:]
        elif kind == 5:  # append trailing bytes
            buf += rng.randbytes(rng.randint(1, 3))
        else:  # interesting msgpack type bytes
            if buf:
                buf[rng.randrange(len(buf))] = rng.choice(
                    [
                        0xC0,
                        0xC2,
                        0xC3,
                        0xC4,
                        0xC5,
                        0xCC,
                        0xCD,
                        0xCF,
                        0xD0,
                        0xD3,
                        0xDC,
                        0xDD,
                        0x90,
                        0xFF,
                    ]
                )
    return bytes(buf)


@pytest.mark.parametrize("type_", CONSENSUS_TYPES, ids=lambda t: t.__name__)
def test_fuzz_mutated_and_random_bytes(type_: type[Any]) -> None:
    rng = random.Random(f"{SEED}/{type_.__name__}")
    valid = seeds_for(type_)
    for data in valid:
        assert check_outcome(data, type_)
    for case in range(CASES_PER_TYPE):
        if case % 4 == 0:
            data = rng.randbytes(rng.randint(0, 64))
        else:
            data = mutate(rng, rng.choice(valid))
        check_outcome(data, type_)


@settings(max_examples=300)
@given(st.binary(max_size=300), st.sampled_from(CONSENSUS_TYPES))
def test_fuzz_arbitrary_bytes(data: bytes, type_: type[Any]) -> None:
    check_outcome(data, type_)

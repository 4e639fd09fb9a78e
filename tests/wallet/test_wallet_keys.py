"""Key derivation: the documented formula, pinned vectors, and the key ring."""

from __future__ import annotations

import hashlib

import pytest

from timecoin.crypto import SigningKey, address_from_public_key, encode_address
from timecoin.wallet import (
    DERIVATION_TAG,
    MAX_KEYS,
    KeyRing,
    compute_fingerprint,
    compute_key_seed,
    derive_key,
    generate_master_seed,
)

MASTER = bytes(range(32))

# (index, key seed, public key, mainnet address) for MASTER; any change to the
# derivation, to Ed25519 key generation or to addresses breaks these.
VECTORS = [
    (
        0,
        "1aa38bb342ad18978227bc2a0f5a1aa1ed21fe9dbbfdbe46419cd25f451e97f0",
        "98c1929da1bf404116d33bc39c6baaaa252cece5bc43039345c56d352b0e03b4",
        "time1lx5l8pn6lvnxmpup4u0nv3wjr0z6f7reykulcq",
    ),
    (
        1,
        "6d5d613830a09562780e406af0fd996f1c364c58627a8d7d04b60e787e28855c",
        "14dbafb3620bb5ffe682baae3f92e8b2389bffbb48ab8d5f2c7c058bc6677ecf",
        "time18m9lvq33ycfg5rzcqj74w2rzllycha2x23ef8r",
    ),
    (
        0xFFFF_FFFF,
        "abbbc57141143956637ff299f5fffe7bfd54a5215e9b502c3401a016bf15fa02",
        "55f4f7f95ada6df3dfaf43accc640934e451e0e246869f3c225466da4c96e104",
        "time1ndj9sxx6uyadnjyn4xe620gak7yp2xmw7wm8l3",
    ),
]


def test_key_seed_is_the_documented_hash() -> None:
    for index in (0, 1, 7, 0xFFFF_FFFF):
        expected = hashlib.sha256(
            MASTER + b"TIMECOIN/wallet/v1" + index.to_bytes(4, "big")
        ).digest()
        assert compute_key_seed(MASTER, index) == expected
    assert DERIVATION_TAG == b"TIMECOIN/wallet/v1"


@pytest.mark.parametrize(("index", "seed_hex", "public_hex", "address"), VECTORS)
def test_derivation_vectors(index: int, seed_hex: str, public_hex: str, address: str) -> None:
    key = derive_key(MASTER, index)
    assert key.index == index
    assert compute_key_seed(MASTER, index).hex() == seed_hex
    assert key.public_key.hex() == public_hex
    assert encode_address("time", key.address) == address
    assert key.signing_key.seed.hex() == seed_hex


def test_derived_key_matches_crypto() -> None:
    key = derive_key(MASTER, 3)
    direct = SigningKey.from_seed(compute_key_seed(MASTER, 3))
    assert key.public_key == direct.public_key
    assert key.address == address_from_public_key(direct.public_key)


def test_keys_differ_by_index_and_master() -> None:
    other = bytes(32)
    seeds = {compute_key_seed(m, i) for m in (MASTER, other) for i in range(20)}
    assert len(seeds) == 40


@pytest.mark.parametrize(
    ("master", "index"), [(bytes(31), 0), (bytes(33), 0), (MASTER, -1), (MASTER, 2**32)]
)
def test_bad_derivation_inputs_raise(master: bytes, index: int) -> None:
    with pytest.raises(ValueError, match=r"master seed|key index"):
        compute_key_seed(master, index)


def test_generate_master_seed_is_random() -> None:
    seeds = {generate_master_seed() for _ in range(8)}
    assert len(seeds) == 8
    assert all(len(s) == 32 for s in seeds)


def test_key_ring_derives_and_looks_up() -> None:
    ring = KeyRing(MASTER, 3)
    assert ring.count == 3
    assert ring.addresses() == [derive_key(MASTER, i).address for i in range(3)]
    nxt = ring.peek_next()
    assert ring.count == 3
    assert ring.key_for_address(nxt.address) is None
    assert ring.derive_next() == nxt
    assert ring.count == 4
    found = ring.key_for_address(nxt.address)
    assert found is not None
    assert found.index == 3
    assert ring.key(0).address == ring.addresses()[0]


@pytest.mark.parametrize("count", [0, MAX_KEYS + 1])
def test_key_ring_count_is_bounded(count: int) -> None:
    with pytest.raises(ValueError, match="key count"):
        KeyRing(MASTER, count)


def test_fingerprint_is_stable_and_per_wallet() -> None:
    assert compute_fingerprint(MASTER) == "a8346eca6e6d9abf"
    assert compute_fingerprint(bytes(32)) != compute_fingerprint(MASTER)

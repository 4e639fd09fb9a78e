"""Ed25519: RFC 8032 vectors, libsodium edge cases, SigningKey behaviour."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import nacl.signing
import pytest
from nacl.exceptions import BadSignatureError

from timecoin.crypto import (
    PUBLIC_KEY_SIZE,
    SEED_SIZE,
    SIGNATURE_SIZE,
    SigningKey,
    verify,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def _load(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((VECTORS / name).read_text())["cases"]
    return cases


RFC8032 = _load("crypto_ed25519_rfc8032.json")
EDGE = _load("crypto_ed25519_edge.json")


def test_sizes() -> None:
    assert (PUBLIC_KEY_SIZE, SIGNATURE_SIZE, SEED_SIZE) == (32, 64, 32)


def test_rfc8032_names() -> None:
    assert [case["name"] for case in RFC8032] == [
        "TEST 1",
        "TEST 2",
        "TEST 3",
        "TEST 1024",
        "TEST SHA(abc)",
    ]
    assert len(bytes.fromhex(RFC8032[3]["message"])) == 1023


@pytest.mark.parametrize("case", RFC8032, ids=lambda case: case["name"])
def test_rfc8032(case: dict[str, Any]) -> None:
    seed = bytes.fromhex(case["seed"])
    public_key = bytes.fromhex(case["public_key"])
    message = bytes.fromhex(case["message"])
    signature = bytes.fromhex(case["signature"])
    key = SigningKey.from_seed(seed)
    assert key.seed == seed
    assert key.public_key == public_key
    assert key.sign(message) == signature
    assert verify(public_key, message, signature)
    assert not verify(public_key, message + b"\x00", signature)
    assert not verify(public_key, message, signature[:-1] + bytes([signature[-1] ^ 0x01]))


@pytest.mark.parametrize("case", EDGE, ids=lambda case: case["name"])
def test_edge_cases(case: dict[str, Any]) -> None:
    public_key = bytes.fromhex(case["public_key"])
    message = bytes.fromhex(case["message"])
    signature = bytes.fromhex(case["signature"])
    assert verify(public_key, message, signature) is case["expected"], case["reason"]


def test_edge_cases_cover_the_rule() -> None:
    names = {case["name"] for case in EDGE}
    small_order = [case for case in EDGE if case["name"].startswith("small-order-public-key-")]
    # The 8 canonical small-order public keys (incl. the identity 0100..00) plus R = A.
    assert len({case["public_key"] for case in small_order}) == 8
    assert "01" + "00" * 31 in {case["public_key"] for case in small_order}
    assert {
        "non-canonical-S-plus-L",
        "non-canonical-public-key-y-ge-p",
        "small-order-R",
        "mixed-order-public-key-k-multiple-of-8",
    } <= names
    # Every case a lenient (cofactored, permissive-decoding) verifier would
    # accept but libsodium rejects is present: that is the point of the file.
    disagreements = [c for c in EDGE if c["equations"]["cofactored"] and not c["expected"]]
    assert len(disagreements) >= 15


@pytest.mark.parametrize("case", RFC8032 + EDGE, ids=lambda case: case["name"])
def test_agrees_with_pynacl_verify_key(case: dict[str, Any]) -> None:
    """The wrapper decides exactly as PyNaCl's own VerifyKey API (same libsodium)."""
    public_key = bytes.fromhex(case["public_key"])
    message = bytes.fromhex(case["message"])
    signature = bytes.fromhex(case["signature"])
    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
        reference = True
    except (BadSignatureError, ValueError, TypeError):
        reference = False
    assert verify(public_key, message, signature) is reference


@pytest.mark.parametrize(
    ("public_key", "message", "signature"),
    [
        (None, b"m", bytes(64)),
        (bytes(32), None, bytes(64)),
        (bytes(32), b"m", None),
        ("x" * 32, b"m", bytes(64)),
        (bytes(32), "text", bytes(64)),
        (bytes(32), b"m", "s" * 64),
        (12, b"m", bytes(64)),
        (b"", b"", b""),
    ],
)
def test_verify_never_raises(public_key: Any, message: Any, signature: Any) -> None:
    assert verify(public_key, message, signature) is False


def test_verify_accepts_bytes_like() -> None:
    key = SigningKey.from_seed(bytes(range(32)))
    message = b"bytes-like"
    signature = key.sign(message)
    as_bytearray: Any = (bytearray(key.public_key), bytearray(message), bytearray(signature))
    assert verify(*as_bytearray)
    as_view: Any = memoryview(message)
    assert verify(key.public_key, as_view, signature)


def test_signing_key_generate_and_equality() -> None:
    first, second = SigningKey.generate(), SigningKey.generate()
    assert first != second
    assert first == SigningKey.from_seed(first.seed)
    assert hash(first) == hash(SigningKey.from_seed(first.seed))
    assert len(first.public_key) == PUBLIC_KEY_SIZE
    message = b"generated"
    assert verify(first.public_key, message, first.sign(message))
    assert not verify(second.public_key, message, first.sign(message))


def test_signing_key_is_immutable_and_repr_hides_seed() -> None:
    key = SigningKey.from_seed(bytes(range(32)))
    with pytest.raises(AttributeError):
        key._seed = bytes(32)
    with pytest.raises(AttributeError):
        key.anything = 1
    with pytest.raises(AttributeError):
        del key._seed
    assert key.seed.hex() not in repr(key)
    assert key.public_key.hex() in repr(key)
    assert pickle.loads(pickle.dumps(key)) == key


@pytest.mark.parametrize("seed", [b"", bytes(31), bytes(33)])
def test_signing_key_rejects_bad_seed_length(seed: bytes) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SigningKey.from_seed(seed)


def test_signing_key_rejects_non_bytes_seed() -> None:
    with pytest.raises(TypeError):
        SigningKey("0" * 32)  # type: ignore[arg-type]


def test_signatures_are_deterministic() -> None:
    key = SigningKey.from_seed(bytes(range(32)))
    assert key.sign(b"abc") == key.sign(b"abc")
    assert key.sign(b"abc") != key.sign(b"abd")

"""HMAC-SHA256 (RFC 4231) and HKDF-SHA256 (RFC 5869)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from timecoin.crypto import (
    HKDF_MAX_LENGTH,
    constant_time_equal,
    hkdf_expand,
    hkdf_extract,
    hkdf_sha256,
    hmac_sha256,
)

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "crypto_kdf.json").read_text()
)


@pytest.mark.parametrize("case", VECTORS["hmac_sha256"], ids=lambda case: case["name"])
def test_hmac_vectors(case: dict[str, str]) -> None:
    mac = hmac_sha256(bytes.fromhex(case["key"]), bytes.fromhex(case["data"]))
    assert mac.hex() == case["mac"]


@pytest.mark.parametrize("case", VECTORS["hkdf_sha256"], ids=lambda case: case["name"])
def test_hkdf_vectors(case: dict[str, Any]) -> None:
    ikm, salt, info = (bytes.fromhex(case[k]) for k in ("ikm", "salt", "info"))
    prk = hkdf_extract(salt, ikm)
    assert prk.hex() == case["prk"]
    assert hkdf_expand(prk, info, case["length"]).hex() == case["okm"]
    assert hkdf_sha256(ikm, salt, info, case["length"]).hex() == case["okm"]


def test_rfc5869_case_numbers() -> None:
    assert [case["name"][-1] for case in VECTORS["hkdf_sha256"]] == ["1", "2", "3"]


def test_empty_salt_equals_zero_salt() -> None:
    assert hkdf_sha256(b"ikm", b"", b"info", 40) == hkdf_sha256(b"ikm", bytes(32), b"info", 40)


def test_hkdf_lengths() -> None:
    assert hkdf_sha256(b"k", b"s", b"i", 0) == b""
    full = hkdf_sha256(b"k", b"s", b"i", HKDF_MAX_LENGTH)
    assert len(full) == 255 * 32
    assert hkdf_sha256(b"k", b"s", b"i", 33) == full[:33]
    with pytest.raises(ValueError):
        hkdf_sha256(b"k", b"s", b"i", HKDF_MAX_LENGTH + 1)
    with pytest.raises(ValueError):
        hkdf_sha256(b"k", b"s", b"i", -1)
    with pytest.raises(ValueError):
        hkdf_expand(bytes(31), b"", 10)


def test_constant_time_equal() -> None:
    assert constant_time_equal(b"abc", b"abc")
    assert not constant_time_equal(b"abc", b"abd")
    assert not constant_time_equal(b"abc", b"ab")
    assert constant_time_equal(b"", b"")

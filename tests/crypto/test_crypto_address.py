"""Bech32m checksum (BIP-350 vectors) and TimeCoin addresses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import timecoin.crypto as crypto
from timecoin.crypto import (
    HRP_DEVNET,
    HRP_MAINNET,
    HRP_TESTNET,
    AddressChecksumError,
    AddressError,
    AddressFormatError,
    AddressNetworkError,
    SigningKey,
    address_from_public_key,
    bech32m_decode,
    bech32m_encode,
    convert_bits,
    decode_address,
    encode_address,
    sha256,
)

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "crypto_address.json").read_text()
)


def test_network_prefixes() -> None:
    assert (HRP_MAINNET, HRP_TESTNET, HRP_DEVNET) == ("time", "ttime", "dtime")


@pytest.mark.parametrize("text", VECTORS["bip350_valid"])
def test_bip350_valid(text: str) -> None:
    hrp, data = bech32m_decode(text)
    assert bech32m_encode(hrp, data) == text.lower()
    # Flipping one data bit breaks the checksum.
    position = text.rfind("1") + 1
    flipped = "p" if text[position].lower() == "q" else "q"
    if text.isupper():
        flipped = flipped.upper()
    with pytest.raises(AddressChecksumError):
        bech32m_decode(text[:position] + flipped + text[position + 1 :])


@pytest.mark.parametrize("case", VECTORS["bip350_invalid"], ids=lambda case: case["reason"])
def test_bip350_invalid(case: dict[str, str]) -> None:
    with pytest.raises(AddressError):
        bech32m_decode(case["text"])


@pytest.mark.parametrize(
    "case", VECTORS["addresses"], ids=lambda case: case["hrp"] + "-" + case["public_key"][:8]
)
def test_address_vectors(case: dict[str, str]) -> None:
    public_key = bytes.fromhex(case["public_key"])
    payload = address_from_public_key(public_key)
    assert payload.hex() == case["payload"]
    assert payload == sha256(b"TIMECOIN/addr/v1" + public_key)[:20]
    assert encode_address(case["hrp"], payload) == case["address"]
    assert decode_address(case["address"], case["hrp"]) == payload
    assert len(case["address"]) == len(case["hrp"]) + 1 + 32 + 6


_ERRORS = {
    "AddressFormatError": AddressFormatError,
    "AddressChecksumError": AddressChecksumError,
    "AddressNetworkError": AddressNetworkError,
}


@pytest.mark.parametrize("case", VECTORS["decode_cases"], ids=lambda case: case["reason"])
def test_decode_cases(case: dict[str, Any]) -> None:
    if case["error"] is None:
        decode_address(case["text"], case["expected_hrp"])
        return
    error = _ERRORS[case["error"]]
    with pytest.raises(error) as caught:
        decode_address(case["text"], case["expected_hrp"])
    # Each error is exactly one kind.
    for other in set(_ERRORS.values()) - {error}:
        assert not isinstance(caught.value, other)


def test_error_tree() -> None:
    for error in (AddressFormatError, AddressChecksumError, AddressNetworkError):
        assert issubclass(error, AddressError)
    assert issubclass(AddressError, ValueError)


def test_network_error_states_expected_and_actual() -> None:
    key = SigningKey.from_seed(bytes(32))
    testnet = encode_address(HRP_TESTNET, address_from_public_key(key.public_key))
    with pytest.raises(AddressNetworkError) as caught:
        decode_address(testnet, HRP_MAINNET)
    assert caught.value.expected == "time"
    assert caught.value.actual == "ttime"
    assert "'time'" in str(caught.value) and "'ttime'" in str(caught.value)


def test_networks_differ() -> None:
    payload = bytes(range(20))
    texts = {encode_address(hrp, payload) for hrp in (HRP_MAINNET, HRP_TESTNET, HRP_DEVNET)}
    assert len(texts) == 3


@pytest.mark.parametrize("payload", [b"", bytes(19), bytes(21), bytes(32)])
def test_encode_rejects_bad_payload(payload: bytes) -> None:
    with pytest.raises(AddressFormatError):
        encode_address(HRP_MAINNET, payload)


@pytest.mark.parametrize("hrp", ["", "Time", "ti me", "t\x7fme", "x" * 84])
def test_encode_rejects_bad_hrp(hrp: str) -> None:
    with pytest.raises(AddressFormatError):
        encode_address(hrp, bytes(20))


def test_address_from_public_key_rejects_bad_length() -> None:
    with pytest.raises(ValueError):
        address_from_public_key(bytes(31))


def test_bech32m_encode_rejects_bad_values() -> None:
    with pytest.raises(AddressFormatError):
        bech32m_encode("a", [32])
    with pytest.raises(AddressFormatError):
        bech32m_encode("a", [-1])
    with pytest.raises(AddressFormatError):
        bech32m_encode("a", [0] * 83)


def test_convert_bits_padding_rules() -> None:
    assert convert_bits(b"\xff", 8, 5, pad=True) == [31, 28]
    assert convert_bits([31, 28], 5, 8, pad=False) == [255]
    with pytest.raises(AddressFormatError, match="non-zero padding"):
        convert_bits([31, 29], 5, 8, pad=False)
    with pytest.raises(AddressFormatError, match="excess padding"):
        convert_bits([31, 28, 0], 5, 8, pad=False)
    with pytest.raises(AddressFormatError, match="out of range"):
        convert_bits([32], 5, 8, pad=False)


def test_decode_rejects_non_zero_padding_in_address_data() -> None:
    # 33 groups: 20 bytes plus 5 bits of padding; rejected on length first.
    text = bech32m_encode(HRP_MAINNET, [*convert_bits(bytes(20), 8, 5, pad=True), 1])
    with pytest.raises(AddressFormatError):
        decode_address(text, HRP_MAINNET)


def test_upper_case_address_is_accepted() -> None:
    payload = bytes(range(20))
    text = encode_address(HRP_DEVNET, payload)
    assert decode_address(text.upper(), HRP_DEVNET) == payload


def test_exports() -> None:
    for name in ("AddressError", "encode_address", "decode_address", "HRP_MAINNET"):
        assert name in crypto.__all__


@given(st.binary(min_size=20, max_size=20), st.sampled_from(["time", "ttime", "dtime"]))
def test_round_trip_property(payload: bytes, hrp: str) -> None:
    text = encode_address(hrp, payload)
    assert text == text.lower()
    assert decode_address(text, hrp) == payload

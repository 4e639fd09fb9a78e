"""SHA-256 helpers, domain tags and the signing-message layout."""

from __future__ import annotations

import hashlib

import pytest

import timecoin.crypto as crypto
from timecoin.crypto import (
    CHAIN_ID_MAX,
    DOMAIN_TX,
    SigningKey,
    hash_parts,
    sha256,
    signing_message,
    verify,
)

DOMAINS = {
    "DOMAIN_TX": b"TIMECOIN/tx/v1",
    "DOMAIN_PREVOTE": b"TIMECOIN/prevote/v1",
    "DOMAIN_PRECOMMIT": b"TIMECOIN/precommit/v1",
    "DOMAIN_PROPOSAL": b"TIMECOIN/proposal/v1",
    "DOMAIN_TXVOTE": b"TIMECOIN/txvote/v1",
    "DOMAIN_HEARTBEAT": b"TIMECOIN/heartbeat/v1",
    "DOMAIN_ATTESTATION": b"TIMECOIN/attest/v1",
    "DOMAIN_REPORT": b"TIMECOIN/report/v1",
    "DOMAIN_MN_OWNER": b"TIMECOIN/mn-owner/v1",
    "DOMAIN_HANDSHAKE": b"TIMECOIN/handshake/v1",
    "DOMAIN_ADDRESS": b"TIMECOIN/addr/v1",
}


def test_sha256_known_answers() -> None:
    assert (
        sha256(b"abc").hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert sha256(b"").hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_hash_parts_is_hash_of_concatenation() -> None:
    assert hash_parts(b"a", b"bc") == sha256(b"abc")
    assert hash_parts() == sha256(b"")
    assert hash_parts(b"x") == hashlib.sha256(b"x").digest()


def test_domain_constants() -> None:
    for name, value in DOMAINS.items():
        assert getattr(crypto, name) == value, name
        assert b"\x00" not in value
    assert len(set(DOMAINS.values())) == len(DOMAINS)


def test_signing_message_layout() -> None:
    message = signing_message(DOMAIN_TX, 0x01020304, b"payload")
    assert message == b"TIMECOIN/tx/v1" + b"\x00" + bytes([1, 2, 3, 4]) + b"payload"
    assert signing_message(DOMAIN_TX, 0, b"") == DOMAIN_TX + bytes(5)
    assert signing_message(DOMAIN_TX, CHAIN_ID_MAX, b"").endswith(b"\xff" * 4)


def test_signing_message_separates_domains_and_chains() -> None:
    key = SigningKey.from_seed(bytes(32))
    payload = bytes(range(36))
    signature = key.sign(signing_message(crypto.DOMAIN_PREVOTE, 1, payload))
    assert verify(key.public_key, signing_message(crypto.DOMAIN_PREVOTE, 1, payload), signature)
    assert not verify(
        key.public_key, signing_message(crypto.DOMAIN_PRECOMMIT, 1, payload), signature
    )
    assert not verify(key.public_key, signing_message(crypto.DOMAIN_PREVOTE, 2, payload), signature)
    messages = {signing_message(domain, 1, payload) for domain in DOMAINS.values()}
    assert len(messages) == len(DOMAINS)


@pytest.mark.parametrize("chain_id", [-1, CHAIN_ID_MAX + 1, 2**40])
def test_signing_message_rejects_bad_chain_id(chain_id: int) -> None:
    with pytest.raises(ValueError, match="chain_id"):
        signing_message(DOMAIN_TX, chain_id, b"")


@pytest.mark.parametrize("domain", [b"", b"TIME\x00COIN"])
def test_signing_message_rejects_bad_domain(domain: bytes) -> None:
    with pytest.raises(ValueError, match="domain"):
        signing_message(domain, 1, b"")

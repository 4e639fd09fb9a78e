"""Signing bytes of votes and proposals, and certificate verification."""

from __future__ import annotations

import msgspec
import pytest
from consensus_harness import CHAIN_ID, make_keys, make_voting_set

from timecoin.consensus import (
    build_certificate,
    compute_proposal_signing_message,
    compute_vote_signing_message,
    encode_proposal_payload,
    encode_vote_payload,
    sign_proposal,
    sign_vote,
    verify_certificate,
    verify_proposal_signature,
    verify_vote_signature,
)
from timecoin.crypto import DOMAIN_PRECOMMIT, DOMAIN_PREVOTE, DOMAIN_PROPOSAL, sha256, verify
from timecoin.encoding import encode
from timecoin.types import Certificate, CommitSignature, InvalidVote, VoteType

BLOCK = sha256(b"block")
KEYS = make_keys(4)
VOTING_SET = make_voting_set(KEYS, (1, 1, 1, 1))


def test_vote_payload_is_the_encoded_tuple() -> None:
    payload = encode_vote_payload(VoteType.PREVOTE, 7, 2, BLOCK)
    assert payload == encode((1, 7, 2, BLOCK))
    message = compute_vote_signing_message(CHAIN_ID, VoteType.PRECOMMIT, 7, 2, BLOCK)
    assert message == DOMAIN_PRECOMMIT + b"\x00" + CHAIN_ID.to_bytes(4, "big") + encode(
        (2, 7, 2, BLOCK)
    )
    prevote_message = compute_vote_signing_message(CHAIN_ID, VoteType.PREVOTE, 7, 2, BLOCK)
    assert prevote_message.startswith(DOMAIN_PREVOTE + b"\x00")


def test_proposal_payload_is_the_encoded_tuple() -> None:
    assert encode_proposal_payload(7, 2, -1, BLOCK, 123) == encode((7, 2, -1, BLOCK, 123))
    message = compute_proposal_signing_message(CHAIN_ID, 7, 2, -1, BLOCK, 123)
    assert message.startswith(DOMAIN_PROPOSAL + b"\x00" + CHAIN_ID.to_bytes(4, "big"))


def test_vote_signature_round_trip_and_domain_separation() -> None:
    vote = sign_vote(KEYS[0], CHAIN_ID, VoteType.PREVOTE, 5, 1, BLOCK)
    verify_vote_signature(vote, CHAIN_ID, verify)
    as_precommit = msgspec.structs.replace(vote, vote_type=int(VoteType.PRECOMMIT))
    with pytest.raises(InvalidVote, match="bad-signature"):
        verify_vote_signature(as_precommit, CHAIN_ID, verify)
    with pytest.raises(InvalidVote, match="bad-signature"):
        verify_vote_signature(vote, CHAIN_ID + 1, verify)
    with pytest.raises(InvalidVote, match="bad-signature"):
        verify_vote_signature(msgspec.structs.replace(vote, round=2), CHAIN_ID, verify)


def test_proposal_signature_covers_every_field() -> None:
    proposal = sign_proposal(KEYS[1], CHAIN_ID, 5, 1, 0, BLOCK, 999)
    verify_proposal_signature(proposal, CHAIN_ID, verify)
    for change in ({"pol_round": -1}, {"timestamp_ms": 998}, {"block_hash": bytes(32)}):
        with pytest.raises(InvalidVote, match="bad-signature"):
            verify_proposal_signature(msgspec.structs.replace(proposal, **change), CHAIN_ID, verify)


def _certificate(voters: list[int], height: int = 3, round: int = 1) -> Certificate:
    precommits = [
        (i, sign_vote(KEYS[i], CHAIN_ID, VoteType.PRECOMMIT, height, round, BLOCK)) for i in voters
    ]
    return build_certificate(height, round, BLOCK, precommits, VOTING_SET)


def test_certificate_of_a_quorum_verifies() -> None:
    cert = _certificate([2, 0, 1])
    assert [s.voter_index for s in cert.signatures] == [0, 1, 2]
    verify_certificate(
        cert, VOTING_SET, CHAIN_ID, verify, expected_height=3, expected_block_hash=BLOCK
    )


def test_build_certificate_refuses_less_than_a_quorum() -> None:
    with pytest.raises(ValueError, match="no quorum"):
        _certificate([0, 1])


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda c: msgspec.structs.replace(c, height=4), "wrong-height"),
        (lambda c: msgspec.structs.replace(c, block_hash=sha256(b"other")), "wrong-block"),
        (
            lambda c: msgspec.structs.replace(
                c, signatures=[*c.signatures[:2], CommitSignature(9, c.signatures[2].signature)]
            ),
            "unknown-voter",
        ),
        (
            lambda c: msgspec.structs.replace(c, signatures=[*c.signatures, c.signatures[2]]),
            "duplicate-voter",
        ),
        (
            lambda c: msgspec.structs.replace(c, signatures=list(reversed(c.signatures))),
            "unordered-signatures",
        ),
        (
            lambda c: msgspec.structs.replace(c, signatures=c.signatures[:2]),
            "insufficient-weight",
        ),
        (
            lambda c: msgspec.structs.replace(
                c,
                signatures=[
                    c.signatures[0],
                    c.signatures[1],
                    CommitSignature(2, c.signatures[1].signature),
                ],
            ),
            "bad-signature",
        ),
        (lambda c: msgspec.structs.replace(c, round=0), "bad-signature"),
    ],
)
def test_tampered_certificate_is_rejected(mutate: object, code: str) -> None:
    cert = _certificate([0, 1, 2])
    assert callable(mutate)
    with pytest.raises(InvalidVote) as info:
        verify_certificate(
            mutate(cert), VOTING_SET, CHAIN_ID, verify, expected_height=3, expected_block_hash=BLOCK
        )
    assert info.value.reject_code == code


def test_certificate_flipped_signature_bit_is_rejected() -> None:
    cert = _certificate([0, 1, 2])
    sig = bytearray(cert.signatures[1].signature)
    sig[5] ^= 1
    bad = msgspec.structs.replace(
        cert,
        signatures=[cert.signatures[0], CommitSignature(1, bytes(sig)), cert.signatures[2]],
    )
    with pytest.raises(InvalidVote, match="bad-signature"):
        verify_certificate(bad, VOTING_SET, CHAIN_ID, verify)


def test_certificate_of_prevotes_is_rejected() -> None:
    """Certificates are precommits: prevote signatures do not verify."""
    sigs = [
        CommitSignature(i, sign_vote(KEYS[i], CHAIN_ID, VoteType.PREVOTE, 3, 1, BLOCK).signature)
        for i in range(3)
    ]
    cert = Certificate(height=3, round=1, block_hash=BLOCK, signatures=sigs)
    with pytest.raises(InvalidVote, match="bad-signature"):
        verify_certificate(cert, VOTING_SET, CHAIN_ID, verify)


def test_certificate_for_nil_is_rejected() -> None:
    cert = Certificate(height=3, round=1, block_hash=bytes(32), signatures=[])
    with pytest.raises(InvalidVote, match="nil-block"):
        verify_certificate(cert, VOTING_SET, CHAIN_ID, verify)


def test_certificate_weight_is_by_voting_weight() -> None:
    heavy = make_voting_set(KEYS, (100, 1, 1, 1))
    vote = sign_vote(KEYS[0], CHAIN_ID, VoteType.PRECOMMIT, 3, 1, BLOCK)
    cert = build_certificate(3, 1, BLOCK, [(0, vote)], heavy)
    verify_certificate(cert, heavy, CHAIN_ID, verify)
    light = _certificate([1, 2, 3])
    with pytest.raises(InvalidVote, match="insufficient-weight"):
        verify_certificate(light, heavy, CHAIN_ID, verify)

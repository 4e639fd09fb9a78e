"""The handshake as a sans-I/O object: keys, transcript signatures, rejections."""

from __future__ import annotations

import dataclasses

import pytest
from p2p_helpers import GENESIS, PARAMS, key

from timecoin.crypto import sha256
from timecoin.encoding import encode
from timecoin.p2p.errors import PeerProtocolError
from timecoin.p2p.handshake import (
    MIN_PROTOCOL_VERSION,
    P2P_MAGIC,
    ROLE_INITIATOR,
    Handshake,
    HandshakeAuth,
    HandshakeIdentity,
    Hello,
    compute_session_keys,
    compute_transcript_hash,
    handshake_signing_message,
)

NOW_MS = 1_700_000_000_000


def identity(n: int, **overrides: object) -> HandshakeIdentity:
    base = HandshakeIdentity(
        chain_id=PARAMS.chain_id,
        genesis_hash=GENESIS,
        node_key=key(n),
        listen_port=24300 + n,
        user_agent=f"test/{n}",
        max_clock_skew_ms=60_000,
    )
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


def pair(**responder: object) -> tuple[Handshake, Handshake]:
    return (
        Handshake(identity(1), initiator=True, timestamp_ms=NOW_MS),
        Handshake(identity(2, **responder), initiator=False, timestamp_ms=NOW_MS),
    )


def run(initiator: Handshake, responder: Handshake) -> None:
    auth_i = initiator.on_peer_hello(responder.hello_bytes, NOW_MS)
    auth_r = responder.on_peer_hello(initiator.hello_bytes, NOW_MS)
    responder.on_peer_auth(responder.channel.open(initiator.channel.seal(auth_i)[4:]))
    initiator.on_peer_auth(initiator.channel.open(responder.channel.seal(auth_r)[4:]))


def rejection(exc: pytest.ExceptionInfo[PeerProtocolError]) -> tuple[str, bool]:
    return exc.value.reject_code, exc.value.ban


def test_handshake_derives_matching_directional_keys() -> None:
    initiator, responder = pair()
    run(initiator, responder)
    assert initiator.transcript_hash == responder.transcript_hash
    assert initiator.peer_hello is not None and initiator.peer_hello.node_key == key(2).public_key
    frame = initiator.channel.seal(b"hello responder")
    assert responder.channel.open(frame[4:]) == b"hello responder"
    frame = responder.channel.seal(b"hello initiator")
    assert initiator.channel.open(frame[4:]) == b"hello initiator"
    # A frame sealed for one direction does not open in the other.
    reflected = initiator.channel.seal(b"x")
    with pytest.raises(PeerProtocolError) as exc:
        initiator.channel.open(reflected[4:])
    assert exc.value.ban


def test_transcript_and_keys_are_order_sensitive() -> None:
    a, b = b"hello-a", b"hello-b"
    assert compute_transcript_hash(a, b) != compute_transcript_hash(b, a)
    k1, k2 = compute_session_keys(bytes(32), sha256(b"t"))
    assert k1 != k2 and len(k1) == len(k2) == 32


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"chain_id": PARAMS.chain_id + 1}, "wrong-chain"),
        ({"genesis_hash": sha256(b"other genesis")}, "wrong-genesis"),
    ],
)
def test_wrong_chain_or_genesis_is_rejected_with_ban(
    overrides: dict[str, object], code: str
) -> None:
    initiator, responder = pair(**overrides)
    with pytest.raises(PeerProtocolError) as exc:
        initiator.on_peer_hello(responder.hello_bytes, NOW_MS)
    assert rejection(exc) == (code, True)


def crafted_hello(**fields: object) -> bytes:
    base = Handshake(identity(2), initiator=False, timestamp_ms=NOW_MS).hello
    hello = Hello(**{f: getattr(base, f) for f in Hello.__struct_fields__} | fields)
    return encode(hello)


@pytest.mark.parametrize(
    ("fields", "code", "ban"),
    [
        ({"magic": P2P_MAGIC ^ 1}, "bad-magic", True),
        ({"protocol_version": MIN_PROTOCOL_VERSION - 1}, "wrong-version", True),
        ({"node_key": key(1).public_key}, "self-connection", False),
        ({"timestamp_ms": NOW_MS + 3_600_000}, "clock-skew", False),
        ({"ephemeral_key": bytes(32)}, "bad-key", True),
    ],
)
def test_bad_hello_fields(fields: dict[str, object], code: str, ban: bool) -> None:
    initiator = Handshake(identity(1), initiator=True, timestamp_ms=NOW_MS)
    with pytest.raises(PeerProtocolError) as exc:
        initiator.on_peer_hello(crafted_hello(**fields), NOW_MS)
    assert rejection(exc) == (code, ban)


def test_newer_protocol_version_is_accepted() -> None:
    initiator = Handshake(identity(1), initiator=True, timestamp_ms=NOW_MS)
    initiator.on_peer_hello(crafted_hello(protocol_version=99), NOW_MS)


@pytest.mark.parametrize("body", [b"", b"\x00" * 40, b"\x9a" + b"\x00" * 40])
def test_malformed_hello_is_rejected_with_ban(body: bytes) -> None:
    initiator = Handshake(identity(1), initiator=True, timestamp_ms=NOW_MS)
    with pytest.raises(PeerProtocolError) as exc:
        initiator.on_peer_hello(body, NOW_MS)
    assert rejection(exc) == ("malformed", True)


def test_signature_by_another_key_is_rejected() -> None:
    """A man in the middle cannot sign for the node key named in the hello."""
    initiator, responder = pair()
    initiator.on_peer_hello(responder.hello_bytes, NOW_MS)
    responder.on_peer_hello(initiator.hello_bytes, NOW_MS)
    # The right message, signed by a key other than the one in the initiator's hello.
    message = handshake_signing_message(PARAMS.chain_id, ROLE_INITIATOR, responder.transcript_hash)
    forged = encode(HandshakeAuth(signature=key(3).sign(message)))
    with pytest.raises(PeerProtocolError) as exc:
        responder.on_peer_auth(forged)
    assert rejection(exc) == ("bad-signature", True)
    genuine = encode(HandshakeAuth(signature=key(1).sign(message)))
    responder.on_peer_auth(genuine)


def test_reflected_signature_is_rejected() -> None:
    """A node's own signature sent back to it does not authenticate the peer."""
    initiator, responder = pair()
    auth_i = initiator.on_peer_hello(responder.hello_bytes, NOW_MS)
    with pytest.raises(PeerProtocolError) as exc:
        initiator.on_peer_auth(auth_i)
    assert rejection(exc) == ("bad-signature", True)


def test_tampered_hello_breaks_the_transcript() -> None:
    """Both sides sign what they saw: a changed hello fails the signature check."""
    initiator, responder = pair()
    tampered = crafted_hello(listen_port=1)  # responder's hello with one field changed
    auth_i = initiator.on_peer_hello(tampered, NOW_MS)
    auth_r = responder.on_peer_hello(initiator.hello_bytes, NOW_MS)
    assert initiator.transcript_hash != responder.transcript_hash
    with pytest.raises(PeerProtocolError):
        responder.channel.open(initiator.channel.seal(auth_i)[4:])
    assert auth_r

"""The handshake: hellos, transcript signatures, session keys (docs/spec/p2p.md, section 3).

1. Each side sends its `Hello` as a plain frame as soon as the TCP
   connection is up.
2. Each side checks the peer's hello (magic, protocol version, chain id,
   genesis hash, not its own node key, clock) and computes the X25519 shared
   secret of the two ephemeral keys.
3. ``transcript = SHA-256(DOMAIN_HANDSHAKE || 0x00 || u32(len(hello_i)) ||
   hello_i || u32(len(hello_r)) || hello_r)`` over the exact bytes of the
   initiator's and the responder's hello; the per-direction keys are
   ``HKDF-SHA256(ikm=shared, salt=transcript, info="initiator->responder")``
   and ``info="responder->initiator"``.
4. Each side sends `HandshakeAuth`, its node key's signature of
   ``signing_message(DOMAIN_HANDSHAKE, chain_id, role || transcript)``, as
   the first sealed frame (sequence 0) of the channel, and checks the
   peer's. The role byte (1 initiator, 2 responder) stops a signature from
   being reflected back to its signer.

`Handshake` is sans-I/O: the connection feeds it frames and sends what it
returns. Every failure is a `PeerProtocolError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Annotated, Final

import msgspec
from msgspec import Meta
from nacl.bindings import crypto_scalarmult, crypto_scalarmult_base
from nacl.exceptions import CryptoError

from timecoin.crypto import (
    DOMAIN_HANDSHAKE,
    DOMAIN_SEPARATOR,
    SigningKey,
    hkdf_sha256,
    sha256,
    signing_message,
    verify,
)
from timecoin.encoding import DecodeError, decode, encode, u32be
from timecoin.p2p.channel import KEY_BYTES, SecureChannel
from timecoin.p2p.errors import (
    REJECT_BAD_KEY,
    REJECT_BAD_MAGIC,
    REJECT_BAD_SIGNATURE,
    REJECT_CLOCK_SKEW,
    REJECT_MALFORMED,
    REJECT_SELF_CONNECTION,
    REJECT_WRONG_CHAIN,
    REJECT_WRONG_GENESIS,
    REJECT_WRONG_VERSION,
    protocol_violation,
)
from timecoin.types.primitives import U16, U32, Hash32, PublicKey, Signature, TimestampMs

__all__ = [
    "AUTH_MAX_BYTES",
    "HELLO_MAX_BYTES",
    "INFO_INITIATOR_TO_RESPONDER",
    "INFO_RESPONDER_TO_INITIATOR",
    "MAX_USER_AGENT_CHARS",
    "MIN_PROTOCOL_VERSION",
    "NONCE_BYTES",
    "P2P_MAGIC",
    "PROTOCOL_VERSION",
    "ROLE_INITIATOR",
    "ROLE_RESPONDER",
    "Handshake",
    "HandshakeAuth",
    "HandshakeIdentity",
    "Hello",
    "check_hello",
    "compute_session_keys",
    "compute_transcript_hash",
    "handshake_signing_message",
]

P2P_MAGIC: Final = 0x544D4350
"""First field of every hello: "TMCP"."""
PROTOCOL_VERSION: Final = 1
"""The wire protocol version this code speaks."""
MIN_PROTOCOL_VERSION: Final = 1
"""The oldest version accepted; a session runs at min(ours, theirs)."""
NONCE_BYTES: Final = 32
MAX_USER_AGENT_CHARS: Final = 64
HELLO_MAX_BYTES: Final = 512
"""Limit of the hello frame's body."""
AUTH_MAX_BYTES: Final = 256
"""Limit of the sealed `HandshakeAuth` frame's body."""
INFO_INITIATOR_TO_RESPONDER: Final = b"initiator->responder"
INFO_RESPONDER_TO_INITIATOR: Final = b"responder->initiator"
ROLE_INITIATOR: Final = b"\x01"
ROLE_RESPONDER: Final = b"\x02"

X25519Key = Annotated[bytes, Meta(min_length=32, max_length=32)]
Nonce = Annotated[bytes, Meta(min_length=NONCE_BYTES, max_length=NONCE_BYTES)]


class Hello(msgspec.Struct, array_like=True, frozen=True):
    """The first frame each side sends."""

    magic: U32
    protocol_version: U16
    chain_id: U32
    genesis_hash: Hash32
    node_key: PublicKey
    ephemeral_key: X25519Key
    nonce: Nonce
    listen_port: U16
    """The port the sender accepts connections on; 0 when it does not listen."""
    timestamp_ms: TimestampMs
    user_agent: Annotated[str, Meta(max_length=MAX_USER_AGENT_CHARS)]


class HandshakeAuth(msgspec.Struct, array_like=True, frozen=True):
    """The sender's node-key signature of the transcript."""

    signature: Signature


@dataclass(frozen=True, slots=True)
class HandshakeIdentity:
    """What a node states about itself and requires of its peers."""

    chain_id: int
    genesis_hash: bytes
    node_key: SigningKey
    listen_port: int
    user_agent: str
    max_clock_skew_ms: int


def compute_transcript_hash(initiator_hello: bytes, responder_hello: bytes) -> bytes:
    """SHA-256 of both hellos' exact bytes, initiator first, length-prefixed."""
    return sha256(
        b"".join(
            (
                DOMAIN_HANDSHAKE,
                DOMAIN_SEPARATOR,
                u32be(len(initiator_hello)),
                initiator_hello,
                u32be(len(responder_hello)),
                responder_hello,
            )
        )
    )


def compute_session_keys(shared_secret: bytes, transcript_hash: bytes) -> tuple[bytes, bytes]:
    """(initiator-to-responder key, responder-to-initiator key)."""
    return (
        hkdf_sha256(shared_secret, transcript_hash, INFO_INITIATOR_TO_RESPONDER, KEY_BYTES),
        hkdf_sha256(shared_secret, transcript_hash, INFO_RESPONDER_TO_INITIATOR, KEY_BYTES),
    )


def handshake_signing_message(chain_id: int, role: bytes, transcript_hash: bytes) -> bytes:
    """The bytes a node key signs to authenticate one side of a handshake."""
    return signing_message(DOMAIN_HANDSHAKE, chain_id, role + transcript_hash)


class Handshake:
    """One side of one handshake.

    Use: send `hello_bytes`; feed the peer's hello frame body to
    `on_peer_hello`, which returns the payload of the `HandshakeAuth` to send
    through `channel`; feed the payload of the peer's first sealed frame
    (opened with `channel`) to `on_peer_auth`. Then `peer_hello` is
    authenticated and `channel` carries messages.
    """

    __slots__ = (
        "_channel",
        "_ephemeral_secret",
        "_identity",
        "_transcript",
        "hello",
        "hello_bytes",
        "initiator",
        "peer_hello",
    )

    def __init__(
        self,
        identity: HandshakeIdentity,
        *,
        initiator: bool,
        timestamp_ms: int,
        ephemeral_secret: bytes | None = None,
        nonce: bytes | None = None,
    ) -> None:
        """Prepare our hello; the secret and nonce default to fresh OS randomness."""
        self._identity = identity
        self.initiator = initiator
        self._ephemeral_secret = ephemeral_secret or os.urandom(32)
        self.hello = Hello(
            magic=P2P_MAGIC,
            protocol_version=PROTOCOL_VERSION,
            chain_id=identity.chain_id,
            genesis_hash=identity.genesis_hash,
            node_key=identity.node_key.public_key,
            ephemeral_key=crypto_scalarmult_base(self._ephemeral_secret),
            nonce=nonce or os.urandom(NONCE_BYTES),
            listen_port=identity.listen_port,
            timestamp_ms=timestamp_ms,
            user_agent=identity.user_agent,
        )
        self.hello_bytes: bytes = encode(self.hello)
        self.peer_hello: Hello | None = None
        self._channel: SecureChannel | None = None
        self._transcript = b""

    @property
    def channel(self) -> SecureChannel:
        """The session's channel; exists once the peer's hello was accepted."""
        if self._channel is None:
            raise RuntimeError("no channel before the peer's hello")
        return self._channel

    @property
    def transcript_hash(self) -> bytes:
        """The transcript hash; empty before the peer's hello."""
        return self._transcript

    def on_peer_hello(self, body: bytes, now_ms: int) -> bytes:
        """Check the peer's hello, derive the keys; return our auth payload.

        Raises `PeerProtocolError` for a malformed hello, a wrong magic,
        version, chain id or genesis hash, a low-order ephemeral key, our own
        node key (self-connection) or a clock off by more than the limit.
        """
        if self.peer_hello is not None:
            raise protocol_violation(REJECT_MALFORMED, "second hello")
        try:
            hello = decode(body, Hello, HELLO_MAX_BYTES)
        except DecodeError as exc:
            raise protocol_violation(REJECT_MALFORMED, f"hello: {exc.message}") from None
        check_hello(hello, self._identity, now_ms)
        try:
            shared = crypto_scalarmult(self._ephemeral_secret, hello.ephemeral_key)
        except CryptoError:  # libsodium refuses an all-zero (low-order) result
            raise protocol_violation(REJECT_BAD_KEY, "low-order ephemeral key") from None
        if self.initiator:
            transcript = compute_transcript_hash(self.hello_bytes, body)
        else:
            transcript = compute_transcript_hash(body, self.hello_bytes)
        key_i2r, key_r2i = compute_session_keys(shared, transcript)
        if self.initiator:
            self._channel = SecureChannel(send_key=key_i2r, recv_key=key_r2i)
        else:
            self._channel = SecureChannel(send_key=key_r2i, recv_key=key_i2r)
        self.peer_hello = hello
        self._transcript = transcript
        role = ROLE_INITIATOR if self.initiator else ROLE_RESPONDER
        signature = self._identity.node_key.sign(
            handshake_signing_message(self._identity.chain_id, role, transcript)
        )
        return encode(HandshakeAuth(signature=signature))

    def on_peer_auth(self, payload: bytes) -> None:
        """Check the peer's transcript signature (the opened payload of its first frame).

        Raises `PeerProtocolError` (malformed, bad-signature).
        """
        hello = self.peer_hello
        if hello is None:
            raise protocol_violation(REJECT_MALFORMED, "auth before hello")
        try:
            auth = decode(payload, HandshakeAuth, AUTH_MAX_BYTES)
        except DecodeError as exc:
            raise protocol_violation(REJECT_MALFORMED, f"auth: {exc.message}") from None
        role = ROLE_RESPONDER if self.initiator else ROLE_INITIATOR
        message = handshake_signing_message(self._identity.chain_id, role, self._transcript)
        if not verify(hello.node_key, message, auth.signature):
            raise protocol_violation(REJECT_BAD_SIGNATURE, "transcript signature does not verify")


def check_hello(hello: Hello, identity: HandshakeIdentity, now_ms: int) -> None:
    """Raise `PeerProtocolError` unless a peer with `hello` may talk to us."""
    if hello.magic != P2P_MAGIC:
        raise protocol_violation(
            REJECT_BAD_MAGIC, f"magic {hello.magic:#x}, expected {P2P_MAGIC:#x}"
        )
    if hello.protocol_version < MIN_PROTOCOL_VERSION:
        raise protocol_violation(
            REJECT_WRONG_VERSION,
            f"protocol version {hello.protocol_version}, minimum {MIN_PROTOCOL_VERSION}",
        )
    if hello.chain_id != identity.chain_id:
        raise protocol_violation(
            REJECT_WRONG_CHAIN, f"chain id {hello.chain_id:#x}, expected {identity.chain_id:#x}"
        )
    if hello.genesis_hash != identity.genesis_hash:
        raise protocol_violation(
            REJECT_WRONG_GENESIS,
            f"genesis {hello.genesis_hash.hex()}, expected {identity.genesis_hash.hex()}",
        )
    if hello.node_key == identity.node_key.public_key:
        raise protocol_violation(REJECT_SELF_CONNECTION, "the peer has our node key")
    skew_ms = hello.timestamp_ms - now_ms
    if abs(skew_ms) > identity.max_clock_skew_ms:
        raise protocol_violation(
            REJECT_CLOCK_SKEW,
            f"peer clock off by {skew_ms} ms, limit {identity.max_clock_skew_ms} ms",
        )

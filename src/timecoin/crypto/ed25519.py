"""Ed25519 (RFC 8032) signing and the one consensus signature verifier.

Every signature check in TimeCoin goes through :func:`verify`, which is
libsodium's ``crypto_sign_verify_detached`` rule. libsodium is stricter than
RFC 8032 in a few documented ways (see ``docs/spec/crypto.md``): it rejects
non-canonical ``S``, small-order ``R`` and ``A``, non-canonical ``A``, and
uses the cofactorless equation. Other verifiers (OpenSSL, ZIP-215) decide
some of these cases differently, so no other verifier may be used for
consensus.
"""

from __future__ import annotations

import hmac
import os
from typing import Final

from nacl.bindings import crypto_sign, crypto_sign_open, crypto_sign_seed_keypair
from nacl.exceptions import CryptoError

__all__ = [
    "PUBLIC_KEY_SIZE",
    "SEED_SIZE",
    "SIGNATURE_SIZE",
    "SigningKey",
    "verify",
]

PUBLIC_KEY_SIZE: Final = 32
SIGNATURE_SIZE: Final = 64
SEED_SIZE: Final = 32


class SigningKey:
    """An Ed25519 private key, built from its 32-byte seed.

    Instances are immutable. ``repr`` shows the public key only, never the
    seed. Two keys are equal when their seeds are equal (compared in
    constant time).
    """

    __slots__ = ("_public_key", "_secret_key", "_seed")

    _seed: bytes
    _secret_key: bytes
    _public_key: bytes

    def __init__(self, seed: bytes) -> None:
        """Derive the key pair from ``seed``; raise ``ValueError`` unless it is 32 bytes."""
        if not isinstance(seed, bytes | bytearray | memoryview):
            raise TypeError(f"seed must be bytes, got {type(seed).__name__}")
        seed = bytes(seed)
        if len(seed) != SEED_SIZE:
            raise ValueError(f"seed must be {SEED_SIZE} bytes, got {len(seed)}")
        public_key, secret_key = crypto_sign_seed_keypair(seed)
        object.__setattr__(self, "_seed", seed)
        object.__setattr__(self, "_secret_key", secret_key)
        object.__setattr__(self, "_public_key", public_key)

    @classmethod
    def generate(cls) -> SigningKey:
        """Return a new key from 32 bytes of the operating system's CSPRNG."""
        return cls(os.urandom(SEED_SIZE))

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        """Return the key whose RFC 8032 private key (seed) is ``seed`` (32 bytes)."""
        return cls(seed)

    @property
    def seed(self) -> bytes:
        """The 32-byte seed (the RFC 8032 private key): keep it secret."""
        return self._seed

    @property
    def public_key(self) -> bytes:
        """The 32-byte encoded public key ``A``."""
        return self._public_key

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte detached signature ``R || S`` of ``message``."""
        return crypto_sign(message, self._secret_key)[:SIGNATURE_SIZE]

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("SigningKey is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("SigningKey is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SigningKey):
            return NotImplemented
        return hmac.compare_digest(self._seed, other._seed)

    def __hash__(self) -> int:
        return hash(self._public_key)

    def __repr__(self) -> str:
        return f"SigningKey(public_key={self._public_key.hex()})"

    def __reduce__(self) -> tuple[type[SigningKey], tuple[bytes]]:
        return (SigningKey, (self._seed,))


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Return whether ``signature`` is a valid Ed25519 signature of ``message`` by ``public_key``.

    This is the one consensus verifier: libsodium's
    ``crypto_sign_verify_detached`` (reached through ``crypto_sign_open`` on
    ``signature || message``, which runs exactly that check). Arguments are
    bytes (other bytes-like values are copied first). It never raises: wrong
    lengths, wrong types and every rejection return ``False``.
    """
    try:
        if len(public_key) != PUBLIC_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
            return False
        if type(public_key) is not bytes:
            public_key = bytes(public_key)
        if type(signature) is not bytes:
            signature = bytes(signature)
        crypto_sign_open(signature + message, public_key)
    except (CryptoError, TypeError, ValueError):
        return False
    return True

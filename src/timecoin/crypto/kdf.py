"""HMAC-SHA256, HKDF-SHA256 (RFC 5869) and constant-time comparison."""

from __future__ import annotations

import hmac

__all__ = [
    "HKDF_MAX_LENGTH",
    "constant_time_equal",
    "hkdf_expand",
    "hkdf_extract",
    "hkdf_sha256",
    "hmac_sha256",
]

_HASH_LEN = 32
HKDF_MAX_LENGTH = 255 * _HASH_LEN
"""Longest output HKDF-SHA256 can produce (RFC 5869, section 2.3)."""


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    """Return the 32-byte HMAC-SHA256 tag of ``data`` under ``key``."""
    return hmac.digest(key, data, "sha256")


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    """HKDF-Extract (RFC 5869, section 2.2): return the 32-byte pseudorandom key.

    An empty ``salt`` is equivalent to 32 zero bytes, as the RFC specifies.
    """
    return hmac.digest(salt, ikm, "sha256")


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    """HKDF-Expand (RFC 5869, section 2.3): return ``length`` bytes of output keying material.

    Raises ``ValueError`` if ``prk`` is shorter than 32 bytes or ``length`` is
    outside ``[0, HKDF_MAX_LENGTH]``.
    """
    if len(prk) < _HASH_LEN:
        raise ValueError(f"prk must be at least {_HASH_LEN} bytes, got {len(prk)}")
    if not 0 <= length <= HKDF_MAX_LENGTH:
        raise ValueError(f"length must be in [0, {HKDF_MAX_LENGTH}], got {length}")
    blocks: list[bytes] = []
    previous = b""
    for counter in range(1, -(-length // _HASH_LEN) + 1):
        previous = hmac.digest(prk, previous + info + bytes((counter,)), "sha256")
        blocks.append(previous)
    return b"".join(blocks)[:length]


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """HKDF with SHA-256 (RFC 5869): extract from ``ikm`` and ``salt``, expand with ``info``.

    Returns ``length`` bytes; raises ``ValueError`` if ``length`` is outside
    ``[0, HKDF_MAX_LENGTH]``.
    """
    return hkdf_expand(hkdf_extract(salt, ikm), info, length)


def constant_time_equal(a: bytes, b: bytes) -> bool:
    """Compare two byte strings in time independent of where they differ."""
    return hmac.compare_digest(a, b)

"""SHA-256 helpers: the one hash function of TimeCoin consensus data."""

from __future__ import annotations

import hashlib

__all__ = ["HASH_SIZE", "ZERO_HASH", "hash_parts", "sha256"]

HASH_SIZE = 32
"""Size in bytes of a SHA-256 digest."""

ZERO_HASH = bytes(HASH_SIZE)
"""32 zero bytes: the null hash (e.g. the merkle root of an empty list)."""

_sha256 = hashlib.sha256


def sha256(data: bytes) -> bytes:
    """Return the 32-byte SHA-256 digest of ``data``."""
    return _sha256(data).digest()


def hash_parts(*parts: bytes) -> bytes:
    """Return SHA-256 of the concatenation of ``parts``.

    This is a plain concatenation with no length prefixes, so it is
    unambiguous only when every part but the last has a fixed length (for
    example a domain tag of fixed length followed by 32-byte hashes). Use
    the ``encoding`` package to build anything with variable-length fields.
    """
    return _sha256(b"".join(parts)).digest()

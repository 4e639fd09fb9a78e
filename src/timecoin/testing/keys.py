"""Deterministic keys."""

from __future__ import annotations

from timecoin.crypto import SigningKey, sha256

__all__ = ["key_from_label"]


def key_from_label(label: str) -> SigningKey:
    """The Ed25519 key whose seed is SHA-256(`label`): the same label, the same key."""
    return SigningKey.from_seed(sha256(label.encode()))

"""What the consensus machine needs from outside: the application, a signer
and a signature verifier. All three are injected, so the machine itself
never reads ledger state, keys on disk or a crypto backend directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Verifier = Callable[[bytes, bytes, bytes], bool]
"""``verifier(public_key, message, signature) -> bool``: the consensus
signature rule (`timecoin.crypto.verify`, or a caching wrapper around it)."""


class Signer(Protocol):
    """An operator key able to sign consensus messages (`timecoin.crypto.SigningKey`)."""

    @property
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 public key."""
        ...

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of `message`."""
        ...


class BlockApp(Protocol):
    """The application whose blocks the machine agrees on.

    Block values are opaque to the machine: it only hashes, validates,
    stores and hands them back. Every method must be deterministic and free
    of side effects visible to consensus.
    """

    def build_proposal(self, height: int, round: int, timestamp_ms: int) -> object | None:
        """A new block for `height` with header timestamp `timestamp_ms`.

        Called only on the round's proposer, when it has no valid value to
        propose again. Returns None when no block can be built now (for
        example while syncing); the proposer then waits like everyone else.
        """
        ...

    def validate_proposal(self, height: int, block_value: object, timestamp_ms: int) -> bool:
        """Whether `block_value` is a valid block at `height` whose header
        timestamp is `timestamp_ms` (the proposal's timestamp).

        Must be pure and deterministic: every correct node gives the same
        answer for the same block (this is `valid(v)` of Algorithm 1).
        """
        ...

    def block_hash(self, block_value: object) -> bytes:
        """The 32-byte hash identifying `block_value` (`id(v)` of Algorithm 1)."""
        ...

    def encode_block(self, block_value: object) -> bytes:
        """The canonical bytes of `block_value`, stored in the write-ahead log."""
        ...

    def decode_block(self, data: bytes) -> object:
        """The block value encoded in `data` (by `encode_block`).

        Raises `timecoin.encoding.DecodeError` on bytes that are not such an
        encoding.
        """
        ...

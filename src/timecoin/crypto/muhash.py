"""MuHash3072: a secure incremental multiset hash (the UTXO set commitment).

The construction follows Bitcoin Core's ``MuHash3072`` with one change:
elements are expanded to 384 bytes with SHAKE-256 instead of ChaCha20.

- ``p = 2**3072 - 1103717`` (the largest safe prime below ``2**3072``);
- an element ``data`` maps to
  ``x = int.from_bytes(shake_256(sha256(data)).digest(384), "little") mod p``,
  and to 1 in the (negligible) case ``x == 0``;
- a multiset maps to the product of its elements modulo ``p``. The state is
  kept as a fraction ``numerator / denominator``: inserting multiplies the
  numerator, removing multiplies the denominator, so both are cheap and a
  single modular inverse (``normalize``) is needed when the value is read;
- ``digest()`` is ``sha256`` of the normalized value as 384 bytes,
  little-endian.

``docs/spec/crypto.md`` states the construction in full.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import gmpy2
from gmpy2 import mpz

__all__ = ["MUHASH_BYTES", "MUHASH_MODULUS", "MuHash3072", "muhash_element"]

MUHASH_BYTES = 384
"""Size in bytes of an element expansion and of a serialized state."""

_BITS = 3072
_C = 1103717
MUHASH_MODULUS = (1 << _BITS) - _C
"""The prime modulus ``p = 2**3072 - 1103717``."""

_P = mpz(MUHASH_MODULUS)
_PC = mpz(_C)
_MASK = mpz((1 << _BITS) - 1)
_ONE = mpz(1)
_sha256 = hashlib.sha256
_shake_256 = hashlib.shake_256
_from_bytes = mpz.from_bytes


def _element(data: bytes) -> mpz:
    value = _from_bytes(_shake_256(_sha256(data).digest()).digest(MUHASH_BYTES), "little")
    if value >= _P:
        value -= _P
    return value if value else _ONE


def muhash_element(data: bytes) -> int:
    """Return the residue modulo ``p`` that the element ``data`` maps to (never 0)."""
    return int(_element(data))


def _product(items: Iterable[bytes]) -> mpz:
    """Product of the elements' residues modulo ``p``.

    Uses lazy reduction: since ``2**3072 = c (mod p)``, folding the high bits
    down twice keeps the accumulator below ``2**3072 + 2**43`` (both operands
    below ``2**3073`` on entry), which is cheaper than a full division per
    element. One exact reduction happens at the end.
    """
    shake = _shake_256
    sha = _sha256
    from_bytes = _from_bytes
    mask = _MASK
    c = _PC
    acc = _ONE
    for data in items:
        value = from_bytes(shake(sha(data).digest()).digest(MUHASH_BYTES), "little")
        if not value or value == _P:
            value = _ONE
        acc *= value
        acc = (acc & mask) + (acc >> _BITS) * c
        acc = (acc & mask) + (acc >> _BITS) * c
    return gmpy2.f_mod(acc, _P)


class MuHash3072:
    """A multiset of byte strings, hashed incrementally and order-independently.

    Adding elements in any order, or in any grouping via :meth:`combine`,
    gives the same :meth:`digest`. Equality compares digests. Instances are
    mutable (and so unhashable); use :meth:`copy` to fork a state.
    """

    __slots__ = ("_denominator", "_numerator")

    def __init__(self) -> None:
        """Create the hash of the empty multiset."""
        self._numerator: mpz = _ONE
        self._denominator: mpz = _ONE

    def insert(self, data: bytes) -> None:
        """Add one occurrence of ``data`` to the multiset."""
        self._numerator = self._numerator * _element(data) % _P

    def remove(self, data: bytes) -> None:
        """Remove one occurrence of ``data`` (which the caller knows is present)."""
        self._denominator = self._denominator * _element(data) % _P

    def insert_many(self, items: Iterable[bytes]) -> None:
        """Add every element of ``items``: their product is formed first, then one mulmod."""
        self._numerator = self._numerator * _product(items) % _P

    def remove_many(self, items: Iterable[bytes]) -> None:
        """Remove every element of ``items``: their product is formed first, then one mulmod."""
        self._denominator = self._denominator * _product(items) % _P

    def combine(self, other: MuHash3072) -> None:
        """Add the multiset represented by ``other`` (multiset sum) into this one."""
        self._numerator = self._numerator * other._numerator % _P
        self._denominator = self._denominator * other._denominator % _P

    def normalize(self) -> None:
        """Fold the denominator in with one modular inverse, leaving it equal to 1."""
        if self._denominator != _ONE:
            inverse = gmpy2.invert(self._denominator, _P)
            self._numerator = self._numerator * inverse % _P
            self._denominator = _ONE

    def to_bytes(self) -> bytes:
        """Normalize, then return the state as 384 bytes, little-endian."""
        self.normalize()
        return bytes(self._numerator.to_bytes(MUHASH_BYTES, "little"))

    @classmethod
    def from_bytes(cls, data: bytes) -> MuHash3072:
        """Rebuild a state serialized by :meth:`to_bytes`.

        Raises ``ValueError`` unless ``data`` is 384 bytes encoding a value in
        ``[1, p)`` (0 is not the value of any multiset).
        """
        if len(data) != MUHASH_BYTES:
            raise ValueError(f"MuHash3072 state must be {MUHASH_BYTES} bytes, got {len(data)}")
        value = _from_bytes(bytes(data), "little")
        if not 0 < value < _P:
            raise ValueError("MuHash3072 state must encode a value in [1, p)")
        state = cls()
        state._numerator = value
        return state

    def digest(self) -> bytes:
        """Return the 32-byte hash of the multiset (``sha256`` of the normalized state).

        The state itself is left as it is.
        """
        return _sha256(self.copy().to_bytes()).digest()

    def copy(self) -> MuHash3072:
        """Return an independent copy of this state."""
        twin = MuHash3072()
        twin._numerator = self._numerator
        twin._denominator = self._denominator
        return twin

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MuHash3072):
            return NotImplemented
        return self.digest() == other.digest()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"MuHash3072(digest={self.digest().hex()})"

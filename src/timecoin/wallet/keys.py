"""Wallet keys: one random master seed, and Ed25519 keys derived from it.

Key `i` has the Ed25519 seed

    seed_i = SHA-256(master_seed || b"TIMECOIN/wallet/v1" || u32be(i))

so the 32-byte master seed alone recovers every key, and the wallet file
stores only that seed and how many keys are in use. The derivation is
one-way and hardened: no public key lets anyone compute another. It is not
BIP32; there are no extended public keys. Addresses are
`crypto.address_from_public_key` of each key's public key.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Final

from timecoin.crypto import SigningKey, address_from_public_key, sha256
from timecoin.encoding import u32be

MASTER_SEED_BYTES: Final = 32
DERIVATION_TAG: Final = b"TIMECOIN/wallet/v1"
FINGERPRINT_TAG: Final = b"TIMECOIN/wallet/fingerprint/v1"
MAX_KEYS: Final = 10_000
"""Most keys one wallet derives; every key is derived when the wallet opens."""


def generate_master_seed() -> bytes:
    """A fresh master seed from the operating system's CSPRNG."""
    return secrets.token_bytes(MASTER_SEED_BYTES)


def compute_key_seed(master_seed: bytes, index: int) -> bytes:
    """The 32-byte Ed25519 seed of key `index` (see the module docstring).

    Raises ValueError for a master seed that is not 32 bytes or an index
    outside 0 .. 2**32 - 1.
    """
    if len(master_seed) != MASTER_SEED_BYTES:
        raise ValueError(f"master seed: expected {MASTER_SEED_BYTES} bytes, got {len(master_seed)}")
    if not 0 <= index <= 0xFFFF_FFFF:
        raise ValueError(f"key index {index} outside 0 .. 2**32 - 1")
    return sha256(master_seed + DERIVATION_TAG + u32be(index))


@dataclass(frozen=True, slots=True)
class WalletKey:
    """A derived key: its index, signing key, public key and 20-byte address."""

    index: int
    signing_key: SigningKey
    public_key: bytes
    address: bytes


def derive_key(master_seed: bytes, index: int) -> WalletKey:
    """Key `index` of the wallet with `master_seed`."""
    signing_key = SigningKey.from_seed(compute_key_seed(master_seed, index))
    public_key = bytes(signing_key.public_key)
    return WalletKey(index, signing_key, public_key, address_from_public_key(public_key))


def compute_fingerprint(master_seed: bytes) -> str:
    """A short public identifier of a wallet (16 hex digits).

    Hash of key 0's public key; it names the wallet in its journal so that a
    journal is never applied to another wallet's keys. It reveals nothing
    beyond what key 0's address already does.
    """
    key0 = derive_key(master_seed, 0)
    return sha256(FINGERPRINT_TAG + key0.public_key)[:8].hex()


class KeyRing:
    """Keys 0 .. count-1 of one master seed, looked up by address.

    Not thread-safe on its own; `Wallet` guards it with its lock.
    """

    def __init__(self, master_seed: bytes, count: int) -> None:
        """Derive the first `count` keys (1 <= count <= MAX_KEYS)."""
        if not 1 <= count <= MAX_KEYS:
            raise ValueError(f"key count {count} outside 1 .. {MAX_KEYS}")
        self._master_seed = master_seed
        self._keys: list[WalletKey] = []
        self._by_address: dict[bytes, WalletKey] = {}
        for index in range(count):
            self._add(derive_key(master_seed, index))

    def _add(self, key: WalletKey) -> None:
        self._keys.append(key)
        self._by_address[key.address] = key

    @property
    def count(self) -> int:
        """How many keys are derived."""
        return len(self._keys)

    def key(self, index: int) -> WalletKey:
        """Key `index`; raises IndexError if it is not derived."""
        return self._keys[index]

    def peek_next(self) -> WalletKey:
        """The key that `derive_next` would add, without adding it."""
        if self.count >= MAX_KEYS:
            raise ValueError(f"a wallet holds at most {MAX_KEYS} keys")
        return derive_key(self._master_seed, self.count)

    def derive_next(self) -> WalletKey:
        """Derive and add the next key."""
        key = self.peek_next()
        self._add(key)
        return key

    def key_for_address(self, address: bytes) -> WalletKey | None:
        """The key whose address is `address`, or None."""
        return self._by_address.get(address)

    def addresses(self) -> list[bytes]:
        """Every derived address, in index order."""
        return [key.address for key in self._keys]

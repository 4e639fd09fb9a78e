"""Signing messages of transactions and a cache of verified signatures.

Signature checks are about 90% of the cost of validating a transaction, so
the rules never insist on verifying inline: `validate_transaction` can hand
its (public key, message, signature) triples to a sink that the caller
verifies in one batch (`timecoin.crypto.BatchVerifier`, two threads), and a
`SignatureCache` lets a node skip triples it has verified before (a
transaction checked on mempool admission is not checked again in its block).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Final

import msgspec

from timecoin.crypto import (
    DOMAIN_MN_OWNER,
    DOMAIN_TX,
    SignatureItem,
    SigningKey,
    sha256,
    signing_message,
    verify,
)
from timecoin.encoding import u32be
from timecoin.types import Transaction, compute_txid

__all__ = [
    "DEFAULT_SIGNATURE_CACHE_ENTRIES",
    "SignatureCache",
    "SignatureItem",
    "compute_input_signing_message",
    "compute_owner_signing_message",
    "sign_transaction",
]

DEFAULT_SIGNATURE_CACHE_ENTRIES: Final = 100_000


def compute_input_signing_message(chain_id: int, txid: bytes, input_index: int) -> bytes:
    """The message input `input_index` of transaction `txid` signs.

    `signing_message(DOMAIN_TX, chain_id, txid || u32be(input_index))`; the
    index binds each signature to one input, the chain id to one network.
    """
    return signing_message(DOMAIN_TX, chain_id, txid + u32be(input_index))


def compute_owner_signing_message(chain_id: int, txid: bytes) -> bytes:
    """The message a masternode owner signs to authorise payload transaction `txid`."""
    return signing_message(DOMAIN_MN_OWNER, chain_id, txid)


def sign_transaction(
    tx: Transaction,
    keys: Sequence[SigningKey],
    chain_id: int,
    *,
    owner: SigningKey | None = None,
) -> Transaction:
    """`tx` signed: input i by `keys[i]` and, when `owner` is given, the payload
    by the masternode owner.

    The witness (`signatures`, `owner_signature`) is replaced, never read: the
    txid does not commit to it (ADR 0002), so any `tx`, signed or not, gives
    the same result. Raises ValueError when `keys` are not the inputs' keys
    (a different count, or a key other than the input's `public_key`): a
    signature that cannot verify is a bug of the caller, not a transaction.
    """
    if len(keys) != len(tx.inputs):
        raise ValueError(f"{len(tx.inputs)} inputs, {len(keys)} keys")
    for index, (tx_input, key) in enumerate(zip(tx.inputs, keys, strict=True)):
        if key.public_key != tx_input.public_key:
            raise ValueError(f"input {index}: the key is not the input's public key")
    txid = compute_txid(tx)
    signatures = [
        key.sign(compute_input_signing_message(chain_id, txid, index))
        for index, key in enumerate(keys)
    ]
    owner_signature = (
        None if owner is None else owner.sign(compute_owner_signing_message(chain_id, txid))
    )
    return msgspec.structs.replace(tx, signatures=signatures, owner_signature=owner_signature)


class SignatureCache:
    """A bounded LRU set of signatures known to be valid.

    Entries are SHA-256 digests of the length-prefixed triple, so a cache hit
    proves the exact (public key, message, signature) verified before. Only
    valid signatures are added; an invalid one is re-checked each time (it is
    the sender's cost, and the peer is penalised). Not thread-safe: use it
    from one thread (the event loop) and add batch results after the batch.
    """

    __slots__ = ("_entries", "max_entries")

    def __init__(self, max_entries: int = DEFAULT_SIGNATURE_CACHE_ENTRIES) -> None:
        """A cache holding at most `max_entries` (> 0); raises ValueError otherwise."""
        if max_entries <= 0:
            raise ValueError(f"max_entries must be positive, got {max_entries}")
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, None] = OrderedDict()

    @staticmethod
    def compute_key(public_key: bytes, message: bytes, signature: bytes) -> bytes:
        """The cache key of a triple (unambiguous: lengths are prefixed)."""
        return sha256(
            u32be(len(public_key)) + public_key + u32be(len(signature)) + signature + message
        )

    def contains(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        """True when the triple was added before and is still cached."""
        key = self.compute_key(public_key, message, signature)
        if key in self._entries:
            self._entries.move_to_end(key)
            return True
        return False

    def add(self, public_key: bytes, message: bytes, signature: bytes) -> None:
        """Record the triple as verified, evicting the least recently used entry."""
        key = self.compute_key(public_key, message, signature)
        self._entries[key] = None
        self._entries.move_to_end(key)
        if len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        """True when the signature is valid: from the cache, or verified and cached."""
        if self.contains(public_key, message, signature):
            return True
        if not verify(public_key, message, signature):
            return False
        self.add(public_key, message, signature)
        return True

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()

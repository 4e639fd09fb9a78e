"""Named field types with the ranges and lengths the decoder enforces."""

from __future__ import annotations

from typing import Annotated, Final

from msgspec import Meta

from timecoin.params import MAX_MONEY

U8 = Annotated[int, Meta(ge=0, le=0xFF)]
U16 = Annotated[int, Meta(ge=0, le=0xFFFF)]
U32 = Annotated[int, Meta(ge=0, le=0xFFFF_FFFF)]
U64 = Annotated[int, Meta(ge=0, le=2**63 - 1)]
"""Unsigned integers; 64-bit values are capped at 2**63 - 1 (msgpack int64)."""

Amount = Annotated[int, Meta(ge=0, le=MAX_MONEY)]
"""An amount in base units (1 TIME = 10**8)."""
Height = U64
Epoch = U64
Round = U32
TimestampMs = U64

Hash32 = Annotated[bytes, Meta(min_length=32, max_length=32)]
PublicKey = Annotated[bytes, Meta(min_length=32, max_length=32)]
Signature = Annotated[bytes, Meta(min_length=64, max_length=64)]
AddressBytes = Annotated[bytes, Meta(min_length=20, max_length=20)]
NetworkAddress = Annotated[bytes, Meta(max_length=64)]
"""A masternode's advertised network address, "host:port" in UTF-8."""

# Hard caps enforced by the decoder before allocation. The consensus limits in
# `ChainParams.sizes` are tighter and checked by the sanity checks.
MAX_LIST_INPUTS: Final = 10_000
MAX_LIST_OUTPUTS: Final = 10_000
MAX_LIST_BLOCK_TXS: Final = 1_000_000
MAX_LIST_VOTES: Final = 10_000
MAX_LIST_EVIDENCE: Final = 1_000
MAX_LIST_ATTESTATIONS: Final = 100_000

ZERO_HASH: Final = bytes(32)
"""The all-zero hash: the previous hash of genesis, and a nil vote's block hash."""

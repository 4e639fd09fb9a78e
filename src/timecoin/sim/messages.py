"""The simulated wire: every message between simulated nodes is bytes.

A sender encodes a `SimMessage` with `encode_message`; each receiver decodes
the bytes with `decode_message`, which goes through `timecoin.encoding`
(canonical form, limits before allocation) and raises `DecodeError` for
anything else, as a real node's network layer would.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec
from msgspec import Meta

from timecoin.encoding import decode, encode
from timecoin.types import Block, Certificate, Evidence, Proposal, Transaction, Vote
from timecoin.types.primitives import U16, Height

MAX_MESSAGE_BYTES: Final = 16_000_000
"""Largest encoded message a node accepts (the frame limit)."""

MAX_SYNC_BLOCKS: Final = 32
"""Most committed blocks in one sync response."""


class ProposalMessage(msgspec.Struct, array_like=True, frozen=True, tag=1):
    """A signed proposal and its block."""

    proposal: Proposal
    block: Block


class VoteMessage(msgspec.Struct, array_like=True, frozen=True, tag=2):
    """A signed prevote or precommit."""

    vote: Vote


class TxMessage(msgspec.Struct, array_like=True, frozen=True, tag=3):
    """A transaction gossiped to pools."""

    transaction: Transaction


class EvidenceMessage(msgspec.Struct, array_like=True, frozen=True, tag=4):
    """Evidence of an equivocation, gossiped to pools."""

    evidence: Evidence


class SyncRequest(msgspec.Struct, array_like=True, frozen=True, tag=5):
    """A request for committed blocks from `from_height` on (catch-up)."""

    from_height: Height
    max_blocks: U16


class CommittedBlock(msgspec.Struct, array_like=True, frozen=True):
    """A committed block with the certificate that committed it."""

    block: Block
    certificate: Certificate


class SyncResponse(msgspec.Struct, array_like=True, frozen=True, tag=6):
    """Consecutive committed blocks answering a `SyncRequest`."""

    blocks: Annotated[list[CommittedBlock], Meta(max_length=MAX_SYNC_BLOCKS)]


SimMessage = (
    ProposalMessage | VoteMessage | TxMessage | EvidenceMessage | SyncRequest | SyncResponse
)


class SimEnvelope(msgspec.Struct, array_like=True, frozen=True):
    """The encoded form of one message (gives the union one type)."""

    message: SimMessage


def encode_message(message: SimMessage) -> bytes:
    """The bytes sent for `message`."""
    return encode(SimEnvelope(message=message))


def decode_message(data: bytes) -> SimMessage:
    """The message encoded in `data`.

    Raises `timecoin.encoding.DecodeError` (oversized, malformed, non-canonical).
    """
    return decode(data, SimEnvelope, MAX_MESSAGE_BYTES).message

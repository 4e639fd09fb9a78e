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
from timecoin.types import (
    AttestedHeartbeat,
    Block,
    Certificate,
    EpochReport,
    Evidence,
    FinalityProof,
    Heartbeat,
    Proposal,
    Transaction,
    TxVote,
    TxVoteBatch,
    Vote,
    VoteLeaf,
    WitnessSignature,
)
from timecoin.types.primitives import U16, Hash32, Height

MAX_MESSAGE_BYTES: Final = 16_000_000
"""Largest encoded message a node accepts (the frame limit)."""

MAX_SYNC_BLOCKS: Final = 32
"""Most committed blocks in one sync response."""

MAX_REQUESTED_TXIDS: Final = 4_096
"""Most txids in one proof request."""

MAX_VOTE_LEAVES: Final = 65_536
"""Most leaves of one vote batch (`MAX_TXVOTE_BATCH_TXIDS`)."""

MAX_ANNOUNCED_VOTES: Final = 10_000
"""Most votes re-announced with one transaction."""


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


class TxVotesMessage(msgspec.Struct, array_like=True, frozen=True, tag=7):
    """A signed transaction vote batch with its leaves, in batch order."""

    batch: TxVoteBatch
    leaves: Annotated[list[VoteLeaf], Meta(max_length=MAX_VOTE_LEAVES)]


class FinalTxMessage(msgspec.Struct, array_like=True, frozen=True, tag=8):
    """A final transaction with its finality proof (re-announced or fetched)."""

    transaction: Transaction
    proof: FinalityProof


class TxAnnounceMessage(msgspec.Struct, array_like=True, frozen=True, tag=9):
    """A transaction re-announced with the votes its sender holds for it."""

    transaction: Transaction
    votes: Annotated[list[TxVote], Meta(max_length=MAX_ANNOUNCED_VOTES)]


class ReportMessage(msgspec.Struct, array_like=True, frozen=True, tag=10):
    """A member's signed epoch report."""

    report: EpochReport


class ReportsRequest(msgspec.Struct, array_like=True, frozen=True, tag=17):
    """A request for every epoch report of `epoch` the peer holds."""

    epoch: Annotated[int, Meta(ge=0, le=2**63 - 1)]


class ProofRequest(msgspec.Struct, array_like=True, frozen=True, tag=11):
    """A request for the finality proofs (with bodies) of `txids`."""

    txids: Annotated[list[Hash32], Meta(max_length=MAX_REQUESTED_TXIDS)]


class TxRequest(msgspec.Struct, array_like=True, frozen=True, tag=12):
    """A request for the body of transaction `txid` (votes for it are held)."""

    txid: Hash32


class HeartbeatMessage(msgspec.Struct, array_like=True, frozen=True, tag=13):
    """A masternode's signed heartbeat, sent to its witnesses."""

    heartbeat: Heartbeat


class AttestationMessage(msgspec.Struct, array_like=True, frozen=True, tag=14):
    """A witness's attestation of `heartbeat`, sent back to the masternode."""

    heartbeat: Heartbeat
    attestation: WitnessSignature


class AttestedHeartbeatMessage(msgspec.Struct, array_like=True, frozen=True, tag=15):
    """A heartbeat with enough attestations, gossiped to the block builders."""

    attested: AttestedHeartbeat


SimMessage = (
    ProposalMessage
    | VoteMessage
    | TxMessage
    | EvidenceMessage
    | SyncRequest
    | SyncResponse
    | TxVotesMessage
    | FinalTxMessage
    | TxAnnounceMessage
    | ReportMessage
    | ReportsRequest
    | ProofRequest
    | TxRequest
    | HeartbeatMessage
    | AttestationMessage
    | AttestedHeartbeatMessage
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

"""The messages peers exchange after the handshake (docs/spec/p2p.md, section 4).

Every message is a `msgspec.Struct` with ``array_like=True`` and an integer
tag, a variant of the tagged union `Message`. Its bytes are those of
`Envelope(message)` from `timecoin.encoding`, so decoding is canonical and
every list is bounded before allocation. Each message belongs to a
`MessageClass`, the unit of per-peer rate limiting.
"""

from __future__ import annotations

import enum
from typing import Annotated, Final

import msgspec
from msgspec import Meta

from timecoin.encoding import REJECT_MALFORMED, DecodeError, decode, encode
from timecoin.types import (
    AttestedHeartbeat,
    Block,
    BlockHeader,
    Certificate,
    EpochReport,
    Evidence,
    FinalityProof,
    Proposal,
    Transaction,
    TxVote,
    TxVoteBatch,
    Vote,
    VoteLeaf,
    VotingSet,
)
from timecoin.types.finality import MAX_TXVOTE_BATCH_TXIDS
from timecoin.types.primitives import U64, Epoch, Hash32, Height, TimestampMs

__all__ = [
    "MAX_ADDRESSES_PER_MSG",
    "MAX_BLOCKS_PER_MSG",
    "MAX_BODIES_PER_MSG",
    "MAX_FINALITY_TXS_PER_MSG",
    "MAX_FINALITY_TX_VOTES",
    "MAX_HEADERS_PER_MSG",
    "MAX_HEARTBEATS_PER_MSG",
    "MAX_INV_HASHES",
    "MAX_REJECT_CODE_CHARS",
    "MAX_REJECT_REASON_CHARS",
    "MAX_TXS_PER_MSG",
    "MAX_VOTES_PER_MSG",
    "MESSAGE_CLASS_BY_TAG",
    "Addr",
    "BlockMsg",
    "Blocks",
    "Bodies",
    "CertificateMsg",
    "CommittedBlock",
    "Envelope",
    "EpochReportMsg",
    "EvidenceMsg",
    "FinalityTx",
    "FinalityTxs",
    "GetAddr",
    "GetBlocks",
    "GetBodies",
    "GetData",
    "GetEpochReports",
    "GetFinalityTxs",
    "GetHeaders",
    "HeaderEntry",
    "Headers",
    "HeartbeatMsg",
    "Inv",
    "InvKind",
    "Message",
    "MessageClass",
    "NetAddress",
    "NotFound",
    "Ping",
    "Pong",
    "ProposalMsg",
    "Reject",
    "TxVotesMsg",
    "Txs",
    "VoteMsg",
    "class_of",
    "decode_message",
    "encode_message",
    "peek_message_tag",
]

MAX_INV_HASHES: Final = 1_000
"""Most hashes in one `Inv`, `GetData` or `NotFound`."""
MAX_ADDRESSES_PER_MSG: Final = 1_000
"""Most addresses in one `Addr`."""
MAX_TXS_PER_MSG: Final = 1_000
"""Most transactions in one `Txs`."""
MAX_VOTES_PER_MSG: Final = 1_000
"""Most votes in one `VoteMsg`."""
MAX_HEARTBEATS_PER_MSG: Final = 1_000
"""Most heartbeats in one `HeartbeatMsg`."""
MAX_BLOCKS_PER_MSG: Final = 32
"""Most blocks asked for by one `GetBlocks` and sent in one `Blocks`."""
MAX_HEADERS_PER_MSG: Final = 512
"""Most certified headers asked for by one `GetHeaders` and sent in one `Headers`."""
MAX_BODIES_PER_MSG: Final = 32
"""Most blocks asked for by one `GetBodies` and sent in one `Bodies`."""
MAX_FINALITY_TXS_PER_MSG: Final = 256
"""Most transactions in one `FinalityTxs` (and txids in one `GetFinalityTxs`)."""
MAX_FINALITY_TX_VOTES: Final = 1_000
"""Most standalone votes carried with one re-announced transaction."""
MAX_REJECT_CODE_CHARS: Final = 32
MAX_REJECT_REASON_CHARS: Final = 256


class MessageClass(enum.StrEnum):
    """The rate-limiting class of a message (the value is the metrics label)."""

    CONTROL = "control"
    GOSSIP = "gossip"
    CONSENSUS = "consensus"
    SYNC = "sync"


class InvKind(enum.IntEnum):
    """What an inventory hash names, and how its hash is computed."""

    TX = 1
    """A transaction; the hash is its txid (signatures excluded)."""
    BLOCK = 2
    """A committed block; the hash is its block hash."""
    EVIDENCE = 3
    """Evidence of an equivocation; the hash is SHA-256 of its encoding."""


Port = Annotated[int, Meta(ge=1, le=0xFFFF)]
PackedIp = Annotated[bytes, Meta(min_length=4, max_length=16)]
HashList = Annotated[list[Hash32], Meta(max_length=MAX_INV_HASHES)]


class NetAddress(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """An address a node listens on: packed IP (4 bytes IPv4, 16 bytes IPv6)."""

    ip: PackedIp
    port: Port
    last_seen_ms: TimestampMs


class Ping(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=1):
    """Liveness probe; the peer answers `Pong` with the same nonce."""

    nonce: U64


class Pong(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=2):
    """Answer to `Ping`."""

    nonce: U64


class GetAddr(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=3):
    """Ask for a sample of the peer's address book."""


class Addr(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=4):
    """Addresses of nodes that accept connections."""

    addresses: Annotated[list[NetAddress], Meta(max_length=MAX_ADDRESSES_PER_MSG)]


class Inv(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=5):
    """Announce items by hash; a peer that lacks one asks with `GetData`."""

    kind: InvKind
    hashes: HashList


class GetData(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=6):
    """Ask for the bodies of announced items."""

    kind: InvKind
    hashes: HashList


class NotFound(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=7):
    """The items of a `GetData` the sender cannot serve."""

    kind: InvKind
    hashes: HashList


class Txs(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=8):
    """Transactions: the answer to `GetData(TX)`, or pushed."""

    transactions: Annotated[list[Transaction], Meta(max_length=MAX_TXS_PER_MSG)]


class BlockMsg(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=9):
    """A committed block: the answer to `GetData(BLOCK)`."""

    block: Block


class ProposalMsg(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=10):
    """A signed proposal with its block (pushed)."""

    proposal: Proposal
    block: Block


class VoteMsg(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=11):
    """Signed prevotes or precommits (pushed; batched when relayed)."""

    votes: Annotated[list[Vote], Meta(min_length=1, max_length=MAX_VOTES_PER_MSG)]


class CertificateMsg(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=12):
    """A commit certificate (pushed when a block commits)."""

    certificate: Certificate


class GetBlocks(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=13):
    """Ask for committed blocks from `from_height` on (catch-up)."""

    from_height: Height
    count: Annotated[int, Meta(ge=1, le=MAX_BLOCKS_PER_MSG)]


class CommittedBlock(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """A committed block with the certificate that committed it."""

    block: Block
    certificate: Certificate


class Blocks(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=14):
    """Consecutive committed blocks answering `GetBlocks` (empty: none known)."""

    blocks: Annotated[list[CommittedBlock], Meta(max_length=MAX_BLOCKS_PER_MSG)]


class EvidenceMsg(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=15):
    """Evidence of an equivocation: the answer to `GetData(EVIDENCE)`."""

    evidence: Evidence


class HeartbeatMsg(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=16):
    """Masternode heartbeats with the attestations gathered so far (pushed)."""

    heartbeats: Annotated[
        list[AttestedHeartbeat], Meta(min_length=1, max_length=MAX_HEARTBEATS_PER_MSG)
    ]


class Reject(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=17):
    """Why the sender refused something; `item_hash` is empty or 32 bytes."""

    code: Annotated[str, Meta(max_length=MAX_REJECT_CODE_CHARS)]
    reason: Annotated[str, Meta(max_length=MAX_REJECT_REASON_CHARS)]
    item_hash: Annotated[bytes, Meta(max_length=32)] = b""


class GetHeaders(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=18):
    """Ask for up to `count` certified headers from `from_height` on (sync)."""

    from_height: Annotated[int, Meta(ge=1, le=0x7FFF_FFFF_FFFF_FFFF)]
    count: Annotated[int, Meta(ge=1, le=MAX_HEADERS_PER_MSG)]


class HeaderEntry(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """A header, the certificate that committed it, and the voting set in force
    after it where that set differs from the one in force for it."""

    header: BlockHeader
    certificate: Certificate
    voting_set: VotingSet | None


class Headers(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=19):
    """Consecutive certified headers answering `GetHeaders` (fewer: the sender
    has no more), and the height of the sender's tip."""

    tip_height: Height
    headers: Annotated[list[HeaderEntry], Meta(max_length=MAX_HEADERS_PER_MSG)]


class GetBodies(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=20):
    """Ask for the blocks with these hashes, in order (sync)."""

    block_hashes: Annotated[list[Hash32], Meta(min_length=1, max_length=MAX_BODIES_PER_MSG)]


class Bodies(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=21):
    """A prefix of the blocks asked for by `GetBodies`, in order (empty: none now)."""

    blocks: Annotated[list[Block], Meta(max_length=MAX_BODIES_PER_MSG)]


class TxVotesMsg(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=22):
    """A signed batch of transaction votes with its leaves, in order (pushed)."""

    batch: TxVoteBatch
    leaves: Annotated[list[VoteLeaf], Meta(min_length=1, max_length=MAX_TXVOTE_BATCH_TXIDS)]


class FinalityTx(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """A transaction with its finality proof once final, else the votes held for it."""

    tx: Transaction
    proof: FinalityProof | None
    votes: Annotated[list[TxVote], Meta(max_length=MAX_FINALITY_TX_VOTES)]


class FinalityTxs(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=23):
    """Transactions re-announced with their proofs or votes, or the answer to
    `GetFinalityTxs` (only the transactions the sender knows)."""

    items: Annotated[list[FinalityTx], Meta(min_length=1, max_length=MAX_FINALITY_TXS_PER_MSG)]


class GetFinalityTxs(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=24):
    """Ask for these transactions with their finality proofs (a parent's proof,
    a block's missing proofs, the body of a transaction with a quorum)."""

    txids: Annotated[list[Hash32], Meta(min_length=1, max_length=MAX_FINALITY_TXS_PER_MSG)]


class EpochReportMsg(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=25):
    """A committee member's signed report at the end of its epoch (pushed)."""

    report: EpochReport


class GetEpochReports(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=26):
    """Ask for every epoch report of `epoch` the peer holds (answered with one
    `EpochReportMsg` per report): a node waiting for an epoch's last block
    pulls the reports a restart or a lost connection kept from it."""

    epoch: Epoch


Message = (
    Ping
    | Pong
    | GetAddr
    | Addr
    | Inv
    | GetData
    | NotFound
    | Txs
    | BlockMsg
    | ProposalMsg
    | VoteMsg
    | CertificateMsg
    | GetBlocks
    | Blocks
    | EvidenceMsg
    | HeartbeatMsg
    | Reject
    | GetHeaders
    | Headers
    | GetBodies
    | Bodies
    | TxVotesMsg
    | FinalityTxs
    | GetFinalityTxs
    | EpochReportMsg
    | GetEpochReports
)
"""Every message a peer may send after the handshake."""


class Envelope(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """The encoded form of one message (gives the union a single type)."""

    message: Message


_CLASS_BY_TYPE: Final[dict[type, MessageClass]] = {
    Ping: MessageClass.CONTROL,
    Pong: MessageClass.CONTROL,
    GetAddr: MessageClass.CONTROL,
    Addr: MessageClass.CONTROL,
    Reject: MessageClass.CONTROL,
    Inv: MessageClass.GOSSIP,
    GetData: MessageClass.GOSSIP,
    NotFound: MessageClass.GOSSIP,
    Txs: MessageClass.GOSSIP,
    BlockMsg: MessageClass.GOSSIP,
    EvidenceMsg: MessageClass.GOSSIP,
    HeartbeatMsg: MessageClass.GOSSIP,
    ProposalMsg: MessageClass.CONSENSUS,
    VoteMsg: MessageClass.CONSENSUS,
    CertificateMsg: MessageClass.CONSENSUS,
    GetBlocks: MessageClass.SYNC,
    Blocks: MessageClass.SYNC,
    GetHeaders: MessageClass.SYNC,
    Headers: MessageClass.SYNC,
    GetBodies: MessageClass.SYNC,
    Bodies: MessageClass.SYNC,
    TxVotesMsg: MessageClass.CONSENSUS,
    EpochReportMsg: MessageClass.CONSENSUS,
    GetEpochReports: MessageClass.CONSENSUS,
    FinalityTxs: MessageClass.GOSSIP,
    GetFinalityTxs: MessageClass.GOSSIP,
}

MESSAGE_CLASS_BY_TAG: Final[dict[int, MessageClass]] = {
    msg_type.__struct_config__.tag: cls  # type: ignore[attr-defined]
    for msg_type, cls in _CLASS_BY_TYPE.items()
}
"""The class of each message tag; a tag missing here is not a message."""


def class_of(message: Message) -> MessageClass:
    """The rate-limiting class of `message`."""
    return _CLASS_BY_TYPE[type(message)]


def encode_message(message: Message) -> bytes:
    """The payload bytes of `message` (before framing and encryption)."""
    return encode(Envelope(message))


def decode_message(payload: bytes, max_bytes: int) -> Message:
    """The message whose payload is `payload`.

    Raises `timecoin.encoding.DecodeError` (oversized, malformed,
    non-canonical).
    """
    return decode(payload, Envelope, max_bytes).message


_ENVELOPE_HEADER: Final = 0x91
_FIXARRAY_MIN: Final = 0x91
_FIXARRAY_MAX: Final = 0x9F
_ARRAY16: Final = 0xDC
_ARRAY32: Final = 0xDD
_POSITIVE_FIXINT_MAX: Final = 0x7F


def peek_message_tag(payload: bytes) -> int:
    """The tag of the message in `payload`, read without decoding the rest.

    The rate limiter classifies a message by this tag before paying for a
    full decode. A payload that is not an envelope around a tagged array
    raises `DecodeError`; a well-formed tag may still name no message (see
    `MESSAGE_CLASS_BY_TAG`), and the full decode checks everything else.
    """
    if len(payload) < 3 or payload[0] != _ENVELOPE_HEADER:
        raise DecodeError(REJECT_MALFORMED, "message: not an envelope")
    head = payload[1]
    if _FIXARRAY_MIN <= head <= _FIXARRAY_MAX:
        pos = 2
    elif head == _ARRAY16:
        pos = 4
    elif head == _ARRAY32:
        pos = 6
    else:
        raise DecodeError(REJECT_MALFORMED, "message: not a tagged array")
    if pos >= len(payload) or payload[pos] > _POSITIVE_FIXINT_MAX:
        raise DecodeError(REJECT_MALFORMED, "message: tag is not a small integer")
    return payload[pos]

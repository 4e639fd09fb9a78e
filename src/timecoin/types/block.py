"""Blocks, headers, votes, certificates, evidence and attestations."""

from __future__ import annotations

import enum
from typing import Annotated, Final

import msgspec
from msgspec import Meta

from timecoin.crypto import sha256
from timecoin.encoding import encode
from timecoin.types.finality import (
    MAX_REPORT_TABLE_ENTRIES,
    PackedReport,
    ReportEntry,
    TxVoteEquivocationEvidence,
)
from timecoin.types.primitives import (
    MAX_LIST_ATTESTATIONS,
    MAX_LIST_BLOCK_TXS,
    MAX_LIST_EVIDENCE,
    MAX_LIST_VOTES,
    U8,
    U16,
    U32,
    U64,
    Epoch,
    Hash32,
    Height,
    PublicKey,
    Round,
    Signature,
    TimestampMs,
)
from timecoin.types.transaction import Transaction

BLOCK_VERSION: Final = 1

EMPTY_REPORTS_HASH: Final = sha256(encode(([], [], [])))
"""`reports_hash` of a block carrying no reports (every block but an epoch's last)."""


class VoteType(enum.IntEnum):
    """The two Tendermint vote steps."""

    PREVOTE = 1
    PRECOMMIT = 2


class BlockHeader(msgspec.Struct, array_like=True, frozen=True):
    """The header; its hash is the block hash and it commits to the whole block.

    - `tx_root`, `witness_root`: merkle roots of the txids and witness hashes;
    - `prev_certificate_hash`, `evidence_hash`, `attestations_hash`: hashes of
      the encodings of those block fields;
    - `utxo_commitment`: MuHash3072 digest of the UTXO set after this block;
    - `next_voting_set_hash`: hash of the voting set in force after this block;
    - `reports_hash`: ``sha256(encode((report_entries, reports,
      reported_transactions)))``, `EMPTY_REPORTS_HASH` except on an epoch's
      last block (ADR 0004, ADR 0006).
    """

    version: U16
    chain_id: U32
    height: Height
    epoch: Epoch
    prev_hash: Hash32
    timestamp_ms: TimestampMs
    proposer: PublicKey
    tx_root: Hash32
    witness_root: Hash32
    prev_certificate_hash: Hash32
    evidence_hash: Hash32
    attestations_hash: Hash32
    utxo_commitment: Hash32
    next_voting_set_hash: Hash32
    reports_hash: Hash32 = EMPTY_REPORTS_HASH


class Vote(msgspec.Struct, array_like=True, frozen=True):
    """A signed prevote or precommit; `block_hash` is ZERO_HASH for nil."""

    vote_type: U8
    height: Height
    round: Round
    block_hash: Hash32
    voter: PublicKey
    signature: Signature


class Proposal(msgspec.Struct, array_like=True, frozen=True):
    """A signed proposal of `block_hash` at (height, round).

    `pol_round` is the proof-of-lock round, or -1 when there is none.
    """

    height: Height
    round: Round
    pol_round: Annotated[int, Meta(ge=-1, le=0xFFFF_FFFF)]
    block_hash: Hash32
    timestamp_ms: TimestampMs
    proposer: PublicKey
    signature: Signature


class CommitSignature(msgspec.Struct, array_like=True, frozen=True):
    """One precommit signature in a certificate, by committee index."""

    voter_index: U16
    signature: Signature


class Certificate(msgspec.Struct, array_like=True, frozen=True):
    """Precommits of more than 2/3 of the voting weight for one block."""

    height: Height
    round: Round
    block_hash: Hash32
    signatures: Annotated[list[CommitSignature], Meta(max_length=MAX_LIST_VOTES)]


class DuplicateVoteEvidence(msgspec.Struct, array_like=True, frozen=True, tag=1):
    """Two conflicting votes of one voter, same type, height and round."""

    vote_a: Vote
    vote_b: Vote


class DuplicateProposalEvidence(msgspec.Struct, array_like=True, frozen=True, tag=2):
    """Two conflicting proposals of one proposer at one height and round."""

    proposal_a: Proposal
    proposal_b: Proposal


Evidence = DuplicateVoteEvidence | DuplicateProposalEvidence | TxVoteEquivocationEvidence


class Heartbeat(msgspec.Struct, array_like=True, frozen=True):
    """A masternode's liveness signal, signed by its operator key."""

    masternode_id: Hash32
    sequence: U64
    timestamp_ms: TimestampMs
    signature: Signature


class WitnessSignature(msgspec.Struct, array_like=True, frozen=True):
    """A witness's attestation of a heartbeat."""

    witness: PublicKey
    signature: Signature


class AttestedHeartbeat(msgspec.Struct, array_like=True, frozen=True):
    """A heartbeat with its witnesses' attestations."""

    heartbeat: Heartbeat
    attestations: Annotated[list[WitnessSignature], Meta(max_length=16)]


class Block(msgspec.Struct, array_like=True, frozen=True):
    """A block: header, transactions (coinbase first), the previous block's
    certificate, evidence and attested heartbeats. An epoch's last block
    also carries the outgoing members' reports, deduplicated (ADR 0006):
    `report_entries`, every entry any of them lists, once, in strictly
    ascending (outpoint key, txid) order; `reports`, one `PackedReport` per
    voter (ascending voter key) selecting its entries from that table; and,
    in full, the `reported_transactions` (ascending txid) they need (ADR
    0004). All three are empty on every other block."""

    header: BlockHeader
    transactions: Annotated[list[Transaction], Meta(max_length=MAX_LIST_BLOCK_TXS)]
    prev_certificate: Certificate | None
    evidence: Annotated[list[Evidence], Meta(max_length=MAX_LIST_EVIDENCE)]
    attestations: Annotated[list[AttestedHeartbeat], Meta(max_length=MAX_LIST_ATTESTATIONS)]
    report_entries: Annotated[list[ReportEntry], Meta(max_length=MAX_REPORT_TABLE_ENTRIES)] = []
    reports: Annotated[list[PackedReport], Meta(max_length=MAX_LIST_VOTES)] = []
    reported_transactions: Annotated[list[Transaction], Meta(max_length=MAX_LIST_BLOCK_TXS)] = []

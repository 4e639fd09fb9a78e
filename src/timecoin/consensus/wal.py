"""The consensus write-ahead log: record types, their bytes, and recovery.

The machine emits `PersistWal(record)` effects; the driver appends each
record to durable storage before executing the next effect. Records are:

- `WalRoundState`: the round state after a transition (height, round, step,
  locked and valid rounds and block hashes; ZERO_HASH for none);
- `WalVote`: a vote this node signed, written before it is broadcast;
- `WalProposal`: a proposal this node signed, with its block's bytes,
  written before it is broadcast;
- `WalValue`: the bytes of a block that became this node's locked or valid
  value, so that it can still propose it after a restart.

Only records of the height being decided matter; a driver may drop records
of lower heights once the block of that height is durable. On restart,
`ConsensusMachine.restore` reads them back through `recover_wal`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated

import msgspec
from msgspec import Meta

from timecoin.consensus.limits import MAX_WAL_BLOCK_BYTES, MAX_WAL_RECORD_BYTES
from timecoin.consensus.rejects import (
    REJECT_WAL_CONFLICT,
    REJECT_WAL_FOREIGN_SIGNER,
)
from timecoin.encoding import decode, encode
from timecoin.types import Proposal, TimecoinError, Vote
from timecoin.types.primitives import Hash32, Height, Round, TimestampMs

OptionalRound = Annotated[int, Meta(ge=-1, le=0xFFFF_FFFF)]
"""A round, or -1 for none."""
BlockBytes = Annotated[bytes, Meta(max_length=MAX_WAL_BLOCK_BYTES)]


class InvalidWal(TimecoinError):
    """A write-ahead log that this node cannot have written (corruption, or the
    log of another key): restoring from it could make the node equivocate."""


class WalRoundState(msgspec.Struct, array_like=True, frozen=True, tag=1):
    """The round state after a transition (`step` is a `Step` value)."""

    height: Height
    round: Round
    step: Annotated[int, Meta(ge=1, le=3)]
    locked_round: OptionalRound
    locked_hash: Hash32
    valid_round: OptionalRound
    valid_hash: Hash32


class WalVote(msgspec.Struct, array_like=True, frozen=True, tag=2):
    """A vote this node signed."""

    vote: Vote


class WalProposal(msgspec.Struct, array_like=True, frozen=True, tag=3):
    """A proposal this node signed, and the bytes of its block (`BlockApp.encode_block`)."""

    proposal: Proposal
    block: BlockBytes


class WalValue(msgspec.Struct, array_like=True, frozen=True, tag=4):
    """A block that became this node's locked or valid value at `height`, with the
    timestamp of the proposal that carried it."""

    height: Height
    block_hash: Hash32
    timestamp_ms: TimestampMs
    block: BlockBytes


WalRecord = WalRoundState | WalVote | WalProposal | WalValue


class WalEntry(msgspec.Struct, array_like=True, frozen=True):
    """The stored form of one record (a wrapper that gives the union one type)."""

    record: WalRecord


def get_record_height(record: WalRecord) -> int:
    """The height a record belongs to."""
    if isinstance(record, WalVote):
        return record.vote.height
    if isinstance(record, WalProposal):
        return record.proposal.height
    return record.height


def encode_wal_record(record: WalRecord) -> bytes:
    """The bytes a driver stores for `record`."""
    return encode(WalEntry(record=record))


def decode_wal_record(data: bytes) -> WalRecord:
    """The record stored as `data` by `encode_wal_record`.

    Raises `timecoin.encoding.DecodeError` on malformed, non-canonical or
    oversized bytes.
    """
    return decode(data, WalEntry, MAX_WAL_RECORD_BYTES).record


@dataclass(slots=True)
class WalRecovery:
    """What the log says about one height.

    - `round_state`: the last round-state record, or None;
    - `votes`: this node's signed votes by (round, vote_type);
    - `proposals`: this node's signed proposals by round, with block bytes;
    - `values`: locked or valid values by block hash.
    """

    round_state: WalRoundState | None = None
    votes: dict[tuple[int, int], Vote] = field(default_factory=dict)
    proposals: dict[int, WalProposal] = field(default_factory=dict)
    values: dict[bytes, WalValue] = field(default_factory=dict)


def recover_wal(records: Iterable[WalRecord], height: int, own_key: bytes | None) -> WalRecovery:
    """Collect the records of `height` (others are skipped), in log order.

    `own_key` is the public key of this node's signer (None for a node
    without one). Raises InvalidWal (wal-foreign-signer) when a signed
    message is not by `own_key`, and (wal-conflict) when two signed messages
    share a slot with different content: the node never wrote such a log.
    """
    recovery = WalRecovery()
    for record in records:
        if get_record_height(record) != height:
            continue
        if isinstance(record, WalRoundState):
            recovery.round_state = record
        elif isinstance(record, WalVote):
            vote = record.vote
            if vote.voter != own_key:
                raise InvalidWal(
                    REJECT_WAL_FOREIGN_SIGNER, f"logged vote signed by {vote.voter.hex()}"
                )
            slot = (vote.round, vote.vote_type)
            previous = recovery.votes.setdefault(slot, vote)
            if previous.block_hash != vote.block_hash:
                raise InvalidWal(
                    REJECT_WAL_CONFLICT,
                    f"two logged votes at h={height} r={vote.round} type={vote.vote_type}",
                )
        elif isinstance(record, WalProposal):
            proposal = record.proposal
            if proposal.proposer != own_key:
                raise InvalidWal(
                    REJECT_WAL_FOREIGN_SIGNER,
                    f"logged proposal signed by {proposal.proposer.hex()}",
                )
            previous_proposal = recovery.proposals.setdefault(proposal.round, record)
            if previous_proposal != record:
                raise InvalidWal(
                    REJECT_WAL_CONFLICT, f"two logged proposals at h={height} r={proposal.round}"
                )
        else:
            recovery.values.setdefault(record.block_hash, record)
    return recovery

"""Reject codes of the errors raised by the consensus package.

A driver uses the code to decide how to treat the peer that sent the
message (drop, penalize, disconnect); the message text says expected vs
actual. Codes shared with the chain's certificate and evidence checks are
defined in `timecoin.chain.errors` and re-exported here; the others are
specific to the consensus machine and its write-ahead log.
"""

from __future__ import annotations

from typing import Final

from timecoin.chain.errors import (
    REJECT_BAD_SIGNATURE,
    REJECT_BAD_VOTE_TYPE,
    REJECT_DUPLICATE_VOTER,
    REJECT_EVIDENCE_MISMATCH,
    REJECT_INSUFFICIENT_WEIGHT,
    REJECT_NIL_BLOCK,
    REJECT_NON_CANONICAL_EVIDENCE,
    REJECT_NOT_CONFLICTING,
    REJECT_UNKNOWN_VOTER,
    REJECT_UNORDERED_SIGNATURES,
    REJECT_WRONG_BLOCK,
    REJECT_WRONG_HEIGHT,
)

__all__ = [
    "REJECT_BAD_POL_ROUND",
    "REJECT_BAD_SIGNATURE",
    "REJECT_BAD_VOTE_TYPE",
    "REJECT_BLOCK_MISMATCH",
    "REJECT_DUPLICATE_VOTER",
    "REJECT_EVIDENCE_MISMATCH",
    "REJECT_INSUFFICIENT_WEIGHT",
    "REJECT_NIL_BLOCK",
    "REJECT_NON_CANONICAL_EVIDENCE",
    "REJECT_NOT_CONFLICTING",
    "REJECT_UNKNOWN_VOTER",
    "REJECT_UNORDERED_SIGNATURES",
    "REJECT_WAL_BLOCK",
    "REJECT_WAL_CONFLICT",
    "REJECT_WAL_FOREIGN_SIGNER",
    "REJECT_WRONG_BLOCK",
    "REJECT_WRONG_HEIGHT",
    "REJECT_WRONG_PROPOSER",
]

REJECT_WRONG_PROPOSER: Final = "wrong-proposer"
"""A proposal signed by someone other than the round's proposer."""
REJECT_BAD_POL_ROUND: Final = "bad-pol-round"
"""A proposal whose proof-of-lock round is not in [-1, round)."""
REJECT_BLOCK_MISMATCH: Final = "block-mismatch"
"""A block value whose hash is not the hash named by its proposal or certificate."""
REJECT_WAL_FOREIGN_SIGNER: Final = "wal-foreign-signer"
"""A write-ahead log holding a vote or proposal signed by another key than ours."""
REJECT_WAL_CONFLICT: Final = "wal-conflict"
"""A write-ahead log holding two different signed messages for one slot."""
REJECT_WAL_BLOCK: Final = "wal-block"
"""A write-ahead log block whose bytes do not decode to a block of the named hash."""

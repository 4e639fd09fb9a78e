"""Reject codes of `InvalidVote` errors raised by the consensus package.

A driver uses the code to decide how to treat the peer that sent the
message (drop, penalize, disconnect); the message text says expected vs
actual.
"""

from __future__ import annotations

from typing import Final

REJECT_BAD_VOTE_TYPE: Final = "bad-vote-type"
"""A vote type other than prevote (1) or precommit (2)."""
REJECT_UNKNOWN_VOTER: Final = "unknown-voter"
"""A signer, or a certificate index, that is not in the voting set."""
REJECT_BAD_SIGNATURE: Final = "bad-signature"
"""A signature that the consensus verifier rejects."""
REJECT_WRONG_PROPOSER: Final = "wrong-proposer"
"""A proposal signed by someone other than the round's proposer."""
REJECT_BAD_POL_ROUND: Final = "bad-pol-round"
"""A proposal whose proof-of-lock round is not in [-1, round)."""
REJECT_NIL_BLOCK: Final = "nil-block"
"""A proposal or certificate for ZERO_HASH, the nil block hash."""
REJECT_BLOCK_MISMATCH: Final = "block-mismatch"
"""A block value whose hash is not the hash named by its proposal or certificate."""
REJECT_DUPLICATE_VOTER: Final = "duplicate-voter"
"""A certificate that lists one voter index twice."""
REJECT_UNORDERED_SIGNATURES: Final = "unordered-signatures"
"""A certificate whose voter indices are not strictly increasing."""
REJECT_INSUFFICIENT_WEIGHT: Final = "insufficient-weight"
"""A certificate whose signers do not hold more than 2/3 of the voting weight."""
REJECT_WRONG_HEIGHT: Final = "wrong-height"
"""A certificate for another height than the one expected."""
REJECT_WRONG_BLOCK: Final = "wrong-block"
"""A certificate for another block than the one expected."""
REJECT_EVIDENCE_MISMATCH: Final = "evidence-mismatch"
"""Evidence whose two messages differ in signer, type, height or round."""
REJECT_NOT_CONFLICTING: Final = "not-conflicting"
"""Evidence whose two messages sign the same content."""
REJECT_NON_CANONICAL_EVIDENCE: Final = "non-canonical-evidence"
"""Evidence whose pair is not in canonical order (by encoding, ascending)."""
REJECT_WAL_FOREIGN_SIGNER: Final = "wal-foreign-signer"
"""A write-ahead log holding a vote or proposal signed by another key than ours."""
REJECT_WAL_CONFLICT: Final = "wal-conflict"
"""A write-ahead log holding two different signed messages for one slot."""
REJECT_WAL_BLOCK: Final = "wal-block"
"""A write-ahead log block whose bytes do not decode to a block of the named hash."""

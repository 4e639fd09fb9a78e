"""Reject codes of the block rules and of certificate and evidence checks.

Like the ledger's codes (`timecoin.ledger.errors`), each is short, stable and
kebab-case and never changes meaning: the codes are part of the node's
external interface (RPC, peer reject messages). A block rule raises
`InvalidBlock` (`timecoin.types.errors`); a certificate, vote or evidence
check raises `InvalidVote`, which the block rules turn into `InvalidBlock`
with the same code. A transaction's code (ledger or registry) is kept too.
docs/spec/chain.md lists the rule behind each code.

The codes marked *body mismatch* (`BODY_MISMATCH_CODES`) mean that a block's
body does not match its header: that is the fault of whoever sent the body,
not proof that the header's block is invalid, so a node must not mark the
block hash invalid for them (docs/spec/chain.md).
"""

from __future__ import annotations

from typing import Final

# Stateless block sanity (check_block).
REJECT_BAD_BLOCK_VERSION: Final = "bad-block-version"
REJECT_WRONG_CHAIN_ID: Final = "wrong-chain-id"
REJECT_OVERSIZED_BLOCK: Final = "oversized-block"
REJECT_TOO_MANY_EVIDENCE: Final = "too-many-evidence"
REJECT_TOO_MANY_ATTESTATIONS: Final = "too-many-attestations"
REJECT_BAD_TX_ROOT: Final = "bad-tx-root"
REJECT_BAD_WITNESS_ROOT: Final = "bad-witness-root"
REJECT_BAD_CERTIFICATE_HASH: Final = "bad-certificate-hash"
REJECT_BAD_EVIDENCE_HASH: Final = "bad-evidence-hash"
REJECT_BAD_ATTESTATIONS_HASH: Final = "bad-attestations-hash"
REJECT_MISSING_COINBASE: Final = "missing-coinbase"
REJECT_MISSING_CERTIFICATE: Final = "missing-certificate"
REJECT_UNEXPECTED_CERTIFICATE: Final = "unexpected-certificate"

# Contextual block validation (validate_block).
REJECT_BAD_HEIGHT: Final = "bad-height"
REJECT_BAD_PREV_HASH: Final = "bad-prev-hash"
REJECT_BAD_EPOCH: Final = "bad-epoch"
REJECT_TIMESTAMP_TOO_EARLY: Final = "timestamp-too-early"
REJECT_UNKNOWN_PROPOSER: Final = "unknown-proposer"
REJECT_FUTURE_EVIDENCE: Final = "future-evidence"
REJECT_STALE_EVIDENCE: Final = "stale-evidence"
REJECT_DUPLICATE_EVIDENCE: Final = "duplicate-evidence"
REJECT_BAD_COINBASE: Final = "bad-coinbase"
REJECT_BAD_UTXO_COMMITMENT: Final = "bad-utxo-commitment"
REJECT_BAD_NEXT_VOTING_SET_HASH: Final = "bad-next-voting-set-hash"

# Genesis (chain_state_from_genesis).
REJECT_WRONG_GENESIS: Final = "wrong-genesis"

# Certificates, votes and proposals (timecoin.chain.certificate), raised as
# InvalidVote. The consensus package uses the same codes for the same checks.
REJECT_BAD_VOTE_TYPE: Final = "bad-vote-type"
REJECT_BAD_SIGNATURE: Final = "bad-signature"
REJECT_NIL_BLOCK: Final = "nil-block"
REJECT_UNKNOWN_VOTER: Final = "unknown-voter"
REJECT_DUPLICATE_VOTER: Final = "duplicate-voter"
REJECT_UNORDERED_SIGNATURES: Final = "unordered-signatures"
REJECT_INSUFFICIENT_WEIGHT: Final = "insufficient-weight"
REJECT_WRONG_HEIGHT: Final = "wrong-height"
REJECT_WRONG_BLOCK: Final = "wrong-block"

# Evidence (timecoin.chain.evidence), raised as InvalidVote.
REJECT_EVIDENCE_MISMATCH: Final = "evidence-mismatch"
REJECT_NOT_CONFLICTING: Final = "not-conflicting"
REJECT_NON_CANONICAL_EVIDENCE: Final = "non-canonical-evidence"

# Instant finality (timecoin.chain.finality): transaction votes, finality
# proofs and epoch reports raise InvalidVote; the block rule InvalidBlock.
REJECT_BAD_BRANCH: Final = "bad-branch"
REJECT_WRONG_EPOCH: Final = "wrong-epoch"
REJECT_WRONG_TRANSACTION: Final = "wrong-transaction"
REJECT_NON_CANONICAL_REPORT: Final = "non-canonical-report"
REJECT_OVERSIZED_REPORT: Final = "oversized-report"
REJECT_NOT_FINAL: Final = "not-final"
REJECT_BAD_REPORT: Final = "bad-report"
REJECT_INSUFFICIENT_REPORTS: Final = "insufficient-reports"
REJECT_UNREPORTED_TRANSACTION: Final = "unreported-transaction"
REJECT_UNEXPECTED_REPORTS: Final = "unexpected-reports"
REJECT_LOCKED_OUTPOINT: Final = "locked-outpoint"
REJECT_BAD_REPORTS_HASH: Final = "bad-reports-hash"
REJECT_BAD_REPORT_SELECTION: Final = "bad-report-selection"
REJECT_UNUSED_REPORT_ENTRY: Final = "unused-report-entry"

BODY_MISMATCH_CODES: Final = frozenset(
    {
        REJECT_BAD_TX_ROOT,
        REJECT_BAD_WITNESS_ROOT,
        REJECT_BAD_CERTIFICATE_HASH,
        REJECT_BAD_EVIDENCE_HASH,
        REJECT_BAD_ATTESTATIONS_HASH,
        REJECT_BAD_REPORTS_HASH,
    }
)
"""Codes meaning "this body is not the body of this header" (see the module doc)."""

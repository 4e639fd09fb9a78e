"""Reject codes of the registry rules.

Like the ledger's codes (`timecoin.ledger.errors`), each is short, stable and
kebab-case, and never changes meaning. The registry also raises the ledger's
`owner-signature`, `bad-owner-signature`, `bad-payload`, `bad-collateral`
and `bad-genesis` where the rule is the same. docs/spec/masternode.md lists
the rule behind each code.
"""

from __future__ import annotations

from typing import Final

REJECT_UNKNOWN_MASTERNODE: Final = "unknown-masternode"
REJECT_DEREGISTERED_MASTERNODE: Final = "deregistered-masternode"
REJECT_DUPLICATE_MASTERNODE: Final = "duplicate-masternode"
REJECT_DUPLICATE_OWNER_KEY: Final = "duplicate-owner-key"
REJECT_DUPLICATE_OPERATOR_KEY: Final = "duplicate-operator-key"

# Heartbeats and attestations (timecoin.masternode.heartbeat). A single
# heartbeat's check raises InvalidVote; the block rule raises InvalidBlock
# with the same code.
REJECT_HEARTBEAT_UNKNOWN_MASTERNODE: Final = "heartbeat-unknown-masternode"
REJECT_HEARTBEAT_INACTIVE_MASTERNODE: Final = "heartbeat-inactive-masternode"
REJECT_DUPLICATE_HEARTBEAT: Final = "duplicate-heartbeat"
REJECT_STALE_HEARTBEAT: Final = "stale-heartbeat"
REJECT_BAD_HEARTBEAT_SIGNATURE: Final = "bad-heartbeat-signature"
REJECT_UNEXPECTED_WITNESS: Final = "unexpected-witness"
REJECT_UNORDERED_ATTESTATIONS: Final = "unordered-attestations"
REJECT_TOO_FEW_ATTESTATIONS: Final = "too-few-attestations"
REJECT_BAD_ATTESTATION_SIGNATURE: Final = "bad-attestation-signature"
REJECT_UNORDERED_HEARTBEATS: Final = "unordered-heartbeats"

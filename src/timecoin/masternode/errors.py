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

"""Reject codes of the ledger rules.

Each rule that can fail has one short, stable, kebab-case code. The codes are
part of the node's external interface (RPC and peer reject messages), so a
code never changes meaning; docs/spec/ledger.md lists the rule behind each.
The exceptions themselves are `InvalidTransaction` and `InvalidBlock` from
`timecoin.types.errors`.
"""

from __future__ import annotations

from typing import Final

# Stateless sanity (check_transaction).
REJECT_BAD_VERSION: Final = "bad-version"
REJECT_NO_INPUTS: Final = "no-inputs"
REJECT_NO_OUTPUTS: Final = "no-outputs"
REJECT_TOO_MANY_INPUTS: Final = "too-many-inputs"
REJECT_TOO_MANY_OUTPUTS: Final = "too-many-outputs"
REJECT_OVERSIZED: Final = "oversized"
REJECT_DUPLICATE_INPUT: Final = "duplicate-input"
REJECT_SIGNATURE_COUNT: Final = "signature-count"
REJECT_DUST_OUTPUT: Final = "dust-output"
REJECT_AMOUNT_OVERFLOW: Final = "amount-overflow"
REJECT_BAD_PAYLOAD: Final = "bad-payload"
REJECT_BAD_COLLATERAL: Final = "bad-collateral"
REJECT_OWNER_SIGNATURE: Final = "owner-signature"
REJECT_COINBASE_SIGNATURES: Final = "coinbase-signatures"
REJECT_COINBASE_OWNER_SIGNATURE: Final = "coinbase-owner-signature"
REJECT_COINBASE_PAYLOAD: Final = "coinbase-payload"

# Contextual validation (validate_transaction).
REJECT_COINBASE_STANDALONE: Final = "coinbase-standalone"
REJECT_LOCK_TIME: Final = "lock-time"
REJECT_MISSING_INPUT: Final = "missing-input"
REJECT_WRONG_KEY: Final = "wrong-key"
REJECT_INSUFFICIENT_FUNDS: Final = "insufficient-funds"
REJECT_FEE_TOO_LOW: Final = "fee-too-low"
REJECT_BAD_SIGNATURE: Final = "bad-signature"
REJECT_BAD_OWNER_SIGNATURE: Final = "bad-owner-signature"

# Blocks (connect_block, apply_block, undo_block).
REJECT_DOUBLE_SPEND: Final = "double-spend"
REJECT_COINBASE_POSITION: Final = "coinbase-position"
REJECT_COINBASE_LOCK_TIME: Final = "coinbase-lock-time"
REJECT_DUPLICATE_TXID: Final = "duplicate-txid"
REJECT_TOO_MANY_TRANSACTIONS: Final = "too-many-transactions"
REJECT_GENESIS_HEIGHT: Final = "genesis-height"
REJECT_BAD_UNDO: Final = "bad-undo"

# Genesis construction (timecoin.chain.genesis).
REJECT_BAD_GENESIS: Final = "bad-genesis"

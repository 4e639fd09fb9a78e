"""Transaction rules, UTXO views, and applying and undoing blocks.

Pure functions over `timecoin.types` objects: no I/O, no clock, no
randomness. docs/spec/ledger.md states every rule and reject code.
"""

from timecoin.ledger import errors
from timecoin.ledger.block import (
    BatchVerify,
    ConnectedBlock,
    apply_block,
    connect_block,
    undo_block,
)
from timecoin.ledger.signatures import (
    DEFAULT_SIGNATURE_CACHE_ENTRIES,
    SignatureCache,
    SignatureItem,
    compute_input_signing_message,
    compute_owner_signing_message,
    sign_transaction,
)
from timecoin.ledger.transaction import (
    check_registration,
    check_transaction,
    compute_min_fee,
    compute_tx_size,
    validate_transaction,
)
from timecoin.ledger.view import (
    CachedUtxoView,
    MemoryUtxoSet,
    UtxoDelta,
    UtxoView,
    compute_utxo_commitment,
    encode_utxo_element,
)

__all__ = [
    "DEFAULT_SIGNATURE_CACHE_ENTRIES",
    "BatchVerify",
    "CachedUtxoView",
    "ConnectedBlock",
    "MemoryUtxoSet",
    "SignatureCache",
    "SignatureItem",
    "UtxoDelta",
    "UtxoView",
    "apply_block",
    "check_registration",
    "check_transaction",
    "compute_input_signing_message",
    "compute_min_fee",
    "compute_owner_signing_message",
    "compute_tx_size",
    "compute_utxo_commitment",
    "connect_block",
    "encode_utxo_element",
    "errors",
    "sign_transaction",
    "undo_block",
    "validate_transaction",
]

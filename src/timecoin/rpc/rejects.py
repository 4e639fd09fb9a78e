"""The RPC error for a transaction the node refused (shared by every method that submits)."""

from __future__ import annotations

from timecoin.ledger.errors import REJECT_MISSING_INPUT
from timecoin.rpc.api import TransactionAlreadyInChainError
from timecoin.rpc.errors import (
    RPC_VERIFY_ALREADY_IN_CHAIN,
    RPC_VERIFY_ERROR,
    RPC_VERIFY_REJECTED,
    RpcError,
)
from timecoin.types import TimecoinError


def reject_error(exc: TimecoinError) -> RpcError:
    """-25 for missing inputs (bitcoind's "bad-txns-inputs-missingorspent"),
    -27 when already in a block, else -26; the message starts with the
    reject code."""
    if isinstance(exc, TransactionAlreadyInChainError):
        return RpcError(RPC_VERIFY_ALREADY_IN_CHAIN, f"Transaction already in block chain: {exc}")
    if exc.reject_code == REJECT_MISSING_INPUT:
        return RpcError(RPC_VERIFY_ERROR, str(exc))
    return RpcError(RPC_VERIFY_REJECTED, str(exc))

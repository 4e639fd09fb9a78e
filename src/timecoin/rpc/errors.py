"""JSON-RPC error codes (bitcoind's numbering) and the error handlers raise.

The codes are part of the external interface: integrators written against
bitcoind map them to the same conditions here. `docs/rpc.md` lists which
method raises which code.
"""

from __future__ import annotations

from typing import Final

# JSON-RPC 2.0 standard errors.
RPC_PARSE_ERROR: Final = -32700
RPC_INVALID_REQUEST: Final = -32600
RPC_METHOD_NOT_FOUND: Final = -32601
RPC_INVALID_PARAMS: Final = -32602
RPC_INTERNAL_ERROR: Final = -32603

# bitcoind's application errors (src/rpc/protocol.h).
RPC_MISC_ERROR: Final = -1
RPC_TYPE_ERROR: Final = -3
RPC_WALLET_ERROR: Final = -4
RPC_INVALID_ADDRESS_OR_KEY: Final = -5
RPC_WALLET_INSUFFICIENT_FUNDS: Final = -6
RPC_INVALID_PARAMETER: Final = -8
RPC_WALLET_NOT_FOUND: Final = -18
RPC_DATABASE_ERROR: Final = -20
RPC_DESERIALIZATION_ERROR: Final = -22
RPC_CLIENT_NODE_ALREADY_ADDED: Final = -23
RPC_CLIENT_NODE_NOT_ADDED: Final = -24
RPC_VERIFY_ERROR: Final = -25
RPC_VERIFY_REJECTED: Final = -26
RPC_VERIFY_ALREADY_IN_CHAIN: Final = -27
RPC_IN_WARMUP: Final = -28


class RpcError(Exception):
    """An error reply: a JSON-RPC error code and a message for the caller."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def to_json(self) -> dict[str, object]:
        """The reply's `error` member."""
        return {"code": self.code, "message": self.message}

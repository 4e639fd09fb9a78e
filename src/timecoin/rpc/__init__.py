"""JSON-RPC over HTTP, bitcoind-compatible, over a `NodeApi` (not the node).

- `api`: the `NodeApi` protocol the node implements, its records and errors;
- `server`: `RpcServer` and `RpcConfig` (aiohttp, auth, cookie file);
- `dispatch`: JSON-RPC 1.0/2.0 replies and batches;
- `handlers`: the methods; `arguments`: parameter conversion;
- `jsonshape`: TimeCoin types as bitcoind-shaped JSON;
- `client`: the small synchronous client used by `timecoin rpc`.

This module imports neither aiohttp nor the server, so the client stays
light: import `timecoin.rpc.server` to serve. docs/rpc.md documents the
methods.
"""

from timecoin.rpc.api import (
    AddNodeCommand,
    ChainState,
    ConsensusInfo,
    ConsensusStep,
    InvalidPeerAddressError,
    LocalMasternode,
    MempoolEntry,
    MempoolInfo,
    NetworkInfo,
    NodeApi,
    NodeApiError,
    PeerAlreadyAddedError,
    PeerInfo,
    PeerNotAddedError,
    TransactionAlreadyInChainError,
    TransactionLookup,
    UtxoLookup,
    UtxoSetInfo,
    WalletBalance,
    WalletCoin,
    WalletUnavailableError,
    WarmingUpError,
)
from timecoin.rpc.errors import RpcError

__all__ = [
    "AddNodeCommand",
    "ChainState",
    "ConsensusInfo",
    "ConsensusStep",
    "InvalidPeerAddressError",
    "LocalMasternode",
    "MempoolEntry",
    "MempoolInfo",
    "NetworkInfo",
    "NodeApi",
    "NodeApiError",
    "PeerAlreadyAddedError",
    "PeerInfo",
    "PeerNotAddedError",
    "RpcError",
    "TransactionAlreadyInChainError",
    "TransactionLookup",
    "UtxoLookup",
    "UtxoSetInfo",
    "WalletBalance",
    "WalletCoin",
    "WalletUnavailableError",
    "WarmingUpError",
]

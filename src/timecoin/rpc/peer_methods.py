"""RPC methods over the peer bans and connections (bitcoind's names):
`setban`, `listbanned`, `clearbanned`, `disconnectnode`. Bans are stored and
survive a restart. Also `rescanblockchain`, which reads stored blocks again
for the wallet's coins (the wallet follows the chain without it).

`PEER_METHODS` is merged into `timecoin.rpc.handlers.METHODS`.
"""

from __future__ import annotations

import time
from typing import Any, Final

from timecoin.rpc.api import NodeApi
from timecoin.rpc.arguments import Method, Param, int_in_range, to_bool, to_int, to_str
from timecoin.rpc.errors import RPC_INVALID_PARAMETER, RpcError

RPC_CLIENT_NODE_NOT_BANNED: Final = -30
RPC_CLIENT_NODE_NOT_CONNECTED: Final = -29
MAX_BAN_SECONDS: Final = 10 * 365 * 86_400
MAX_HEIGHT: Final = 2**63 - 1


async def setban(api: NodeApi, target: str, command: str, bantime: int, absolute: bool) -> object:
    """Ban ("add") an IP address or a node key (64 hex digits) for `bantime`
    seconds (0: the default), or until Unix time `bantime` when `absolute`;
    or lift its ban ("remove")."""
    if command not in ("add", "remove"):
        raise RpcError(RPC_INVALID_PARAMETER, "command must be add or remove")
    if not 0 <= bantime <= (2**40 if absolute else MAX_BAN_SECONDS):
        raise RpcError(RPC_INVALID_PARAMETER, f"bantime out of range: {bantime}")
    until_s: float | None = None
    if bantime:
        until_s = float(bantime) if absolute else time.time() + bantime
    lifted = await api.set_ban(target, command == "add", until_s)
    if command == "remove" and not lifted:
        raise RpcError(
            RPC_CLIENT_NODE_NOT_BANNED,
            "Error: Unban failed. Requested address/subnet was not previously manually banned.",
        )
    return None


async def listbanned(api: NodeApi) -> object:
    """The banned IP addresses and node keys, soonest expiry first."""
    now = int(time.time())
    return [
        {
            "address": ban.target,
            "node_key": ban.is_node_key,
            "banned_until": ban.banned_until_s,
            "time_remaining": max(0, ban.banned_until_s - now),
            "ban_reason": ban.reason,
        }
        for ban in api.list_banned()
    ]


async def disconnectnode(api: NodeApi, address: str) -> object:
    """Close the connections with the peer "host:port" (it may connect or be
    dialed again; `setban` keeps it away)."""
    if not await api.disconnect_node(address):
        raise RpcError(RPC_CLIENT_NODE_NOT_CONNECTED, "Node not found in connected nodes")
    return None


async def rescanblockchain(api: NodeApi, start_height: int, stop_height: int) -> object:
    """Read the blocks from `start_height` to `stop_height` (-1: the tip)
    again for coins of the node's wallet (recovery; a wallet restored from
    its seed). Never needed at start-up: the wallet follows the chain."""
    tip = (await api.get_chain_state()).tip_header.height
    stop = None if stop_height < 0 else stop_height
    if start_height > tip or (stop is not None and not start_height <= stop <= tip):
        raise RpcError(RPC_INVALID_PARAMETER, "Invalid start_height or stop_height")
    start, end = await api.wallet_rescan(start_height, stop)
    return {"start_height": start, "stop_height": end}


async def clearbanned(api: NodeApi) -> object:
    """Lift every ban."""
    await api.clear_banned()
    return None


def _method(handler: Any, *params: Param) -> Method:
    summary = " ".join((handler.__doc__ or "").split())
    return Method(handler.__name__, handler, params, "Network", summary)


PEER_METHODS: Final[tuple[Method, ...]] = (
    _method(
        setban,
        Param("subnet", to_str, is_text=True, help="an IP address or a node key (64 hex)"),
        Param("command", to_str, is_text=True, help="add or remove"),
        Param("bantime", to_int, 0, help="seconds (0: the default), or a Unix time"),
        Param("absolute", to_bool, False, help="bantime is a Unix time"),
    ),
    _method(listbanned),
    _method(clearbanned),
    _method(disconnectnode, Param("address", to_str, is_text=True, help='"host:port"')),
    Method(
        "rescanblockchain",
        rescanblockchain,
        (
            Param("start_height", int_in_range(0, MAX_HEIGHT), 0, help="first height"),
            Param("stop_height", int_in_range(-1, MAX_HEIGHT), -1, help="last height (-1: tip)"),
        ),
        "Wallet",
        " ".join((rescanblockchain.__doc__ or "").split()),
    ),
)

"""RPC methods over the block indexes: `getindexinfo` (bitcoind's),
`getspentinfo`, `getaddresstxids` and `getaddressdeltas` (the names of
bitcoind's address-index fork, which explorers already speak).

`INDEX_METHODS` is merged into `timecoin.rpc.handlers.METHODS`.
"""

from __future__ import annotations

from typing import Any, Final

from timecoin.crypto import encode_address
from timecoin.rpc.api import NodeApi
from timecoin.rpc.arguments import Method, Param, int_in_range, parse_address, to_hash, to_str
from timecoin.rpc.errors import RPC_INVALID_ADDRESS_OR_KEY, RpcError
from timecoin.rpc.jsonshape import amount_json
from timecoin.storage.indexes import FUNDING, MAX_ADDRESS_EVENTS, AddressEvent
from timecoin.types import OutPoint

MAX_OUTPUT_INDEX: Final = 2**32 - 1
MAX_HEIGHT: Final = 2**63 - 1


async def getindexinfo(api: NodeApi, index_name: str) -> object:
    """The indexes this node keeps: whether each is synced and its best height."""
    states = await api.get_index_info()
    tip = (await api.get_chain_state()).tip_header.height
    return {
        state.name: {"synced": state.height == tip, "best_block_height": state.height}
        for state in states
        if state.enabled and (not index_name or state.name == index_name)
    }


async def getspentinfo(api: NodeApi, txid: bytes, index: int) -> object:
    """The block transaction that spent output `index` of `txid` (spent index)."""
    spender = await api.get_spender(OutPoint(txid, index))
    if spender is None:
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Unable to get spent info")
    return {"txid": spender.txid.hex(), "index": spender.input_index, "height": spender.height}


def _event_json(api: NodeApi, address: bytes, event: AddressEvent) -> dict[str, Any]:
    units = event.amount if event.kind == FUNDING else -event.amount
    entry: dict[str, Any] = {
        "address": encode_address(api.params.address_hrp, address),
        "txid": event.txid.hex(),
        "index": event.index,
        "height": event.height,
        "blockindex": event.position,
        "satoshis": units,
        "value": amount_json(event.amount) if event.kind == FUNDING else None,
    }
    if event.spent is not None:
        entry["prevtxid"] = event.spent.txid.hex()
        entry["prevout"] = event.spent.index
    if entry["value"] is None:
        del entry["value"]
    return entry


async def getaddressdeltas(api: NodeApi, address: str, start: int, count: int) -> object:
    """Every credit and debit of `address` from height `start`, in chain
    order, at most `count` (address index; units in `satoshis`)."""
    raw = parse_address(address, api.params)
    events = await api.get_address_events(raw, start, count)
    return [_event_json(api, raw, event) for event in events]


async def getaddresstxids(api: NodeApi, address: str, start: int, count: int) -> object:
    """The txids that credit or debit `address` from height `start`, in chain
    order, each once (address index; scans at most `count` entries)."""
    raw = parse_address(address, api.params)
    events = await api.get_address_events(raw, start, count)
    return list(dict.fromkeys(event.txid.hex() for event in events))


def _method(handler: Any, *params: Param) -> Method:
    summary = " ".join((handler.__doc__ or "").split())
    return Method(handler.__name__, handler, params, "Blockchain", summary)


_ADDRESS = Param("address", to_str, is_text=True, help="a TimeCoin address")
_START = Param("start", int_in_range(0, MAX_HEIGHT), 0, help="first height")
_COUNT = Param(
    "count", int_in_range(1, MAX_ADDRESS_EVENTS), MAX_ADDRESS_EVENTS, help="most entries"
)

INDEX_METHODS: Final[tuple[Method, ...]] = (
    _method(
        getindexinfo,
        Param("index_name", to_str, "", is_text=True, help="only this index"),
    ),
    _method(
        getspentinfo,
        Param("txid", to_hash, is_text=True, help="transaction id, 64 hex digits"),
        Param("index", int_in_range(0, MAX_OUTPUT_INDEX), help="output index"),
    ),
    _method(getaddresstxids, _ADDRESS, _START, _COUNT),
    _method(getaddressdeltas, _ADDRESS, _START, _COUNT),
)

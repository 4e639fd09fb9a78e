"""bitcoind's raw-transaction and fee methods: createrawtransaction,
fundrawtransaction, signrawtransactionwithwallet, sendmany (the same three
steps and a submission), estimatesmartfee, getmempoolentry, getchaintips.

A TimeCoin input names its public key (the txid covers it) and carries a
signature apart (docs/spec/ledger.md). `createrawtransaction` leaves the
key empty (32 zero bytes); `fundrawtransaction` and
`signrawtransactionwithwallet` fill in the wallet's keys. docs/rpc.md
documents each method and how it differs from bitcoind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from timecoin.encoding import encode
from timecoin.params import MAX_MONEY
from timecoin.rpc.api import MempoolEntry, NodeApiError
from timecoin.rpc.arguments import (
    Method,
    Param,
    decode_transaction,
    int_in_range,
    parse_address,
    to_amount_units,
    to_bool,
    to_fee_rate_units,
    to_hash,
    to_str,
)
from timecoin.rpc.errors import (
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_TYPE_ERROR,
    RPC_WALLET_ERROR,
    RpcError,
)
from timecoin.rpc.jsonshape import JsonObject, amount_json, mempool_entry_json
from timecoin.rpc.rejects import reject_error
from timecoin.rpc.wallet_api import WalletNodeApi
from timecoin.types import (
    TX_VERSION,
    OutPoint,
    TimecoinError,
    Transaction,
    TxInput,
    TxOutput,
    compute_txid,
)
from timecoin.wallet.wallet import PLACEHOLDER_PUBLIC_KEY

MAX_LOCK_TIME: Final = 2**63 - 1
MAX_RAW_INPUTS: Final = 10_000
MAX_RAW_OUTPUTS: Final = 10_000
MIN_CONF_TARGET: Final = 1
MAX_CONF_TARGET: Final = 1_008
ESTIMATE_MODES: Final = ("unset", "economical", "conservative")
SIGHASH_TYPES: Final = ("DEFAULT", "ALL")
POOL_FULL_PERCENT: Final = 90
"""From this share of its memory on, the pool is full enough that fees compete."""
FEE_RATE_DECIMALS: Final = 3
"""`fee_rate` is in base units per byte with up to 3 decimals (bitcoind: sat/vB)."""


def to_fee_rate_per_byte(value: object, name: str) -> int:
    """A fee rate in base units per byte (bitcoind's sat/vB), as units per kB."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise RpcError(RPC_TYPE_ERROR, f"{name}: expected a number")
    try:
        rate = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise RpcError(RPC_TYPE_ERROR, f"{name}: invalid number") from None
    if not rate.is_finite() or rate < 0:
        raise RpcError(RPC_INVALID_PARAMETER, f"{name}: must be a number 0 or more")
    per_kb = rate * 1000
    if per_kb != per_kb.to_integral_value():
        raise RpcError(RPC_INVALID_PARAMETER, f"{name}: at most {FEE_RATE_DECIMALS} decimals")
    if per_kb > MAX_MONEY:
        raise RpcError(RPC_INVALID_PARAMETER, f"{name}: out of range")
    return int(per_kb)


# ---------------------------------------------------------------- createrawtransaction


def _to_inputs(value: object, name: str) -> list[OutPoint]:
    if not isinstance(value, list):
        raise RpcError(RPC_TYPE_ERROR, f"{name}: expected an array of objects")
    if len(value) > MAX_RAW_INPUTS:
        raise RpcError(RPC_INVALID_PARAMETER, f"{name}: at most {MAX_RAW_INPUTS} inputs")
    result: list[OutPoint] = []
    for item in value:
        if not isinstance(item, dict):
            raise RpcError(RPC_TYPE_ERROR, f"{name}: expected an array of objects")
        txid = to_hash(item.get("txid"), "txid")
        vout = item.get("vout")
        if vout is None:
            raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, missing vout key")
        if isinstance(vout, bool) or not isinstance(vout, int):
            raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, vout must be a number")
        if vout < 0:
            raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, vout cannot be negative")
        if vout > 0xFFFF_FFFF:
            raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, vout out of range")
        result.append(OutPoint(txid, vout))
    if len(set(result)) != len(result):
        raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, duplicated input")
    return result


def _to_outputs(value: object, name: str) -> list[tuple[str, Any]]:
    """bitcoind's outputs: an object {address: amount} or an array of one-key objects."""
    pairs: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list):
        for item in value:
            if not isinstance(item, dict):
                raise RpcError(RPC_TYPE_ERROR, f"{name}: expected objects of address: amount")
            pairs.extend(item.items())
    else:
        raise RpcError(RPC_TYPE_ERROR, f"{name}: expected an object or an array")
    if not pairs:
        raise RpcError(RPC_INVALID_PARAMETER, "Invalid parameter, output argument must be non-null")
    if len(pairs) > MAX_RAW_OUTPUTS:
        raise RpcError(RPC_INVALID_PARAMETER, f"{name}: at most {MAX_RAW_OUTPUTS} outputs")
    seen: set[str] = set()
    for address, _ in pairs:
        if address == "data":
            raise RpcError(
                RPC_INVALID_PARAMETER, "Invalid parameter, data outputs are not supported"
            )
        if address in seen:
            raise RpcError(
                RPC_INVALID_PARAMETER, f"Invalid parameter, duplicated address: {address}"
            )
        seen.add(address)
    return pairs


def _build_outputs(api: WalletNodeApi, pairs: list[tuple[str, Any]]) -> list[TxOutput]:
    params = api.params
    return [
        TxOutput(to_amount_units(amount, "amount"), parse_address(address, params))
        for address, amount in pairs
    ]


async def createrawtransaction(
    api: WalletNodeApi,
    inputs: list[OutPoint],
    outputs: list[tuple[str, Any]],
    locktime: int,
    replaceable: bool,
) -> object:
    """An unsigned transaction spending `inputs` and paying `outputs`, as hex."""
    tx = Transaction(
        version=TX_VERSION,
        inputs=[TxInput(outpoint, PLACEHOLDER_PUBLIC_KEY) for outpoint in inputs],
        outputs=_build_outputs(api, outputs),
        lock_time=locktime,
        payload=None,
        signatures=[],
        owner_signature=None,
    )
    return encode(tx).hex()


# ---------------------------------------------------------------- fund and sign

_FUND_OPTIONS: Final = frozenset(
    {"feeRate", "fee_rate", "changePosition", "lockUnspents", "subtractFeeFromOutputs"}
)


def _to_options(value: object, name: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise RpcError(RPC_TYPE_ERROR, f"{name}: expected an object")
    unknown = sorted(set(value) - _FUND_OPTIONS)
    if unknown:
        raise RpcError(RPC_INVALID_PARAMETER, f"Invalid parameter, unknown option: {unknown[0]}")
    return dict(value)


def _fee_per_kb(options: Mapping[str, object]) -> int:
    if "feeRate" in options and "fee_rate" in options:
        raise RpcError(
            RPC_INVALID_PARAMETER, "Cannot specify both fee_rate (unit/B) and feeRate (TIME/kB)"
        )
    if options.get("feeRate") is not None:
        return to_fee_rate_units(options["feeRate"], "feeRate")
    if options.get("fee_rate") is not None:
        return to_fee_rate_per_byte(options["fee_rate"], "fee_rate")
    return 0


async def fundrawtransaction(
    api: WalletNodeApi, hexstring: str, options: dict[str, object], iswitness: bool | None
) -> object:
    """Add inputs from the wallet and a change output (last) to a transaction
    without inputs; its hex, the fee and the change position (-1: none)."""
    tx, _ = decode_transaction(hexstring, api.params)
    if tx.inputs:
        raise RpcError(
            RPC_INVALID_PARAMETER,
            "Funding a transaction that already has inputs is not supported",
        )
    if options.get("subtractFeeFromOutputs"):
        raise RpcError(RPC_INVALID_PARAMETER, "subtractFeeFromOutputs is not supported")
    position = options.get("changePosition", -1)
    if position not in (-1, len(tx.outputs)) or isinstance(position, bool):
        raise RpcError(
            RPC_INVALID_PARAMETER, "changePosition: the change output can only go last (-1)"
        )
    funded = await api.wallet_fund(tx.outputs, _fee_per_kb(options), tx.lock_time)
    return {
        "hex": encode(funded.tx).hex(),
        "fee": amount_json(funded.fee_units),
        "changepos": funded.change_index,
    }


async def signrawtransactionwithwallet(
    api: WalletNodeApi, hexstring: str, prevtxs: list[object] | None, sighashtype: str
) -> object:
    """Sign the inputs of a transaction that spend the wallet's coins; its hex,
    whether it is complete, and an error per input left unsigned."""
    if sighashtype not in SIGHASH_TYPES:
        raise RpcError(RPC_INVALID_PARAMETER, f"Invalid sighash param: {sighashtype[:20]}")
    if prevtxs:
        raise RpcError(
            RPC_INVALID_PARAMETER, "prevtxs is not supported: the wallet signs its own coins"
        )
    tx, _ = decode_transaction(hexstring, api.params)
    outcome = await api.wallet_sign(tx)
    result: JsonObject = {"hex": encode(outcome.tx).hex(), "complete": outcome.is_complete}
    if outcome.errors:
        result["errors"] = [
            {
                "txid": tx.inputs[index].prevout.txid.hex(),
                "vout": tx.inputs[index].prevout.index,
                "witness": [],
                "scriptSig": "",
                "sequence": 0xFFFF_FFFF,
                "error": message,
            }
            for index, message in outcome.errors
        ]
    return result


async def sendmany(
    api: WalletNodeApi,
    dummy: str,
    amounts: list[tuple[str, Any]],
    minconf: int,
    comment: str,
    subtractfeefrom: list[object] | None,
    replaceable: bool,
    conf_target: int | None,
    estimate_mode: str,
    fee_rate_per_kb: int,
    verbose: bool,
) -> object:
    """Pay several addresses in one transaction from the wallet; its txid.
    `fee_rate` is in base units per byte (bitcoind's sat/vB)."""
    if dummy != "":
        raise RpcError(RPC_INVALID_PARAMETER, 'Dummy value must be set to ""')
    if subtractfeefrom:
        raise RpcError(RPC_INVALID_PARAMETER, "subtractfeefrom is not supported")
    funded = await api.wallet_fund(_build_outputs(api, amounts), fee_rate_per_kb, 0)
    outcome = await api.wallet_sign(funded.tx)
    if not outcome.is_complete:
        raise RpcError(RPC_WALLET_ERROR, "Signing the wallet's own inputs failed")
    try:
        txid = await api.submit_transaction(outcome.tx)
    except TimecoinError as exc:
        # Refused: nothing can spend these coins but this wallet, so they are free again.
        with contextlib.suppress(NodeApiError):
            await api.wallet_abandon(compute_txid(outcome.tx))
        raise reject_error(exc) from None
    if verbose:
        return {"txid": txid.hex(), "fee_reason": "Fallback fee"}
    return txid.hex()


def _to_amounts(value: object, name: str) -> list[tuple[str, Any]]:
    if not isinstance(value, dict):
        raise RpcError(RPC_TYPE_ERROR, f"{name}: expected an object of address: amount")
    return _to_outputs(value, name)


def _to_address_array(value: object, name: str) -> list[object]:
    if not isinstance(value, list):
        raise RpcError(RPC_TYPE_ERROR, f"{name}: expected an array of addresses")
    return value


def _to_prevtxs(value: object, name: str) -> list[object]:
    if not isinstance(value, list):
        raise RpcError(RPC_TYPE_ERROR, f"{name}: expected an array")
    return value


def _to_iswitness(value: object, name: str) -> bool:
    return to_bool(value, name)


# ---------------------------------------------------------------- fees and mempool


def compute_smart_fee_per_kb(
    entries: Sequence[MempoolEntry], admission_per_kb: int, usage_bytes: int, max_bytes: int
) -> int:
    """The fee rate (units per 1000 bytes) a transaction needs to enter the
    pool now: `admission_per_kb`, or, once the pool is POOL_FULL_PERCENT full,
    one unit above the cheapest transaction it could evict (one not final:
    a full pool evicts the lowest fee rate to admit a better one)."""
    if usage_bytes * 100 < max_bytes * POOL_FULL_PERCENT:
        return admission_per_kb
    rates = [e.fee_units * 1000 // max(e.size_bytes, 1) for e in entries if not e.is_final]
    if not rates:
        return admission_per_kb
    return max(admission_per_kb, min(rates) + 1)


async def estimatesmartfee(api: WalletNodeApi, conf_target: int, estimate_mode: str) -> object:
    """The fee rate (TIME/kB) a transaction needs to enter the mempool now;
    finality does not wait for blocks, so every `conf_target` gets the same
    rate (docs/rpc.md)."""
    if estimate_mode.lower() not in ESTIMATE_MODES:
        raise RpcError(
            RPC_INVALID_PARAMETER,
            'Invalid estimate_mode parameter, must be one of: "unset", "economical", '
            '"conservative"',
        )
    info = await api.get_mempool_info()
    rate = compute_smart_fee_per_kb(
        await api.get_mempool_entries(),
        max(info.min_fee_per_kb_units, info.min_relay_fee_per_kb_units),
        info.usage_bytes,
        info.max_bytes,
    )
    return {"feerate": amount_json(rate), "blocks": conf_target}


async def getmempoolentry(api: WalletNodeApi, txid: bytes) -> object:
    """One pooled transaction: size, time, fee, dependencies, finality."""
    for entry in await api.get_mempool_entries():
        if entry.txid == txid:
            return mempool_entry_json(entry)
    raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Transaction not in mempool")


async def getchaintips(api: WalletNodeApi) -> object:
    """The active tip: a committed block is final, so there are no other branches."""
    state = await api.get_chain_state()
    return [
        {
            "height": state.tip_height,
            "hash": state.tip_hash.hex(),
            "branchlen": 0,
            "status": "active",
        }
    ]


# ---------------------------------------------------------------- the table

_HEXTX = Param("hexstring", to_str, is_text=True, help="the encoded transaction in hex")


def _method(category: str, handler: Any, *params: Param) -> Method:
    summary = " ".join((handler.__doc__ or "").split())
    return Method(handler.__name__, handler, params, category, summary)


RAWTX_METHODS: Final[tuple[Method, ...]] = (
    _method(
        "Rawtransactions",
        createrawtransaction,
        Param("inputs", _to_inputs, help='[{"txid": hex, "vout": n}, ...]'),
        Param("outputs", _to_outputs, help='{"address": amount, ...} or an array of them'),
        Param("locktime", int_in_range(0, MAX_LOCK_TIME), 0, help="lock time"),
        Param("replaceable", to_bool, False, help="accepted; nothing is replaceable"),
    ),
    _method(
        "Rawtransactions",
        fundrawtransaction,
        _HEXTX,
        Param("options", _to_options, {}, help="feeRate (TIME/kB) or fee_rate (unit/B)"),
        Param("iswitness", _to_iswitness, None, help="accepted, unused"),
    ),
    _method(
        "Rawtransactions",
        signrawtransactionwithwallet,
        _HEXTX,
        Param("prevtxs", _to_prevtxs, None, help="not supported (must be empty)"),
        Param("sighashtype", to_str, "DEFAULT", is_text=True, help="DEFAULT or ALL"),
    ),
    _method(
        "Wallet",
        sendmany,
        Param("dummy", to_str, is_text=True, help='must be ""'),
        Param("amounts", _to_amounts, help='{"address": amount, ...}'),
        Param("minconf", int_in_range(0, 9_999_999), 0, help="accepted"),
        Param("comment", to_str, "", is_text=True, help="accepted, not stored"),
        Param("subtractfeefrom", _to_address_array, None, help="not supported (empty)"),
        Param("replaceable", to_bool, False, help="accepted; nothing is replaceable"),
        Param("conf_target", int_in_range(1, MAX_CONF_TARGET), None, help="accepted"),
        Param("estimate_mode", to_str, "unset", is_text=True, help="accepted"),
        Param("fee_rate", to_fee_rate_per_byte, 0, help="base units per byte (sat/vB)"),
        Param("verbose", to_bool, False, help="an object with the txid"),
    ),
    _method(
        "Util",
        estimatesmartfee,
        Param(
            "conf_target",
            int_in_range(MIN_CONF_TARGET, MAX_CONF_TARGET),
            help="blocks, 1 to 1008",
        ),
        Param("estimate_mode", to_str, "economical", is_text=True, help="accepted"),
    ),
    _method(
        "Blockchain",
        getmempoolentry,
        Param("txid", to_hash, is_text=True, help="transaction id, 64 hex digits"),
    ),
    _method("Blockchain", getchaintips),
)
"""The raw-transaction and fee methods, merged into the method table by `handlers`."""

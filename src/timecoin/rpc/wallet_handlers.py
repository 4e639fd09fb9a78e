"""bitcoind's wallet history methods: gettransaction, listtransactions,
listsinceblock, getreceivedbyaddress, getwalletinfo, abandontransaction,
backupwallet.

Each handler takes a `WalletNodeApi`. Entries follow bitcoind's shapes: a
transaction becomes one entry per output it pays to the wallet ("receive",
or "generate" for a coinbase) or, when the wallet spent its inputs, one
"send" entry per output to someone else (outputs back to the wallet are its
change and not listed; a transfer to itself lists both sides). Amounts of
sends are negative, and so is their fee. A transaction outside blocks has 0
confirmations; TimeCoin adds `final` (true once a finality proof is held:
it can no longer be reversed). docs/rpc.md documents each method.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from timecoin.crypto import address_from_public_key
from timecoin.encoding import encode
from timecoin.rpc.arguments import (
    Method,
    Param,
    int_in_range,
    parse_address,
    to_bool,
    to_hash,
    to_str,
)
from timecoin.rpc.errors import (
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_WALLET_ERROR,
    RpcError,
)
from timecoin.rpc.jsonshape import JsonObject, address_text, amount_json, seconds, tx_json
from timecoin.rpc.wallet_api import (
    NotAbandonableError,
    UnknownWalletTransactionError,
    WalletBackupError,
    WalletNodeApi,
    WalletTransaction,
)
from timecoin.types import Transaction, TxOutput

WALLET_VERSION: Final = 169_900
"""bitcoind's `walletversion` for current wallets (clients only check it exists)."""
WALLET_FORMAT: Final = "timecoin-keyfile"
MAX_LIST_COUNT: Final = 100_000
MAX_TARGET_CONFIRMATIONS: Final = 9_999_999
KEYPOOL_REPORTED_MAX: Final = 1_000


@dataclass(frozen=True, slots=True)
class _Entry:
    """One line of a wallet transaction: category, address, signed amount, vout."""

    category: str
    address: bytes
    amount_units: int
    vout: int


@dataclass(frozen=True, slots=True)
class _Analysis:
    """What a transaction means to the wallet."""

    entries: tuple[_Entry, ...]
    fee_units: int | None
    """Set (positive) when the wallet paid every input, so the fee is known."""
    is_send: bool
    net_units: int
    """bitcoind's `amount`: received, or minus what went to others."""


def _spent_amounts(
    tx: Transaction, addresses: frozenset[bytes], outputs_of: dict[bytes, list[TxOutput]]
) -> tuple[int, bool, bool]:
    """(total of the wallet's inputs, whether any input is the wallet's,
    whether every input is the wallet's with a known amount)."""
    debit = 0
    any_mine = False
    all_known = bool(tx.inputs)
    for txin in tx.inputs:
        if address_from_public_key(txin.public_key) not in addresses:
            all_known = False
            continue
        any_mine = True
        outputs = outputs_of.get(txin.prevout.txid)
        if outputs is None or txin.prevout.index >= len(outputs):
            all_known = False
            continue
        debit += outputs[txin.prevout.index].amount
    return debit, any_mine, all_known


def analyze(
    tx: Transaction, addresses: frozenset[bytes], outputs_of: dict[bytes, list[TxOutput]]
) -> _Analysis:
    """Split `tx` into wallet entries (see the module docstring).

    `outputs_of` maps txids to their outputs, for the amounts of spent
    coins; a spent coin it lacks leaves the fee unknown.
    """
    debit, is_send, all_known = _spent_amounts(tx, addresses, outputs_of)
    mine = [(index, out) for index, out in enumerate(tx.outputs) if out.address in addresses]
    if not is_send:
        category = "generate" if tx.is_coinbase else "receive"
        entries = tuple(_Entry(category, out.address, out.amount, i) for i, out in mine)
        return _Analysis(entries, None, False, sum(out.amount for _, out in mine))
    fee = debit - sum(out.amount for out in tx.outputs) if all_known else None
    others = [(i, out) for i, out in enumerate(tx.outputs) if out.address not in addresses]
    if others:
        sends = tuple(_Entry("send", out.address, -out.amount, i) for i, out in others)
        return _Analysis(sends, fee, True, -sum(out.amount for _, out in others))
    # Every output comes back to the wallet: a transfer to itself.
    sends = tuple(_Entry("send", out.address, -out.amount, i) for i, out in mine)
    receives = tuple(_Entry("receive", out.address, out.amount, i) for i, out in mine)
    return _Analysis(sends + receives, fee, True, 0)


async def _history(
    api: WalletNodeApi,
) -> tuple[list[WalletTransaction], frozenset[bytes], dict[bytes, list[TxOutput]], int]:
    transactions = await api.wallet_transactions()
    addresses = await api.wallet_addresses()
    outputs_of = {wtx.txid: list(wtx.tx.outputs) for wtx in transactions}
    tip_height = (await api.get_chain_state()).tip_height
    return transactions, addresses, outputs_of, tip_height


async def _complete_outputs(
    api: WalletNodeApi,
    transactions: Sequence[WalletTransaction],
    addresses: frozenset[bytes],
    outputs_of: dict[bytes, list[TxOutput]],
) -> None:
    """Look up the spent coins of the wallet's sends that its history lacks."""
    for wtx in transactions:
        for txin in wtx.tx.inputs:
            txid = txin.prevout.txid
            if txid in outputs_of or address_from_public_key(txin.public_key) not in addresses:
                continue
            found = await api.get_transaction(txid)
            if found is not None:
                outputs_of[txid] = list(found.tx.outputs)


def _confirmations(wtx: WalletTransaction, tip_height: int) -> int:
    return 0 if wtx.height is None else tip_height - wtx.height + 1


def _common_json(wtx: WalletTransaction, tip_height: int) -> JsonObject:
    """The fields every entry and gettransaction share."""
    result: JsonObject = {"confirmations": _confirmations(wtx, tip_height)}
    if wtx.tx.is_coinbase:
        result["generated"] = True
    if wtx.height is None:
        result["trusted"] = wtx.is_final
    else:
        assert wtx.block_hash is not None and wtx.block_time_ms is not None
        result["blockhash"] = wtx.block_hash.hex()
        result["blockheight"] = wtx.height
        result["blockindex"] = wtx.block_index
        result["blocktime"] = seconds(wtx.block_time_ms)
    txid = wtx.txid.hex()
    result.update(
        {
            "txid": txid,
            "wtxid": txid,
            "walletconflicts": [],
            "time": seconds(wtx.time_ms),
            "timereceived": seconds(wtx.time_ms),
            "bip125-replaceable": "no",
            "final": wtx.is_final,
        }
    )
    return result


def _entry_json(
    entry: _Entry, analysis: _Analysis, api: WalletNodeApi, *, with_abandoned: bool
) -> JsonObject:
    result: JsonObject = {
        "address": address_text(entry.address, api.params),
        "category": entry.category,
        "amount": amount_json(entry.amount_units),
        "label": "",
        "vout": entry.vout,
    }
    if entry.category == "send":
        if analysis.fee_units is not None:
            result["fee"] = amount_json(-analysis.fee_units)
        if with_abandoned:
            result["abandoned"] = False
    return result


def _list_entries(
    transactions: Sequence[WalletTransaction],
    addresses: frozenset[bytes],
    outputs_of: dict[bytes, list[TxOutput]],
    tip_height: int,
    api: WalletNodeApi,
) -> list[JsonObject]:
    """listtransactions-style entries of `transactions`, oldest first."""
    result: list[JsonObject] = []
    for wtx in transactions:
        analysis = analyze(wtx.tx, addresses, outputs_of)
        common = _common_json(wtx, tip_height)
        for entry in analysis.entries:
            item = _entry_json(entry, analysis, api, with_abandoned=True)
            item.update(common)
            result.append(item)
    return result


# ---------------------------------------------------------------- handlers


async def gettransaction(
    api: WalletNodeApi, txid: bytes, include_watchonly: bool, verbose: bool
) -> object:
    """A wallet transaction: net amount, fee, confirmations, block, details per output, hex."""
    transactions, addresses, outputs_of, tip_height = await _history(api)
    matches = [wtx for wtx in transactions if wtx.txid == txid]
    if not matches:
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Invalid or non-wallet transaction id")
    wtx = matches[0]
    await _complete_outputs(api, matches, addresses, outputs_of)
    analysis = analyze(wtx.tx, addresses, outputs_of)
    result: JsonObject = {"amount": amount_json(analysis.net_units)}
    if analysis.is_send and analysis.fee_units is not None:
        result["fee"] = amount_json(-analysis.fee_units)
    result.update(_common_json(wtx, tip_height))
    result["details"] = [
        _entry_json(entry, analysis, api, with_abandoned=True) for entry in analysis.entries
    ]
    result["hex"] = encode(wtx.tx).hex()
    if verbose:
        result["decoded"] = tx_json(wtx.tx, api.params)
    return result


def _check_label(label: str) -> None:
    if label not in ("*", ""):
        raise RpcError(
            RPC_WALLET_ERROR, 'Label not found: TimeCoin wallets keep no labels (use "*")'
        )


async def listtransactions(
    api: WalletNodeApi, label: str, count: int, skip: int, include_watchonly: bool
) -> object:
    """The most recent `count` wallet entries after skipping `skip`, oldest first."""
    _check_label(label)
    if count < 0:
        raise RpcError(RPC_INVALID_PARAMETER, "Negative count")
    if skip < 0:
        raise RpcError(RPC_INVALID_PARAMETER, "Negative from")
    transactions, addresses, outputs_of, tip_height = await _history(api)
    await _complete_outputs(api, transactions, addresses, outputs_of)
    entries = _list_entries(transactions, addresses, outputs_of, tip_height, api)
    end = max(0, len(entries) - skip)
    return entries[max(0, end - count) : end]


async def listsinceblock(
    api: WalletNodeApi,
    blockhash: str,
    target_confirmations: int,
    include_watchonly: bool,
    include_removed: bool,
    include_change: bool,
    label: str,
) -> object:
    """Wallet entries in blocks after `blockhash` (all when empty) and outside
    blocks; `lastblock` is the block `target_confirmations` deep."""
    _check_label(label)
    since_height = -1
    if blockhash:
        header = None
        if len(blockhash) == 64 and all(c in "0123456789abcdefABCDEF" for c in blockhash):
            block_hash = bytes.fromhex(blockhash)
            header = await api.get_header(block_hash)
            if header is not None and await api.get_block_hash(header.height) != block_hash:
                header = None  # off the active chain: everything since the fork
        if header is None:
            raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
        since_height = header.height
    transactions, addresses, outputs_of, tip_height = await _history(api)
    recent = [wtx for wtx in transactions if wtx.height is None or wtx.height > since_height]
    await _complete_outputs(api, recent, addresses, outputs_of)
    entries = _list_entries(recent, addresses, outputs_of, tip_height, api)
    last_height = max(0, tip_height + 1 - target_confirmations)
    last_hash = await api.get_block_hash(last_height)
    result: JsonObject = {"transactions": entries}
    if include_removed:
        result["removed"] = []
    result["lastblock"] = "" if last_hash is None else last_hash.hex()
    return result


async def getreceivedbyaddress(
    api: WalletNodeApi, address: str, minconf: int, include_immature_coinbase: bool
) -> object:
    """Total received by a wallet address in transactions with at least `minconf` confirmations."""
    payload = parse_address(address, api.params)
    transactions, addresses, _, tip_height = await _history(api)
    if payload not in addresses:
        raise RpcError(RPC_WALLET_ERROR, "Address not found in wallet")
    total = 0
    for wtx in transactions:
        if _confirmations(wtx, tip_height) < minconf:
            continue
        total += sum(out.amount for out in wtx.tx.outputs if out.address == payload)
    return amount_json(total)


async def getwalletinfo(api: WalletNodeApi) -> object:
    """The wallet's name, balances, transaction count and key pool."""
    info = await api.wallet_info()
    balance = await api.wallet_get_balance()
    transactions = await api.wallet_transactions()
    state = await api.get_chain_state()
    return {
        "walletname": info.name,
        "walletversion": WALLET_VERSION,
        "format": WALLET_FORMAT,
        "balance": amount_json(balance.spendable_units),
        "unconfirmed_balance": amount_json(0),
        "immature_balance": amount_json(0),
        "txcount": len(transactions),
        "keypoolsize": min(info.keys_left, KEYPOOL_REPORTED_MAX),
        "paytxfee": amount_json(0),
        "private_keys_enabled": True,
        "avoid_reuse": False,
        "scanning": False,
        "descriptors": False,
        "external_signer": False,
        "blank": False,
        "lastprocessedblock": {"hash": state.tip_hash.hex(), "height": state.tip_height},
        "fingerprint": info.fingerprint,
        "keycount": info.key_count,
        "lockedbalance": amount_json(balance.locked_units),
        "pendingtxids": [txid.hex() for txid in info.pending_txids],
        "historydepth": info.history_depth_blocks,
    }


async def getbalances(api: WalletNodeApi) -> object:
    """The wallet's balances in bitcoind's shape: `mine.trusted` is what it
    may spend (final or in a block), nothing is pending or immature."""
    balance = await api.wallet_get_balance()
    state = await api.get_chain_state()
    return {
        "mine": {
            "trusted": amount_json(balance.spendable_units),
            "untrusted_pending": amount_json(0),
            "immature": amount_json(0),
            "locked": amount_json(balance.locked_units),
        },
        "lastprocessedblock": {"hash": state.tip_hash.hex(), "height": state.tip_height},
    }


async def getaddressinfo(api: WalletNodeApi, address: str) -> object:
    """Whether the wallet owns `address`, and its script (the address payload)."""
    payload = parse_address(address, api.params)
    mine = payload in await api.wallet_addresses()
    return {
        "address": address_text(payload, api.params),
        "scriptPubKey": payload.hex(),
        "ismine": mine,
        "solvable": mine,
        "iswatchonly": False,
        "isscript": False,
        "iswitness": False,
        "ischange": False,
        "labels": [""] if mine else [],
    }


async def listreceivedbyaddress(
    api: WalletNodeApi,
    minconf: int,
    include_empty: bool,
    include_watchonly: bool,
    address_filter: str,
    include_immature_coinbase: bool,
) -> object:
    """Per wallet address: the total received in transactions with at least
    `minconf` confirmations, the fewest confirmations among them, and their txids."""
    wanted = parse_address(address_filter, api.params) if address_filter else None
    transactions, addresses, _, tip_height = await _history(api)
    received: dict[bytes, tuple[int, int, list[str]]] = {}
    for wtx in transactions:
        confirmations = _confirmations(wtx, tip_height)
        if confirmations < minconf:
            continue
        for out in wtx.tx.outputs:
            if out.address not in addresses:
                continue
            total, fewest, txids = received.get(out.address, (0, MAX_TARGET_CONFIRMATIONS, []))
            if wtx.txid.hex() not in txids:
                txids.append(wtx.txid.hex())
            received[out.address] = (total + out.amount, min(fewest, confirmations), txids)
    shown = sorted(addresses) if include_empty else sorted(received)
    return [
        {
            "address": address_text(address, api.params),
            "amount": amount_json(received.get(address, (0, 0, []))[0]),
            "confirmations": received.get(address, (0, 0, []))[1],
            "label": "",
            "txids": received.get(address, (0, 0, []))[2],
        }
        for address in shown
        if wanted is None or address == wanted
    ]


async def abandontransaction(api: WalletNodeApi, txid: bytes) -> object:
    """Release the coins of a signed transaction the network does not hold."""
    try:
        await api.wallet_abandon(txid)
    except UnknownWalletTransactionError:
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Invalid or non-wallet transaction id") from None
    except NotAbandonableError:
        raise RpcError(
            RPC_INVALID_ADDRESS_OR_KEY, "Transaction not eligible for abandonment"
        ) from None
    return None


async def backupwallet(api: WalletNodeApi, destination: str) -> object:
    """Copy the wallet's key file and journal to `destination` on the node's machine."""
    if not destination:
        raise RpcError(RPC_INVALID_PARAMETER, "destination must be a file path")
    try:
        await api.wallet_backup(destination)
    except WalletBackupError as exc:
        raise RpcError(RPC_WALLET_ERROR, f"Error: Wallet backup failed! {exc}") from None
    return None


# ---------------------------------------------------------------- the table

_TXID_HELP = "transaction id, 64 hex digits"


def _method(handler: Any, *params: Param) -> Method:
    summary = " ".join((handler.__doc__ or "").split())
    return Method(handler.__name__, handler, params, "Wallet", summary)


_TXID = Param("txid", to_hash, is_text=True, help=_TXID_HELP)

_WATCHONLY = Param("include_watchonly", to_bool, False, help="accepted; no watch-only keys")
_LABEL = Param("label", to_str, "*", is_text=True, help='"*" (the wallet keeps no labels)')

WALLET_METHODS: Final[tuple[Method, ...]] = (
    _method(
        gettransaction,
        _TXID,
        _WATCHONLY,
        Param("verbose", to_bool, False, help="add the decoded transaction"),
    ),
    _method(
        listtransactions,
        _LABEL,
        Param("count", int_in_range(-MAX_LIST_COUNT, MAX_LIST_COUNT), 10, help="entries"),
        Param("skip", int_in_range(-MAX_LIST_COUNT, MAX_LIST_COUNT), 0, help="newest to skip"),
        _WATCHONLY,
    ),
    _method(
        listsinceblock,
        Param("blockhash", to_str, "", is_text=True, help="list after this block"),
        Param(
            "target_confirmations",
            int_in_range(1, MAX_TARGET_CONFIRMATIONS),
            1,
            help="depth of lastblock",
        ),
        _WATCHONLY,
        Param("include_removed", to_bool, True, help="always empty: blocks are never reverted"),
        Param("include_change", to_bool, False, help="accepted; change is never listed"),
        _LABEL,
    ),
    _method(
        getreceivedbyaddress,
        Param("address", to_str, is_text=True, help="a wallet address"),
        Param("minconf", int_in_range(0, MAX_TARGET_CONFIRMATIONS), 1, help="least confirmations"),
        Param("include_immature_coinbase", to_bool, False, help="accepted; no maturity rule"),
    ),
    _method(getwalletinfo),
    _method(getbalances),
    _method(getaddressinfo, Param("address", to_str, is_text=True, help="any address")),
    _method(
        listreceivedbyaddress,
        Param("minconf", int_in_range(0, MAX_TARGET_CONFIRMATIONS), 1, help="least confirmations"),
        Param("include_empty", to_bool, False, help="list addresses that received nothing"),
        _WATCHONLY,
        Param("address_filter", to_str, "", is_text=True, help="only this address"),
        Param("include_immature_coinbase", to_bool, False, help="accepted; no maturity rule"),
    ),
    _method(abandontransaction, _TXID),
    _method(
        backupwallet,
        Param("destination", to_str, is_text=True, help="file path on the node's machine"),
    ),
)
"""The wallet history methods, merged into the method table by `handlers`."""

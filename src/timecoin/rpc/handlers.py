"""The RPC methods: bitcoind-compatible ones and TimeCoin's own.

Each handler is a coroutine taking the `NodeApi` and its converted
arguments and returning a JSON value (amounts as `msgspec.Raw`, see
`jsonshape`). `METHODS` maps names to `Method`s; `invoke` binds a request's
parameters, runs the handler and turns the node's typed errors into
`RpcError`s with bitcoind's codes. docs/rpc.md documents every method.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from timecoin.crypto import AddressError, decode_address
from timecoin.encoding import encode
from timecoin.params import COIN
from timecoin.rpc.api import (
    InvalidPeerAddressError,
    NodeApi,
    NodeApiError,
    PeerAlreadyAddedError,
    PeerNotAddedError,
    StoreDamagedError,
    TransactionFinality,
    TransactionLookup,
    WalletUnavailableError,
    WarmingUpError,
)
from timecoin.rpc.arguments import (
    Method,
    Param,
    bind_arguments,
    decode_transaction,
    int_in_range,
    parse_address,
    to_amount_units,
    to_bool,
    to_fee_rate_units,
    to_hash,
    to_int,
    to_str,
)
from timecoin.rpc.errors import (
    RPC_CLIENT_NODE_ALREADY_ADDED,
    RPC_CLIENT_NODE_NOT_ADDED,
    RPC_DATABASE_ERROR,
    RPC_IN_WARMUP,
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_METHOD_NOT_FOUND,
    RPC_MISC_ERROR,
    RPC_TYPE_ERROR,
    RPC_VERIFY_ERROR,
    RPC_WALLET_ERROR,
    RPC_WALLET_INSUFFICIENT_FUNDS,
    RPC_WALLET_NOT_FOUND,
    RpcError,
)
from timecoin.rpc.index_methods import INDEX_METHODS
from timecoin.rpc.jsonshape import (
    MEDIAN_TIME_SPAN,
    JsonObject,
    address_text,
    amount_json,
    block_json,
    blockchain_info_json,
    compute_median_time_ms,
    consensus_info_json,
    header_json,
    mempool_entry_json,
    mempool_info_json,
    network_info_json,
    peer_json,
    script_pubkey_json,
    seconds,
    tx_json,
    utxo_set_info_json,
)
from timecoin.rpc.masternode_handlers import MASTERNODE_METHODS
from timecoin.rpc.peer_methods import PEER_METHODS
from timecoin.rpc.proof_handlers import PROOF_METHODS
from timecoin.rpc.rawtx_handlers import RAWTX_METHODS, to_fee_rate_per_byte
from timecoin.rpc.rejects import reject_error
from timecoin.rpc.wallet_handlers import WALLET_METHODS
from timecoin.types import (
    BlockHeader,
    OutPoint,
    TimecoinError,
    Transaction,
    compute_txid,
)
from timecoin.wallet import InsufficientFundsError, WalletError

MAX_HEIGHT: Final = 2**63 - 1
MAX_OUTPUT_INDEX: Final = 0xFFFF_FFFF
MAX_CONFIRMATIONS: Final = 9_999_999
DEFAULT_MAX_FEE_RATE_UNITS_PER_KB: Final = COIN // 10
"""sendrawtransaction's default `maxfeerate`: 0.1 TIME per kB, as bitcoind's 0.10 BTC/kvB."""
MAX_LISTUNSPENT_ADDRESSES: Final = 1_000
MAX_WAIT_S: Final = 600
"""Longest wait `waittransactionfinality` and `sendtoaddress` accept, in seconds."""
MAX_HEARTBEAT_HISTORY: Final = 1_000
STOP_MESSAGE: Final = "TimeCoin server stopping"
HASH_TYPES: Final = ("muhash", "none")
ADDNODE_COMMANDS: Final = ("add", "remove", "onetry")


# ---------------------------------------------------------------- helpers


def _to_verbosity(value: object, name: str) -> int:
    """getblock's verbosity: 0, 1 or 2; true and false mean 1 and 0 (as bitcoind)."""
    if isinstance(value, bool):
        return int(value)
    return int_in_range(0, 2)(value, name)


def _to_verbose_flag(value: object, name: str) -> bool:
    """A verbose flag given as a bool or as 0/1 (getrawtransaction accepts both)."""
    if isinstance(value, bool):
        return value
    return bool(int_in_range(0, 1)(value, name))


def _to_hex_text(value: object, name: str) -> str:
    """A string expected to hold hex (its length is checked by the handler)."""
    if not isinstance(value, str):
        raise RpcError(RPC_TYPE_ERROR, f"{name}: expected a hex string")
    return value


def _to_address_list(value: object, name: str) -> list[str]:
    """A JSON array of address strings, without duplicates."""
    if not isinstance(value, list):
        raise RpcError(RPC_TYPE_ERROR, f"{name}: expected an array of addresses")
    if len(value) > MAX_LISTUNSPENT_ADDRESSES:
        raise RpcError(
            RPC_INVALID_PARAMETER, f"{name}: at most {MAX_LISTUNSPENT_ADDRESSES} addresses"
        )
    addresses = [to_str(item, name) for item in value]
    seen: set[str] = set()
    for address in addresses:
        if address in seen:
            raise RpcError(
                RPC_INVALID_PARAMETER, f"Invalid parameter, duplicated address: {address}"
            )
        seen.add(address)
    return addresses


def _decode_transaction(text: str, api: NodeApi) -> tuple[Transaction, int]:
    """The transaction in hex `text` and its size; -22 when it is not one."""
    return decode_transaction(text, api.params)


def _reject_error(exc: TimecoinError) -> RpcError:
    """The reply for a transaction the node refused (see `rejects.reject_error`)."""
    return reject_error(exc)


async def _median_time_ms(api: NodeApi, header: BlockHeader) -> int:
    """Median timestamp of `header`'s block and up to 10 ancestors."""
    timestamps = [header.timestamp_ms]
    current = header
    while len(timestamps) < MEDIAN_TIME_SPAN and current.height > 0:
        previous = await api.get_header(current.prev_hash)
        if previous is None:
            break
        timestamps.append(previous.timestamp_ms)
        current = previous
    return compute_median_time_ms(timestamps)


async def _chain_position(
    api: NodeApi, header: BlockHeader, block_hash: bytes
) -> tuple[int, bytes | None]:
    """(confirmations, next block hash) of a block: (-1, None) off the active chain."""
    if await api.get_block_hash(header.height) != block_hash:
        return -1, None
    state = await api.get_chain_state()
    next_hash = await api.get_block_hash(header.height + 1)
    return state.tip_height - header.height + 1, next_hash


def _confirmations(tip_height: int, coin_height: int, in_block: bool) -> int:
    return tip_height - coin_height + 1 if in_block else 0


# ---------------------------------------------------------------- blockchain


async def getblockchaininfo(api: NodeApi) -> object:
    """State of the chain: tip, headers, sync progress."""
    state = await api.get_chain_state()
    median = await _median_time_ms(api, state.tip_header)
    return blockchain_info_json(state, api.params, median)


async def getblockcount(api: NodeApi) -> object:
    """Height of the tip."""
    return (await api.get_chain_state()).tip_height


async def getbestblockhash(api: NodeApi) -> object:
    """Hash of the tip."""
    return (await api.get_chain_state()).tip_hash.hex()


async def getblockhash(api: NodeApi, height: int) -> object:
    """Hash of the active chain's block at `height` (-8 outside 0..tip)."""
    block_hash = await api.get_block_hash(height) if 0 <= height <= MAX_HEIGHT else None
    if block_hash is None:
        raise RpcError(RPC_INVALID_PARAMETER, "Block height out of range")
    return block_hash.hex()


async def verifychain(api: NodeApi, checklevel: int, nblocks: int) -> object:
    """Check the last `nblocks` blocks (0: all) as stored: each header and
    body against its hash, the height index and the links (every
    `checklevel` checks all of that); false when one is damaged, and the
    node then stops (docs/node.md, "Damage and repair")."""
    del checklevel  # accepted for bitcoind compatibility
    return await api.verify_chain(nblocks)


async def getblock(api: NodeApi, blockhash: bytes, verbosity: int) -> object:
    """A block: hex (0), object with txids (1), or with decoded transactions (2)."""
    block = await api.get_block(blockhash)
    if block is None:
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
    if verbosity == 0:
        return encode(block).hex()
    confirmations, next_hash = await _chain_position(api, block.header, blockhash)
    return block_json(
        block,
        blockhash,
        verbosity,
        api.params,
        confirmations=confirmations,
        median_time_ms=await _median_time_ms(api, block.header),
        next_hash=next_hash,
    )


async def getblockheader(api: NodeApi, blockhash: bytes, verbose: bool) -> object:
    """A header as an object, or its hex when `verbose` is false."""
    header = await api.get_header(blockhash)
    if header is None:
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Block not found")
    if not verbose:
        return encode(header).hex()
    confirmations, next_hash = await _chain_position(api, header, blockhash)
    return header_json(
        header,
        blockhash,
        confirmations=confirmations,
        median_time_ms=await _median_time_ms(api, header),
        next_hash=next_hash,
    )


async def gettxout(api: NodeApi, txid: bytes, n: int, include_mempool: bool) -> object:
    """An unspent output, or null when it is spent or never existed."""
    found = await api.get_coin(OutPoint(txid, n), include_mempool=include_mempool)
    if found is None:
        return None
    state = await api.get_chain_state()
    coin = found.coin
    return {
        "bestblock": state.tip_hash.hex(),
        "confirmations": _confirmations(state.tip_height, coin.height, found.in_block),
        "value": amount_json(coin.amount),
        "scriptPubKey": script_pubkey_json(coin.address, api.params),
    }


async def gettxoutsetinfo(api: NodeApi, hash_type: str) -> object:
    """Statistics of the UTXO set, with its MuHash3072 commitment."""
    if hash_type not in HASH_TYPES:
        raise RpcError(RPC_INVALID_PARAMETER, f"'{hash_type}' is not a valid hash_type")
    info = await api.get_utxo_set_info()
    return utxo_set_info_json(info, with_hash=hash_type == "muhash")


async def getmempoolinfo(api: NodeApi) -> object:
    """Size, fees and limits of the mempool."""
    return mempool_info_json(await api.get_mempool_info())


async def getrawmempool(api: NodeApi, verbose: bool) -> object:
    """Txids in the mempool, or an object of txid -> details when `verbose`."""
    entries = await api.get_mempool_entries()
    if not verbose:
        return [entry.txid.hex() for entry in entries]
    return {entry.txid.hex(): mempool_entry_json(entry) for entry in entries}


async def getconsensusinfo(api: NodeApi) -> object:
    """The block consensus state: height, round, step, epoch and voting set."""
    return consensus_info_json(await api.get_consensus_info())


# ---------------------------------------------------------------- raw transactions


async def getrawtransaction(
    api: NodeApi, txid: bytes, verbose: bool, blockhash: bytes | None
) -> object:
    """A transaction's hex, or a decoded object with its block when `verbose`."""
    if blockhash is not None:
        block = await api.get_block(blockhash)
        if block is None:
            raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "Block hash not found")
        matches = [tx for tx in block.transactions if compute_txid(tx) == txid]
        if not matches:
            raise RpcError(
                RPC_INVALID_ADDRESS_OR_KEY, "No such transaction found in the provided block"
            )
        lookup: TransactionLookup | None = TransactionLookup(matches[0], blockhash, True)
    else:
        lookup = await api.get_transaction(txid)
    if lookup is None:
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, "No such mempool or blockchain transaction")
    raw = encode(lookup.tx).hex()
    if not verbose:
        return raw
    result: JsonObject = {}
    if blockhash is not None:
        header = await api.get_header(blockhash)
        result["in_active_chain"] = header is not None and (
            await api.get_block_hash(header.height) == blockhash
        )
    result.update(tx_json(lookup.tx, api.params))
    result["hex"] = raw
    result["final"] = lookup.is_final
    if lookup.block_hash is not None:
        header = await api.get_header(lookup.block_hash)
        if header is not None:
            confirmations, _ = await _chain_position(api, header, lookup.block_hash)
            result["blockhash"] = lookup.block_hash.hex()
            result["confirmations"] = confirmations
            result["time"] = seconds(header.timestamp_ms)
            result["blocktime"] = seconds(header.timestamp_ms)
    return result


async def decoderawtransaction(api: NodeApi, hexstring: str) -> object:
    """The transaction encoded in `hexstring` as an object (-22 if it is not one)."""
    tx, _ = _decode_transaction(hexstring, api)
    return tx_json(tx, api.params)


async def sendrawtransaction(api: NodeApi, hexstring: str, maxfeerate: int) -> object:
    """Submit a signed transaction; its txid.

    -22 when the hex is not a transaction, -25 when an input is missing or
    the fee rate exceeds `maxfeerate` (TIME per kB, 0: no limit), -26 with
    the reject code when a rule rejects it, -27 when a block has it.
    """
    tx, size_bytes = _decode_transaction(hexstring, api)
    if maxfeerate > 0:
        await _check_max_fee_rate(api, tx, size_bytes, maxfeerate)
    try:
        txid = await api.submit_transaction(tx)
    except TimecoinError as exc:
        raise _reject_error(exc) from None
    return txid.hex()


async def _check_max_fee_rate(
    api: NodeApi, tx: Transaction, size_bytes: int, max_units_per_kb: int
) -> None:
    input_units = 0
    for tx_input in tx.inputs:
        found = await api.get_coin(tx_input.prevout, include_mempool=True)
        if found is None:
            return  # the node's own validation reports the missing input
        input_units += found.coin.amount
    fee_units = input_units - sum(output.amount for output in tx.outputs)
    if fee_units <= 0 or size_bytes <= 0:
        return
    rate_units_per_kb = fee_units * 1000 // size_bytes
    if rate_units_per_kb > max_units_per_kb:
        raise RpcError(
            RPC_VERIFY_ERROR,
            "max-fee-exceeded: Fee exceeds maximum configured by user (maxfeerate): "
            f"{Decimal(rate_units_per_kb) / COIN} > {Decimal(max_units_per_kb) / COIN} TIME/kB",
        )


# ---------------------------------------------------------------- network


async def getnetworkinfo(api: NodeApi) -> object:
    """Software version, connection counts, relay fee."""
    return network_info_json(await api.get_network_info())


async def getpeerinfo(api: NodeApi) -> object:
    """Every connected peer."""
    return [peer_json(peer) for peer in await api.get_peers()]


async def getconnectioncount(api: NodeApi) -> object:
    """Number of connected peers."""
    info = await api.get_network_info()
    return info.connections_in + info.connections_out


async def addnode(api: NodeApi, node: str, command: str) -> object:
    """Add, remove or try once a peer "host:port"."""
    if command == "add":
        await api.add_node(node, "add")
    elif command == "remove":
        await api.add_node(node, "remove")
    elif command == "onetry":
        await api.add_node(node, "onetry")
    else:
        raise RpcError(
            RPC_INVALID_PARAMETER, f"command must be one of: {', '.join(ADDNODE_COMMANDS)}"
        )
    return None


# ---------------------------------------------------------------- masternodes


# masternodelist and masternodestatus: rpc.masternode_handlers.


# ---------------------------------------------------------------- wallet


async def getnewaddress(api: NodeApi, label: str) -> object:
    """A new receiving address of the wallet (`label` is accepted, not stored)."""
    return address_text(await api.wallet_new_address(), api.params)


async def getbalance(api: NodeApi, dummy: str | None, minconf: int) -> object:
    """The spendable balance: coins not spent by pending transactions with at
    least `minconf` confirmations (final outputs not yet in a block have 0)."""
    if dummy is not None and dummy != "*":
        raise RpcError(RPC_INVALID_PARAMETER, 'dummy first argument must be excluded or set to "*"')
    if minconf == 0:
        return amount_json((await api.wallet_get_balance()).spendable_units)
    tip_height = (await api.get_chain_state()).tip_height
    total = sum(
        item.coin.amount
        for item in await api.wallet_list_unspent()
        if not item.locked
        and _confirmations(tip_height, item.coin.height, item.in_block) >= minconf
    )
    return amount_json(total)


async def listunspent(
    api: NodeApi, minconf: int, maxconf: int, addresses: list[str] | None
) -> object:
    """The wallet's spendable coins with `minconf`..`maxconf` confirmations,
    optionally only those paying `addresses`."""
    params = api.params
    wanted = None if addresses is None else {parse_address(a, params) for a in addresses}
    tip_height = (await api.get_chain_state()).tip_height
    result: list[JsonObject] = []
    coins = sorted(
        await api.wallet_list_unspent(),
        key=lambda item: (item.outpoint.txid, item.outpoint.index),
    )
    for item in coins:
        coin = item.coin
        if item.locked or (wanted is not None and coin.address not in wanted):
            continue
        confirmations = _confirmations(tip_height, coin.height, item.in_block)
        if not minconf <= confirmations <= maxconf:
            continue
        result.append(
            {
                "txid": item.outpoint.txid.hex(),
                "vout": item.outpoint.index,
                "address": address_text(coin.address, params),
                "scriptPubKey": coin.address.hex(),
                "amount": amount_json(coin.amount),
                "confirmations": confirmations,
                "spendable": True,
                "solvable": True,
                "safe": True,
            }
        )
    return result


async def sendtoaddress(
    api: NodeApi,
    address: str,
    amount: int,
    wait: int,
    comment: str,
    comment_to: str,
    subtractfeefromamount: bool,
    replaceable: bool,
    conf_target: int | None,
    estimate_mode: str,
    avoid_reuse: bool,
    fee_rate_per_kb: int,
) -> object:
    """Pay `amount` TIME to `address` from the wallet; the txid, or with
    `wait` > 0 the finality status (as gettransactionfinality) once the
    payment is final or conflicted, or after `wait` seconds. `fee_rate` is
    in base units per byte (bitcoind's sat/vB)."""
    recipient = parse_address(address, api.params)
    if subtractfeefromamount:
        raise RpcError(RPC_INVALID_PARAMETER, "subtractfeefromamount is not supported")
    try:
        txid = await api.wallet_send_to_address(recipient, amount, fee_per_kb_units=fee_rate_per_kb)
    except WalletError:
        raise
    except TimecoinError as exc:
        raise _reject_error(exc) from None
    if wait > 0:
        return _finality_json(await api.wait_transaction_finality(txid, float(wait)))
    return txid.hex()


# ---------------------------------------------------------------- finality and heartbeats


def _finality_json(status: TransactionFinality) -> JsonObject:
    result: JsonObject = {
        "txid": status.txid.hex(),
        "status": status.status,
        "epoch": status.epoch,
        "voteweight": status.vote_weight_units,
        "quorumweight": status.quorum_weight_units,
        "totalweight": status.total_weight_units,
        "voted": status.voted,
    }
    if status.proof is not None:
        result["proof"] = encode(status.proof).hex()
        result["proofepoch"] = status.proof.epoch
        result["proofvoters"] = len(status.proof.votes)
    if status.block_hash is not None:
        result["blockhash"] = status.block_hash.hex()
    if status.height is not None:
        result["height"] = status.height
    if status.conflicting_txids:
        result["conflicts"] = [t.hex() for t in status.conflicting_txids]
    if status.status == "conflicted":
        result["inputlocked"] = status.input_locked
    return result


async def gettransactionfinality(api: NodeApi, txid: bytes) -> object:
    """The finality status of a transaction: unknown, pending (with vote
    weight), final (with its proof, hex), conflicted (with the conflicting
    txids and whether the input stays locked), or confirmed (with its block)."""
    return _finality_json(await api.get_transaction_finality(txid))


async def waittransactionfinality(api: NodeApi, txid: bytes, timeout_s: int) -> object:
    """Wait until a transaction is final, confirmed or conflicted, at most
    `timeout_s` seconds; its status then (as gettransactionfinality)."""
    return _finality_json(await api.wait_transaction_finality(txid, float(timeout_s)))


async def getheartbeathistory(api: NodeApi, count: int) -> object:
    """This node's last `count` heartbeats, oldest first: sequence, time,
    reward window, witnesses, attestations and the block that carried it."""
    return [
        {
            "sequence": e.sequence,
            "time": seconds(e.timestamp_ms),
            "timems": e.timestamp_ms,
            "window": e.window,
            "witnesses": [w.hex() for w in e.witnesses],
            "attestations": e.attestations,
            "includedheight": e.included_height,
        }
        for e in await api.get_heartbeat_history(count)
    ]


async def getattestationstats(api: NodeApi) -> object:
    """Heartbeats sent, received and carried by blocks, attestations given
    and received, and the registry's record of this masternode."""
    stats = await api.get_attestation_stats()
    return {
        "masternodeid": None if stats.masternode_id is None else stats.masternode_id.hex(),
        "heartbeatssent": stats.heartbeats_sent,
        "heartbeatsincluded": stats.heartbeats_included,
        "heartbeatsreceived": stats.heartbeats_received,
        "invalidheartbeats": stats.invalid_heartbeats,
        "attestationsgiven": stats.attestations_given,
        "attestationsreceived": stats.attestations_received,
        "lastincludedheight": stats.last_included_height,
        "pooledheartbeats": stats.pooled_heartbeats,
        "lastsequenceonchain": stats.last_sequence_on_chain,
        "lastwindowonchain": stats.last_window_on_chain,
    }


# ---------------------------------------------------------------- util and control


async def validateaddress(api: NodeApi, address: str) -> object:
    """Whether `address` is a valid address of this network, and why not."""
    try:
        payload = decode_address(address, api.params.address_hrp)
    except AddressError as exc:
        return {"isvalid": False, "error_locations": [], "error": str(exc)}
    return {
        "isvalid": True,
        "address": address_text(payload, api.params),
        "scriptPubKey": payload.hex(),
        "isscript": False,
        "iswitness": False,
    }


async def uptime(api: NodeApi) -> object:
    """Seconds since the node started."""
    return api.get_uptime_s()


async def stop(api: NodeApi) -> object:
    """Ask the node to shut down gracefully."""
    api.request_stop()
    return STOP_MESSAGE


async def help_(api: NodeApi, command: str) -> object:
    """The list of methods, or one method's usage and summary."""
    if command:
        method = METHODS.get(command)
        if method is None:
            raise RpcError(RPC_MISC_ERROR, f"help: unknown command: {command}")
        lines = [method.usage(), "", method.summary]
        described = [p for p in method.params if p.help]
        if described:
            lines += ["", "Arguments:"]
            lines += [f"  {p.name}: {p.help}" for p in described]
        return "\n".join(lines)
    sections: list[str] = []
    for category in dict.fromkeys(m.category for m in METHODS.values()):
        usages = [m.usage() for m in METHODS.values() if m.category == category]
        sections.append("\n".join([f"== {category} ==", *usages]))
    return "\n\n".join(sections)


# ---------------------------------------------------------------- the table

_BLOCKHASH = Param("blockhash", to_hash, is_text=True, help="block hash, 64 hex digits")
_TXID = Param("txid", to_hash, is_text=True, help="transaction id, 64 hex digits")
_HEXTX = Param("hexstring", _to_hex_text, is_text=True, help="the encoded transaction in hex")


def _method(category: str, handler: Any, *params: Param, name: str | None = None) -> Method:
    doc = (handler.__doc__ or "").strip()
    summary = " ".join(doc.split())
    return Method(name or handler.__name__, handler, params, category, summary)


METHODS: Final[Mapping[str, Method]] = {
    m.name: m
    for m in (
        *INDEX_METHODS,
        *PEER_METHODS,
        _method("Blockchain", getblockchaininfo),
        _method("Blockchain", getblockcount),
        _method("Blockchain", getbestblockhash),
        _method("Blockchain", getblockhash, Param("height", to_int, help="block height")),
        _method(
            "Blockchain",
            getblock,
            _BLOCKHASH,
            Param("verbosity", _to_verbosity, 1, help="0 hex, 1 object, 2 with transactions"),
        ),
        _method(
            "Blockchain",
            getblockheader,
            _BLOCKHASH,
            Param("verbose", to_bool, True, help="false for hex"),
        ),
        _method(
            "Blockchain",
            gettxout,
            _TXID,
            Param("n", int_in_range(0, MAX_OUTPUT_INDEX), help="output index"),
            Param("include_mempool", to_bool, True, help="see outputs of pooled transactions"),
        ),
        _method(
            "Blockchain",
            gettxoutsetinfo,
            Param("hash_type", to_str, "muhash", is_text=True, help="muhash or none"),
        ),
        _method(
            "Blockchain",
            verifychain,
            Param("checklevel", int_in_range(0, 4), 3, help="0 to 4, all check the same"),
            Param("nblocks", int_in_range(0, MAX_HEIGHT), 6, help="blocks from the tip, 0: all"),
        ),
        _method("Blockchain", getmempoolinfo),
        _method(
            "Blockchain",
            getrawmempool,
            Param("verbose", to_bool, False, help="true for an object of details"),
        ),
        _method("Blockchain", getconsensusinfo),
        _method(
            "Rawtransactions",
            getrawtransaction,
            _TXID,
            Param("verbose", _to_verbose_flag, False, help="true for an object"),
            Param("blockhash", to_hash, None, is_text=True, help="the block to look in"),
        ),
        _method("Rawtransactions", decoderawtransaction, _HEXTX),
        _method(
            "Rawtransactions",
            sendrawtransaction,
            _HEXTX,
            Param(
                "maxfeerate",
                to_fee_rate_units,
                DEFAULT_MAX_FEE_RATE_UNITS_PER_KB,
                help="reject a fee rate above this, in TIME/kB (0: no limit); default 0.1",
            ),
        ),
        _method("Network", getnetworkinfo),
        _method("Network", getpeerinfo),
        _method("Network", getconnectioncount),
        _method(
            "Network",
            addnode,
            Param("node", to_str, is_text=True, help='peer address "host:port"'),
            Param("command", to_str, is_text=True, help="add, remove or onetry"),
        ),
        *MASTERNODE_METHODS,
        _method(
            "Wallet",
            getnewaddress,
            Param("label", to_str, "", is_text=True, help="accepted for compatibility, unused"),
        ),
        _method(
            "Wallet",
            getbalance,
            Param("dummy", to_str, None, is_text=True, help='"*" or omitted'),
            Param("minconf", int_in_range(0, MAX_CONFIRMATIONS), 0, help="least confirmations"),
        ),
        _method(
            "Wallet",
            listunspent,
            Param("minconf", int_in_range(0, MAX_CONFIRMATIONS), 0, help="least confirmations"),
            Param(
                "maxconf",
                int_in_range(0, MAX_CONFIRMATIONS),
                MAX_CONFIRMATIONS,
                help="most confirmations",
            ),
            Param("addresses", _to_address_list, None, help="only coins paying these"),
        ),
        _method(
            "Wallet",
            sendtoaddress,
            Param("address", to_str, is_text=True, help="recipient"),
            Param("amount", to_amount_units, help="TIME, at most 8 decimals"),
            Param(
                "wait",
                int_in_range(0, MAX_WAIT_S),
                0,
                help="seconds to wait for finality (0: return the txid at once)",
            ),
            Param("comment", to_str, "", is_text=True, help="accepted, not stored"),
            Param("comment_to", to_str, "", is_text=True, help="accepted, not stored"),
            Param("subtractfeefromamount", to_bool, False, help="not supported (false)"),
            Param("replaceable", to_bool, False, help="accepted; nothing is replaceable"),
            Param("conf_target", int_in_range(1, 1_008), None, help="accepted"),
            Param("estimate_mode", to_str, "unset", is_text=True, help="accepted"),
            Param("avoid_reuse", to_bool, False, help="accepted"),
            Param("fee_rate", to_fee_rate_per_byte, 0, help="base units per byte (sat/vB)"),
        ),
        _method("Finality", gettransactionfinality, _TXID),
        _method(
            "Finality",
            waittransactionfinality,
            _TXID,
            Param("timeout_s", int_in_range(0, MAX_WAIT_S), 10, help="seconds, at most 600"),
        ),
        _method(
            "Finality",
            getheartbeathistory,
            Param("count", int_in_range(1, MAX_HEARTBEAT_HISTORY), 20, help="heartbeats to list"),
        ),
        _method("Finality", getattestationstats),
        _method("Util", validateaddress, Param("address", to_str, is_text=True)),
        _method("Control", uptime),
        _method("Control", stop),
        _method(
            "Control",
            help_,
            Param("command", to_str, "", is_text=True, help="a method name"),
            name="help",
        ),
        *WALLET_METHODS,
        *RAWTX_METHODS,
        *PROOF_METHODS,
    )
}
"""Every RPC method by name."""


async def invoke(api: NodeApi, name: str, params: Sequence[object] | Mapping[str, object]) -> Any:
    """Run method `name` with the request's `params`; its JSON result.

    Raises RpcError for every expected failure (unknown method, bad
    parameters, the node's typed errors). Anything else is a bug, left to
    the dispatcher to report as -32603.
    """
    method = METHODS.get(name)
    if method is None:
        raise RpcError(RPC_METHOD_NOT_FOUND, "Method not found")
    arguments = bind_arguments(method, params)
    try:
        return await method.handler(api, *arguments)
    except WarmingUpError as exc:
        raise RpcError(RPC_IN_WARMUP, str(exc) or "Node is warming up") from None
    except WalletUnavailableError as exc:
        raise RpcError(
            RPC_WALLET_NOT_FOUND, str(exc) or "No wallet is loaded on this node"
        ) from None
    except PeerAlreadyAddedError as exc:
        raise RpcError(RPC_CLIENT_NODE_ALREADY_ADDED, f"Error: Node already added: {exc}") from None
    except PeerNotAddedError as exc:
        raise RpcError(
            RPC_CLIENT_NODE_NOT_ADDED,
            f"Error: Node could not be removed. It has not been added previously: {exc}",
        ) from None
    except InvalidPeerAddressError as exc:
        raise RpcError(RPC_INVALID_PARAMETER, f"Invalid node address: {exc}") from None
    except StoreDamagedError as exc:
        raise RpcError(RPC_DATABASE_ERROR, str(exc)) from None
    except NodeApiError as exc:
        raise RpcError(RPC_MISC_ERROR, str(exc)) from None
    except InsufficientFundsError as exc:
        raise RpcError(
            RPC_WALLET_INSUFFICIENT_FUNDS, f"Insufficient funds: {exc.message}"
        ) from None
    except WalletError as exc:
        raise RpcError(RPC_WALLET_ERROR, str(exc)) from None

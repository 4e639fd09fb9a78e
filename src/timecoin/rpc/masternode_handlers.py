"""The masternode RPC methods: list and status, and the wallet's lifecycle
(register, update, unlock, list locked collaterals).

`MASTERNODE_METHODS` is added to the method table by `handlers`. The
interface (names, argument order, result fields) is fixed by the operator
guide (docs/operator.md) and docs/rpc.md; scripts depend on it.

Status of a masternode for its operator (`masternodestatus`, `state`):

| state | meaning |
|---|---|
| NOT_REGISTERED | no live registration names this node's operator key |
| PENDING | registered; counts from epoch `activefromepoch` |
| ACTIVE | in the voting set of the current epoch (or a Free masternode) |
| STANDBY | eligible, but outside the committee (more voters than `max_voters`) |
| REMOVED | left out of this epoch's voting set at height `removedatheight` for missed heartbeats |
| UNLOCKING | its collateral is spent: it leaves at epoch `deregisteredfromepoch` |
| BANNED | excluded for good by evidence from epoch `bannedfromepoch` |
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from timecoin.ledger.errors import REJECT_MISSING_INPUT
from timecoin.masternode import (
    MasternodeEntry,
    RegistryState,
    get_entry,
    is_active,
    is_heartbeat_overdue,
)
from timecoin.params import ChainParams, Tier
from timecoin.rpc.api import NodeApi, TransactionAlreadyInChainError
from timecoin.rpc.arguments import (
    Method,
    Param,
    int_in_range,
    parse_address,
    to_hash,
    to_str,
)
from timecoin.rpc.errors import (
    RPC_INVALID_ADDRESS_OR_KEY,
    RPC_INVALID_PARAMETER,
    RPC_MISC_ERROR,
    RPC_VERIFY_ALREADY_IN_CHAIN,
    RPC_VERIFY_ERROR,
    RPC_VERIFY_REJECTED,
    RpcError,
)
from timecoin.rpc.jsonshape import JsonObject, amount_json, masternode_json, seconds
from timecoin.types import OutPoint, TimecoinError
from timecoin.wallet import WalletError
from timecoin.wallet.masternode import (
    MasternodeRequestError,
    RegistrationRequest,
    UpdateRequest,
    parse_tier,
)

MAX_OUTPUT_INDEX: Final = 0xFFFF_FFFF
PUBLIC_KEY_HEX_CHARS: Final = 64
_KIND_CODES: Final = {
    "parameter": RPC_INVALID_PARAMETER,
    "not-mine": RPC_INVALID_ADDRESS_OR_KEY,
    "not-found": RPC_INVALID_ADDRESS_OR_KEY,
}


# ---------------------------------------------------------------- status


def compute_masternode_state(
    entry: MasternodeEntry | None, state: RegistryState, params: ChainParams
) -> tuple[str, str]:
    """The entry's state (see the module docstring) and a sentence for people."""
    if entry is None:
        return "NOT_REGISTERED", "not registered: no live registration names this operator key"
    epoch = state.epoch
    if entry.banned_from_epoch is not None and entry.banned_from_epoch <= epoch:
        return "BANNED", f"banned by evidence from epoch {entry.banned_from_epoch}"
    if entry.deregistered_from_epoch is not None:
        return (
            "UNLOCKING",
            "collateral spent: leaves the masternode list at epoch "
            f"{entry.deregistered_from_epoch}",
        )
    if not is_active(entry, epoch):
        return "PENDING", f"pending until epoch {entry.active_from_epoch} (now {epoch})"
    in_set = any(v.masternode_id == entry.masternode_id for v in state.voting_set.voters)
    if in_set or params.tier_params(Tier(entry.tier)).voting_weight == 0:
        return "ACTIVE", f"active in epoch {epoch}"
    boundary_height = epoch * params.epoch_length - 1
    if boundary_height >= 0 and is_heartbeat_overdue(entry, boundary_height, params):
        return (
            "REMOVED",
            f"removed from the voting set for missed heartbeats at height {boundary_height}",
        )
    return "STANDBY", f"eligible but outside the committee of epoch {epoch}"


def _entry_json(entry: MasternodeEntry, state: RegistryState, params: ChainParams) -> JsonObject:
    result = masternode_json(entry, state.epoch, state.voting_set, params)
    state_name, message = compute_masternode_state(entry, state, params)
    result["state"] = state_name
    result["message"] = message
    result["lastheartbeatwindow"] = entry.last_heartbeat_window
    result["lastheartbeatsequence"] = entry.last_heartbeat_sequence
    return result


async def masternodelist(api: NodeApi, filter_text: str) -> object:
    """Every registered masternode with its tier, status, weight, voting-set
    membership, last heartbeat and collateral; `filter` keeps those whose id,
    keys, reward address, network address or status contain it."""
    state = await api.get_masternode_registry()
    params = api.params
    entries = [_entry_json(entry, state, params) for entry in state.entries]
    if not filter_text:
        return entries
    needle = filter_text.lower()
    fields = ("masternodeid", "ownerkey", "operatorkey", "rewardaddress", "networkaddress")
    return [
        entry
        for entry in entries
        if any(needle in str(entry[name]).lower() for name in (*fields, "status", "state"))
    ]


def _find_local_entry(
    state: RegistryState, operator_key: bytes, masternode_id: bytes | None
) -> MasternodeEntry | None:
    if masternode_id is not None:
        return get_entry(state, masternode_id)
    for entry in state.entries:
        if entry.operator_key == operator_key and not entry.is_deregistered:
            return entry
    return None


async def masternodestatus(api: NodeApi) -> object:
    """This node's masternode: its operator key, `state` and `message` (what
    it is waiting for), and its registry entry once registered."""
    local = await api.get_local_masternode()
    if local is None:
        raise RpcError(RPC_MISC_ERROR, "This node is not a masternode")
    state = await api.get_masternode_registry()
    entry = _find_local_entry(state, local.operator_key, local.masternode_id)
    heartbeat = local.last_heartbeat_ms
    result: JsonObject = {
        "operatorkey": local.operator_key.hex(),
        "masternodeid": None if local.masternode_id is None else local.masternode_id.hex(),
        "status": "not_registered",
        "lastheartbeat": None if heartbeat is None else seconds(heartbeat),
        "lastheartbeat_ms": heartbeat,
    }
    if entry is not None:
        result.update(_entry_json(entry, state, api.params))
    else:
        state_name, message = compute_masternode_state(None, state, api.params)
        result["state"] = state_name
        result["message"] = message
    return result


# ---------------------------------------------------------------- wallet lifecycle


def _to_public_key(value: object, name: str) -> bytes:
    """A 32-byte Ed25519 public key as 64 hex digits (else -5, naming `name`)."""
    if not isinstance(value, str):
        raise RpcError(RPC_INVALID_ADDRESS_OR_KEY, f"{name}: expected a hex string")
    try:
        key = bytes.fromhex(value)
    except ValueError:
        key = b""
    if len(value) != PUBLIC_KEY_HEX_CHARS or len(key) != PUBLIC_KEY_HEX_CHARS // 2:
        raise RpcError(
            RPC_INVALID_ADDRESS_OR_KEY,
            f"{name}: expected a public key of {PUBLIC_KEY_HEX_CHARS} hex digits, "
            f"got {value[:80]!r}",
        )
    return key


def _optional_public_key(value: object, name: str) -> bytes | None:
    if value is None or value == "":
        return None
    return _to_public_key(value, name)


def _network_address(text: str | None) -> bytes | None:
    if text is None or text == "":
        return None
    return text.encode("utf-8")


def _reward_address(api: NodeApi, text: str | None) -> bytes | None:
    if text is None or text == "":
        return None
    try:
        return parse_address(text, api.params)
    except RpcError as exc:
        raise RpcError(exc.code, f"reward_address: {exc.message}") from None


async def _submit(api: NodeApi, call: Callable[[], Any]) -> str:
    """Run a wallet call that builds and submits a transaction; its txid in hex."""
    try:
        txid: bytes = await call()
    except MasternodeRequestError as exc:
        raise RpcError(_KIND_CODES.get(exc.kind, RPC_INVALID_PARAMETER), exc.message) from None
    except WalletError:
        raise
    except TimecoinError as exc:
        if isinstance(exc, TransactionAlreadyInChainError):
            raise RpcError(RPC_VERIFY_ALREADY_IN_CHAIN, str(exc)) from None
        if exc.reject_code == REJECT_MISSING_INPUT:
            raise RpcError(RPC_VERIFY_ERROR, str(exc)) from None
        raise RpcError(RPC_VERIFY_REJECTED, str(exc)) from None
    return txid.hex()


async def masternoderegister(
    api: NodeApi,
    tier: str,
    collateral_txid: bytes,
    collateral_vout: int,
    operator_pubkey: str,
    reward_address: str | None,
    network_address: str | None,
) -> object:
    """Register a masternode from the wallet: the collateral coin (exactly
    the tier's amount, owned by the wallet) moves to output 0 of the
    registration under a fresh owner key; another coin pays the fee. Returns
    the registration txid: the masternode id, and the collateral's txid."""
    try:
        parsed_tier = parse_tier(tier)
    except MasternodeRequestError as exc:
        raise RpcError(RPC_INVALID_PARAMETER, exc.message) from None
    request = RegistrationRequest(
        tier=parsed_tier,
        collateral=OutPoint(collateral_txid, collateral_vout),
        operator_key=_to_public_key(operator_pubkey, "operator_pubkey"),
        reward_address=_reward_address(api, reward_address),
        network_address=_network_address(network_address) or b"",
    )
    return await _submit(api, lambda: api.wallet_register_masternode(request))


async def masternodeupdate(
    api: NodeApi,
    collateral_txid: bytes,
    collateral_vout: int,
    operator_pubkey: str | None,
    reward_address: str | None,
    network_address: str | None,
) -> object:
    """Replace the operator key, reward address or network address of the
    wallet's masternode with this collateral, signed by its owner key
    (omitted or "" keeps a value). Returns the txid; counts from the next epoch."""
    request = UpdateRequest(
        collateral=OutPoint(collateral_txid, collateral_vout),
        operator_key=_optional_public_key(operator_pubkey, "operator_pubkey"),
        reward_address=_reward_address(api, reward_address),
        network_address=_network_address(network_address),
    )
    return await _submit(api, lambda: api.wallet_update_masternode(request))


async def masternodeunlock(api: NodeApi, collateral_txid: bytes, collateral_vout: int) -> object:
    """Retire the wallet's masternode with this collateral: spend the
    collateral back to its owner address (less the fee). The masternode
    leaves at the next epoch; the coin is spendable once the spend is final.
    Returns the txid."""
    collateral = OutPoint(collateral_txid, collateral_vout)
    return await _submit(api, lambda: api.wallet_unlock_masternode(collateral))


async def listlockedcollaterals(api: NodeApi) -> object:
    """The wallet's coins locked as masternode collateral, with tier, status
    and masternode."""
    state = await api.get_masternode_registry()
    coins = {c.outpoint: c for c in await api.wallet_list_unspent()}
    params = api.params
    result: list[JsonObject] = []
    for entry in state.entries:
        collateral = entry.collateral
        if collateral is None or collateral not in coins:
            continue
        state_name, message = compute_masternode_state(entry, state, params)
        result.append(
            {
                "txid": collateral.txid.hex(),
                "vout": collateral.index,
                "amount": amount_json(coins[collateral].coin.amount),
                "tier": Tier(entry.tier).name.lower(),
                "masternodeid": entry.masternode_id.hex(),
                "operatorkey": entry.operator_key.hex(),
                "state": state_name,
                "message": message,
            }
        )
    return result


def _method(handler: Any, *params: Param, category: str = "Masternode") -> Method:
    doc = (handler.__doc__ or "").strip()
    return Method(handler.__name__, handler, params, category, " ".join(doc.split()))


_COLLATERAL_TXID = Param(
    "collateral_txid", to_hash, is_text=True, help="txid of the collateral, 64 hex digits"
)
_COLLATERAL_VOUT = Param(
    "collateral_vout", int_in_range(0, MAX_OUTPUT_INDEX), help="output index of the collateral"
)
_REWARD_ADDRESS = Param(
    "reward_address", to_str, None, is_text=True, help="where rewards go (default: the owner's)"
)
_NETWORK_ADDRESS = Param(
    "network_address", to_str, None, is_text=True, help='the node\'s public "host:port"'
)

MASTERNODE_METHODS: Final[tuple[Method, ...]] = (
    _method(
        masternodelist,
        Param("filter", to_str, "", is_text=True, help="keep entries containing this text"),
    ),
    _method(masternodestatus),
    _method(
        masternoderegister,
        Param("tier", to_str, is_text=True, help="bronze, silver or gold"),
        _COLLATERAL_TXID,
        _COLLATERAL_VOUT,
        Param("operator_pubkey", to_str, is_text=True, help="the operator key, 64 hex digits"),
        _REWARD_ADDRESS,
        _NETWORK_ADDRESS,
        category="Wallet",
    ),
    _method(
        masternodeupdate,
        _COLLATERAL_TXID,
        _COLLATERAL_VOUT,
        Param("operator_pubkey", to_str, None, is_text=True, help="a new operator key"),
        _REWARD_ADDRESS,
        _NETWORK_ADDRESS,
        category="Wallet",
    ),
    _method(masternodeunlock, _COLLATERAL_TXID, _COLLATERAL_VOUT, category="Wallet"),
    _method(listlockedcollaterals, category="Wallet"),
)
"""The masternode methods, for the method table."""

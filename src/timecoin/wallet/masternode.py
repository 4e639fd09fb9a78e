"""The wallet's masternode transactions: register, update, unlock.

Each builder checks the request against the registry after the chain tip
before anything is signed, so a wrong amount, someone else's collateral, a
collateral already locked, a used operator key or a bad tier is refused with
a `MasternodeRequestError` naming the field; then it signs through
`Wallet.sign_and_journal`, which journals the inputs like any payment.

The consensus rule (docs/spec/masternode.md) puts the collateral in output
`collateral_index` of the registration itself, paid to the owner key's
address. So a registration spends the coin the operator funded (exactly the
tier's collateral) into output 0 of the registration, paid to a fresh owner
key of the wallet; the fee comes from one other coin of the wallet. The
masternode id is the registration's txid and its collateral is
`(masternode id, 0)`: update and unlock name that outpoint, not the coin the
operator funded (which the registration spent).

An operator update spends one fee coin and carries the owner's signature.
Unlocking spends the collateral back to the wallet (the owner's address),
minus the fee: the masternode is deregistered from the next epoch and the
coin is spendable as soon as the transaction is final.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from timecoin.crypto import address_from_public_key
from timecoin.ledger import compute_tx_size
from timecoin.masternode import MasternodeEntry, RegistryState
from timecoin.params import COIN, MAX_MONEY, Tier
from timecoin.types import (
    TX_VERSION,
    Coin,
    MasternodeRegistration,
    OperatorUpdate,
    OutPoint,
    Payload,
    Transaction,
    TxInput,
    TxOutput,
)
from timecoin.wallet.coinselect import (
    DEFAULT_FEE_POLICY,
    FeePolicy,
    compute_min_output,
    compute_required_fee,
)
from timecoin.wallet.errors import InsufficientFundsError, WalletError
from timecoin.wallet.wallet import Wallet

PUBLIC_KEY_BYTES: Final = 32
COLLATERAL_INDEX: Final = 0
"""Where a registration built here puts its collateral."""
_PLACEHOLDER_SIGNATURE: Final = bytes(64)
_WIDEST_AMOUNT: Final = MAX_MONEY
"""An amount whose encoding is as long as any amount's (change is sized at it)."""


class MasternodeRequestError(WalletError):
    """A masternode request that cannot be signed; `field` names the culprit.

    `kind` says what is wrong, for the RPC layer's error code: "parameter"
    (a value out of range or already used), "not-mine" (the wallet does not
    own it), "not-found" (no such coin or masternode).
    """

    code = "masternode-request"

    def __init__(self, field: str, kind: str, message: str) -> None:
        self.field = field
        self.kind = kind
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True, slots=True)
class RegistrationRequest:
    """What `masternoderegister` asks for, decoded; `reward_address` None
    pays rewards to the owner's address."""

    tier: Tier
    collateral: OutPoint
    operator_key: bytes
    reward_address: bytes | None = None
    network_address: bytes = b""


@dataclass(frozen=True, slots=True)
class UpdateRequest:
    """What `masternodeupdate` asks for, decoded; None keeps the current value."""

    collateral: OutPoint
    operator_key: bytes | None = None
    reward_address: bytes | None = None
    network_address: bytes | None = None


def format_time(units: int) -> str:
    """`units` base units as TIME with 8 decimals."""
    return f"{Decimal(units) / COIN:.8f} TIME"


def parse_tier(text: str) -> Tier:
    """A tier by name ("free", "bronze", "silver", "gold"), any case.

    Raises MasternodeRequestError naming the field `tier`.
    """
    try:
        return Tier[text.strip().upper()]
    except KeyError:
        names = ", ".join(t.name.lower() for t in Tier)
        raise MasternodeRequestError(
            "tier", "parameter", f"expected one of {names}, got {text!r:.40}"
        ) from None


def live_collaterals(registry: RegistryState) -> set[OutPoint]:
    """The collaterals of masternodes whose collateral is not spent."""
    return {
        e.collateral for e in registry.entries if e.collateral is not None and not e.is_deregistered
    }


def find_entry_by_collateral(registry: RegistryState, outpoint: OutPoint) -> MasternodeEntry | None:
    """The entry whose collateral is `outpoint`, or None."""
    for entry in registry.entries:
        if entry.collateral == outpoint:
            return entry
    return None


def _outpoint_text(outpoint: OutPoint) -> str:
    return f"{outpoint.txid.hex()}:{outpoint.index}"


def _operator_holder(registry: RegistryState, operator_key: bytes) -> MasternodeEntry | None:
    for entry in registry.entries:
        if entry.operator_key == operator_key and not entry.is_deregistered:
            return entry
    return None


def _check_keys_and_address(
    wallet: Wallet, operator_key: bytes | None, network_address: bytes | None
) -> None:
    if operator_key is not None and len(operator_key) != PUBLIC_KEY_BYTES:
        raise MasternodeRequestError(
            "operator_pubkey",
            "parameter",
            f"expected {PUBLIC_KEY_BYTES} bytes, got {len(operator_key)}",
        )
    limit = wallet.params.sizes.max_network_address_bytes
    if network_address is not None and len(network_address) > limit:
        raise MasternodeRequestError(
            "network_address",
            "parameter",
            f"expected at most {limit} bytes, got {len(network_address)}",
        )


def build_registration(
    wallet: Wallet,
    registry: RegistryState,
    request: RegistrationRequest,
    policy: FeePolicy = DEFAULT_FEE_POLICY,
) -> Transaction:
    """Sign and journal the registration `request` asks for.

    The collateral coin must be the wallet's, unspent, not another
    masternode's collateral and exactly the tier's collateral. Its owner is
    a fresh key of the wallet (owner keys are unique among live masternodes).

    Raises MasternodeRequestError (naming tier, collateral, operator_pubkey,
    reward_address or network_address), InsufficientFundsError (no coin pays
    the fee), and the errors of `Wallet.sign_and_journal`.
    """
    params = wallet.params
    tier = request.tier
    collateral_units = params.tier_params(tier).collateral
    if collateral_units == 0:
        raise MasternodeRequestError(
            "tier", "parameter", f"{tier.name.lower()} needs no collateral; name a staked tier"
        )
    _check_keys_and_address(wallet, request.operator_key, request.network_address)
    outpoint = request.collateral
    locked = find_entry_by_collateral(registry, outpoint)
    if locked is not None and not locked.is_deregistered:
        raise MasternodeRequestError(
            "collateral",
            "parameter",
            f"{_outpoint_text(outpoint)} is already locked as the collateral of masternode "
            f"{locked.masternode_id.hex()}",
        )
    coins = dict(wallet.coins())
    coin = coins.get(outpoint)
    if coin is None:
        raise MasternodeRequestError(
            "collateral",
            "not-mine",
            f"{_outpoint_text(outpoint)} is not an unspent coin of this wallet",
        )
    if wallet.is_marked(outpoint):
        raise MasternodeRequestError(
            "collateral",
            "parameter",
            f"{_outpoint_text(outpoint)} is spent by a pending transaction of this wallet",
        )
    if coin.amount != collateral_units:
        raise MasternodeRequestError(
            "collateral",
            "parameter",
            f"tier {tier.name.lower()} needs exactly {format_time(collateral_units)}, "
            f"{_outpoint_text(outpoint)} holds {format_time(coin.amount)}",
        )
    holder = _operator_holder(registry, request.operator_key)
    if holder is not None:
        raise MasternodeRequestError(
            "operator_pubkey",
            "parameter",
            f"{request.operator_key.hex()} is already the operator key of masternode "
            f"{holder.masternode_id.hex()}",
        )
    owner_key = wallet.new_public_key()
    owner_address = address_from_public_key(owner_key)
    payload = MasternodeRegistration(
        tier=int(tier),
        collateral_index=COLLATERAL_INDEX,
        owner_key=owner_key,
        operator_key=request.operator_key,
        reward_address=owner_address if request.reward_address is None else request.reward_address,
        network_address=request.network_address,
    )
    inputs, outputs = _with_fee_coin(
        wallet,
        [(outpoint, coin)],
        [TxOutput(collateral_units, owner_address)],
        payload,
        live_collaterals(registry),
        owner_address,
        policy,
    )
    return wallet.sign_and_journal(inputs, outputs, payload, owner_key)


def _owned_entry(wallet: Wallet, registry: RegistryState, outpoint: OutPoint) -> MasternodeEntry:
    entry = find_entry_by_collateral(registry, outpoint)
    if entry is None:
        raise MasternodeRequestError(
            "collateral",
            "not-found",
            f"no masternode has collateral {_outpoint_text(outpoint)} (after masternoderegister "
            "the collateral is output 0 of the registration: name its txid)",
        )
    if not wallet.owns_public_key(entry.owner_key):
        raise MasternodeRequestError(
            "collateral",
            "not-mine",
            f"masternode {entry.masternode_id.hex()} is owned by {entry.owner_key.hex()}, "
            "not a key of this wallet",
        )
    if entry.is_deregistered:
        raise MasternodeRequestError(
            "collateral",
            "parameter",
            f"masternode {entry.masternode_id.hex()} is already unlocked (deregistered from "
            f"epoch {entry.deregistered_from_epoch})",
        )
    return entry


def build_operator_update(
    wallet: Wallet,
    registry: RegistryState,
    request: UpdateRequest,
    policy: FeePolicy = DEFAULT_FEE_POLICY,
) -> Transaction:
    """Sign and journal an operator update of the masternode whose
    collateral `request` names, signed by its owner key (the wallet's).

    Raises MasternodeRequestError (collateral, operator_pubkey,
    network_address), InsufficientFundsError, and the errors of
    `Wallet.sign_and_journal`.
    """
    _check_keys_and_address(wallet, request.operator_key, request.network_address)
    entry = _owned_entry(wallet, registry, request.collateral)
    operator_key = entry.operator_key if request.operator_key is None else request.operator_key
    holder = _operator_holder(registry, operator_key)
    if holder is not None and holder.masternode_id != entry.masternode_id:
        raise MasternodeRequestError(
            "operator_pubkey",
            "parameter",
            f"{operator_key.hex()} is already the operator key of masternode "
            f"{holder.masternode_id.hex()}",
        )
    payload = OperatorUpdate(
        masternode_id=entry.masternode_id,
        operator_key=operator_key,
        reward_address=entry.reward_address
        if request.reward_address is None
        else request.reward_address,
        network_address=entry.network_address
        if request.network_address is None
        else request.network_address,
    )
    if payload == OperatorUpdate(
        entry.masternode_id, entry.operator_key, entry.reward_address, entry.network_address
    ):
        raise MasternodeRequestError(
            "operator_pubkey", "parameter", "the update changes nothing: name a new value"
        )
    owner_address = address_from_public_key(entry.owner_key)
    inputs, outputs = _with_fee_coin(
        wallet, [], [], payload, live_collaterals(registry), owner_address, policy
    )
    return wallet.sign_and_journal(inputs, outputs, payload, entry.owner_key)


def build_unlock(
    wallet: Wallet,
    registry: RegistryState,
    collateral: OutPoint,
    policy: FeePolicy = DEFAULT_FEE_POLICY,
) -> Transaction:
    """Sign and journal the spend of a masternode's collateral back to its
    owner's address, less the fee: the masternode leaves at the next epoch.

    Raises MasternodeRequestError (collateral), and the errors of
    `Wallet.sign_and_journal`.
    """
    entry = _owned_entry(wallet, registry, collateral)
    coin = dict(wallet.coins()).get(collateral)
    if coin is None:
        raise MasternodeRequestError(
            "collateral",
            "not-found",
            f"{_outpoint_text(collateral)} is not among this wallet's coins yet "
            "(wait until the registration is final)",
        )
    owner_address = address_from_public_key(entry.owner_key)
    inputs = [(collateral, coin)]
    fee = compute_required_fee(
        _size(inputs, [TxOutput(coin.amount, owner_address)], None), policy, wallet.params
    )
    return wallet.sign_and_journal(inputs, [TxOutput(coin.amount - fee, owner_address)])


def _with_fee_coin(
    wallet: Wallet,
    fixed: Sequence[tuple[OutPoint, Coin]],
    outputs: Sequence[TxOutput],
    payload: Payload | None,
    exclude: set[OutPoint],
    change_address: bytes,
    policy: FeePolicy,
) -> tuple[list[tuple[OutPoint, Coin]], list[TxOutput]]:
    """`fixed` plus the smallest unmarked coin of the wallet (outside
    `exclude`) that pays the fee, and `outputs` plus its change (when at
    or above the dust limit)."""
    params = wallet.params
    candidates = sorted(
        wallet.unmarked_coins(exclude | {op for op, _ in fixed}),
        key=lambda item: (item[1].amount, item[0].txid, item[0].index),
    )
    needed = compute_required_fee(
        _size([*fixed, *candidates[:1]], outputs, payload), policy, params
    )
    for item in candidates:
        inputs = [*fixed, item]
        with_change = [*outputs, TxOutput(_WIDEST_AMOUNT, change_address)]
        fee = compute_required_fee(_size(inputs, with_change, payload), policy, params)
        change = item[1].amount - fee
        if change >= compute_min_output(params):
            return inputs, [*outputs, TxOutput(change, change_address)]
        needed = compute_required_fee(_size(inputs, outputs, payload), policy, params)
        if item[1].amount >= needed:
            return inputs, list(outputs)
    available = sum(coin.amount for _, coin in candidates)
    raise InsufficientFundsError(needed, available)


def _size(
    inputs: Sequence[tuple[OutPoint, Coin]], outputs: Sequence[TxOutput], payload: Payload | None
) -> int:
    """The encoded size of the signed transaction (signatures have fixed lengths)."""
    template = Transaction(
        version=TX_VERSION,
        inputs=[TxInput(op, bytes(PUBLIC_KEY_BYTES)) for op, _ in inputs],
        outputs=list(outputs),
        lock_time=0,
        payload=payload,
        signatures=[_PLACEHOLDER_SIGNATURE] * len(inputs),
        owner_signature=None if payload is None else _PLACEHOLDER_SIGNATURE,
    )
    return compute_tx_size(template)

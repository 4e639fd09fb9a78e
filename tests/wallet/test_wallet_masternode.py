"""The wallet's masternode transactions, judged by the real registry and ledger rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from wallet_helpers import PARAMS, create_wallet, fund, make_outpoint

from timecoin.chain import GenesisMasternode, GenesisSpec, build_genesis
from timecoin.crypto import SigningKey, address_from_public_key
from timecoin.ledger import MemoryUtxoSet, validate_transaction
from timecoin.masternode import (
    RegistryState,
    get_entry,
    process_block_registry,
    registry_from_genesis,
    validate_registry_transaction,
)
from timecoin.params import COIN, Tier
from timecoin.types import Coin, OutPoint, Transaction, compute_txid
from timecoin.wallet import InsufficientFundsError, Wallet
from timecoin.wallet.masternode import (
    MasternodeRequestError,
    RegistrationRequest,
    UpdateRequest,
    build_operator_update,
    build_registration,
    build_unlock,
    parse_tier,
)

BRONZE_UNITS = PARAMS.tier_params(Tier.BRONZE).collateral
GENESIS_OPERATOR = SigningKey.from_seed(bytes([7]) * 32)


@pytest.fixture
def wallet(tmp_path: Path) -> Iterator[Wallet]:
    with create_wallet(tmp_path) as opened:
        yield opened


@pytest.fixture
def registry() -> RegistryState:
    """A registry with one genesis Bronze masternode the wallet does not own."""
    key = GENESIS_OPERATOR.public_key
    genesis = build_genesis(
        GenesisSpec(
            params=PARAMS,
            timestamp_ms=1_000,
            masternodes=(
                GenesisMasternode(
                    Tier.BRONZE, key, key, address_from_public_key(key), b"127.0.0.1:1"
                ),
            ),
        )
    )
    return registry_from_genesis(genesis, PARAMS)


def _operator(n: int) -> bytes:
    return SigningKey.from_seed(bytes([n]) * 32).public_key


def _apply(tx: Transaction, inputs: dict[OutPoint, Coin], state: RegistryState) -> RegistryState:
    """Check `tx` as the ledger and the registry would, then put it in block `height + 1`."""
    txid = compute_txid(tx)
    validate_transaction(tx, txid, MemoryUtxoSet(inputs), PARAMS, 0)
    validate_registry_transaction(tx, txid, state, PARAMS)
    after, _ = process_block_registry(state, state.height + 1, bytes(32), [tx], [txid], (), PARAMS)
    return after


def _register(
    wallet: Wallet, registry: RegistryState, operator: bytes
) -> tuple[Transaction, RegistryState]:
    coins = dict(fund(wallet, [BRONZE_UNITS, 5 * COIN]))
    collateral = next(op for op, coin in coins.items() if coin.amount == BRONZE_UNITS)
    tx = build_registration(
        wallet, registry, RegistrationRequest(Tier.BRONZE, collateral, operator)
    )
    return tx, _apply(tx, coins, registry)


def test_registration_moves_the_collateral_to_a_fresh_owner_key(
    wallet: Wallet, registry: RegistryState
) -> None:
    tx, after = _register(wallet, registry, _operator(1))
    txid = compute_txid(tx)
    entry = get_entry(after, txid)
    assert entry is not None
    assert entry.operator_key == _operator(1)
    assert entry.collateral == OutPoint(txid, 0)
    assert entry.active_from_epoch == PARAMS.epoch_of(after.height) + 1
    assert wallet.owns_public_key(entry.owner_key)
    assert tx.outputs[0].amount == BRONZE_UNITS
    assert tx.outputs[0].address == address_from_public_key(entry.owner_key)
    # Both inputs are journaled: a payment cannot spend them again.
    assert all(wallet.is_marked(txin.prevout) for txin in tx.inputs)


def test_registration_refuses_bad_requests_before_signing(
    wallet: Wallet, registry: RegistryState
) -> None:
    coins = fund(wallet, [BRONZE_UNITS - 1, BRONZE_UNITS, 5 * COIN])
    wrong, right = coins[0][0], coins[1][0]
    genesis_entry = registry.entries[0]
    cases = [
        (RegistrationRequest(Tier.BRONZE, wrong, _operator(1)), "collateral", "needs exactly"),
        (RegistrationRequest(Tier.SILVER, right, _operator(1)), "collateral", "needs exactly"),
        (RegistrationRequest(Tier.FREE, right, _operator(1)), "tier", "no collateral"),
        (
            RegistrationRequest(Tier.BRONZE, make_outpoint(99), _operator(1)),
            "collateral",
            "not an unspent coin",
        ),
        (
            RegistrationRequest(Tier.BRONZE, genesis_entry.collateral or right, _operator(1)),
            "collateral",
            "already locked",
        ),
        (
            RegistrationRequest(Tier.BRONZE, right, GENESIS_OPERATOR.public_key),
            "operator_pubkey",
            "already the operator key",
        ),
        (RegistrationRequest(Tier.BRONZE, right, b"\x01" * 31), "operator_pubkey", "32 bytes"),
        (
            RegistrationRequest(Tier.BRONZE, right, _operator(1), None, b"x" * 1_000),
            "network_address",
            "at most",
        ),
    ]
    for request, field, words in cases:
        with pytest.raises(MasternodeRequestError) as caught:
            build_registration(wallet, registry, request)
        assert caught.value.field == field, request
        assert words in str(caught.value)
    assert wallet.pending_transactions() == {}


def test_registration_needs_a_coin_for_the_fee(wallet: Wallet, registry: RegistryState) -> None:
    ((collateral, _),) = fund(wallet, [BRONZE_UNITS])
    with pytest.raises(InsufficientFundsError):
        build_registration(
            wallet, registry, RegistrationRequest(Tier.BRONZE, collateral, _operator(1))
        )
    assert wallet.pending_transactions() == {}


def test_parse_tier_names_the_choices() -> None:
    assert parse_tier("Silver") is Tier.SILVER
    with pytest.raises(MasternodeRequestError, match="tier: expected one of free, bronze"):
        parse_tier("platinum")


def test_update_and_unlock_are_signed_by_the_owner(wallet: Wallet, registry: RegistryState) -> None:
    tx, state = _register(wallet, registry, _operator(1))
    txid = compute_txid(tx)
    collateral = OutPoint(txid, 0)
    # The node's wallet feed adds the registration's outputs.
    for index, txout in enumerate(tx.outputs):
        wallet.add_coin(OutPoint(txid, index), Coin(txout.amount, txout.address, state.height))
    fee_coins = dict(fund(wallet, [3 * COIN], start=50))
    update = build_operator_update(wallet, state, UpdateRequest(collateral, _operator(2)))
    assert collateral not in {txin.prevout for txin in update.inputs}
    state = _apply(update, fee_coins, state)
    entry = get_entry(state, txid)
    assert entry is not None and entry.operator_key == _operator(2)

    with pytest.raises(MasternodeRequestError, match="changes nothing"):
        build_operator_update(wallet, state, UpdateRequest(collateral, _operator(2)))
    with pytest.raises(MasternodeRequestError, match="already the operator key"):
        build_operator_update(wallet, state, UpdateRequest(collateral, GENESIS_OPERATOR.public_key))

    unlock = build_unlock(wallet, state, collateral)
    assert [txin.prevout for txin in unlock.inputs] == [collateral]
    assert unlock.outputs[0].address == address_from_public_key(entry.owner_key)
    state = _apply(unlock, {collateral: Coin(BRONZE_UNITS, unlock.outputs[0].address, 1)}, state)
    # Block 3 ends epoch 0 (MINIMAL: 4 blocks an epoch): the boundary drops it.
    assert state.height == 3 and get_entry(state, txid) is None
    with pytest.raises(MasternodeRequestError, match="no masternode has collateral"):
        build_unlock(wallet, state, collateral)


def test_someone_elses_masternode_is_refused(wallet: Wallet, registry: RegistryState) -> None:
    collateral = registry.entries[0].collateral
    assert collateral is not None
    fund(wallet, [3 * COIN])
    for build in (
        lambda: build_unlock(wallet, registry, collateral),
        lambda: build_operator_update(wallet, registry, UpdateRequest(collateral, _operator(3))),
    ):
        with pytest.raises(MasternodeRequestError, match="not a key of this wallet") as caught:
            build()
        assert caught.value.kind == "not-mine"
    with pytest.raises(MasternodeRequestError, match="no masternode has collateral"):
        build_unlock(wallet, registry, make_outpoint(5))


def test_payments_leave_collaterals_alone(wallet: Wallet) -> None:
    coins = fund(wallet, [BRONZE_UNITS, 2 * COIN])
    collateral = coins[0][0]
    with pytest.raises(InsufficientFundsError):
        wallet.build_and_sign(wallet.addresses()[0], 10 * COIN, exclude={collateral})
    tx = wallet.build_and_sign(wallet.addresses()[0], 1 * COIN, exclude={collateral})
    assert collateral not in {txin.prevout for txin in tx.inputs}

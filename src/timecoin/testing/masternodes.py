"""Masternodes: registered by genesis or by a transaction."""

from __future__ import annotations

from collections.abc import Sequence

from timecoin.chain import GenesisMasternode
from timecoin.crypto import SigningKey, address_from_public_key
from timecoin.params import ChainParams, Tier
from timecoin.testing.transactions import signed_transaction
from timecoin.types import MasternodeRegistration, OutPoint, Transaction

__all__ = ["genesis_masternodes", "registration_transaction"]


def genesis_masternodes(
    operators: Sequence[SigningKey],
    owners: Sequence[SigningKey] | None = None,
    *,
    tier: Tier = Tier.BRONZE,
    first_port: int = 24300,
) -> tuple[GenesisMasternode, ...]:
    """A genesis masternode of `tier` per operator key: owned by `owners[i]`
    (default: the operator key itself), rewards to the owner's address,
    network address 127.0.0.1 at `first_port + i`."""
    owner_keys = operators if owners is None else owners
    if len(owner_keys) != len(operators):
        raise ValueError(f"{len(operators)} operators, {len(owner_keys)} owners")
    return tuple(
        GenesisMasternode(
            tier=tier,
            owner_key=owner.public_key,
            operator_key=operator.public_key,
            reward_address=address_from_public_key(owner.public_key),
            network_address=f"127.0.0.1:{first_port + i}".encode(),
        )
        for i, (owner, operator) in enumerate(zip(owner_keys, operators, strict=True))
    )


def registration_transaction(
    coin: OutPoint,
    amount: int,
    key: SigningKey,
    owner: SigningKey,
    operator: SigningKey,
    params: ChainParams,
    *,
    fee: int,
    tier: Tier = Tier.BRONZE,
    network_address: bytes = b"127.0.0.1:24399",
) -> Transaction:
    """Register a masternode of `tier`, funded by `coin` (holding `amount`, owned
    by `key`): output 0 is the collateral paid to the owner's address, output 1
    the change back to `key`; signed by `key` and by `owner`."""
    collateral = params.tier_params(tier).collateral
    payload = MasternodeRegistration(
        tier=int(tier),
        collateral_index=0,
        owner_key=owner.public_key,
        operator_key=operator.public_key,
        reward_address=address_from_public_key(owner.public_key),
        network_address=network_address,
    )
    outputs = [
        (collateral, address_from_public_key(owner.public_key)),
        (amount - collateral - fee, address_from_public_key(key.public_key)),
    ]
    return signed_transaction([(coin, key)], outputs, params.chain_id, payload=payload, owner=owner)

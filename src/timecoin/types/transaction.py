"""Transactions: inputs, outputs, masternode payloads and their witness."""

from __future__ import annotations

from typing import Annotated, Final

import msgspec
from msgspec import Meta

from timecoin.types.primitives import (
    MAX_LIST_INPUTS,
    MAX_LIST_OUTPUTS,
    U8,
    U16,
    U32,
    U64,
    AddressBytes,
    Amount,
    Hash32,
    NetworkAddress,
    PublicKey,
    Signature,
)

TX_VERSION: Final = 1
NO_COLLATERAL: Final = 0xFFFF_FFFF
"""`collateral_index` of a Free-tier registration, which locks no collateral."""


class OutPoint(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """A reference to output `index` of transaction `txid`."""

    txid: Hash32
    index: U32


class TxInput(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """An input: the coin it spends and the key whose signature authorises it.

    The signature itself is in `Transaction.signatures` at the same index, so
    that the txid, which excludes signatures, covers the public key.
    """

    prevout: OutPoint
    public_key: PublicKey


class TxOutput(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """An output paying `amount` base units to a 20-byte address."""

    amount: Amount
    address: AddressBytes


class MasternodeRegistration(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=1):
    """Registers a masternode; the registration txid is its masternode id.

    For a staked tier, output `collateral_index` of this transaction is the
    collateral: its amount is the tier's collateral and spending it
    deregisters the masternode. A Free registration has `NO_COLLATERAL`.
    The owner signs the txid (`Transaction.owner_signature`).
    """

    tier: U8
    collateral_index: U32
    owner_key: PublicKey
    operator_key: PublicKey
    reward_address: AddressBytes
    network_address: NetworkAddress


class OperatorUpdate(msgspec.Struct, array_like=True, frozen=True, gc=False, tag=2):
    """Replaces a masternode's operator key, reward and network address.

    Signed by the masternode's owner key (`Transaction.owner_signature`).
    """

    masternode_id: Hash32
    operator_key: PublicKey
    reward_address: AddressBytes
    network_address: NetworkAddress


Payload = MasternodeRegistration | OperatorUpdate


class Transaction(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """A transfer of coins, optionally carrying a masternode payload.

    A coinbase has no inputs and `lock_time` equal to its block height.
    `lock_time` of any other transaction is the first height at which it may
    be included (0: always).
    """

    version: U16
    inputs: Annotated[list[TxInput], Meta(max_length=MAX_LIST_INPUTS)]
    outputs: Annotated[list[TxOutput], Meta(max_length=MAX_LIST_OUTPUTS)]
    lock_time: U64
    payload: Payload | None
    signatures: Annotated[list[Signature], Meta(max_length=MAX_LIST_INPUTS)]
    owner_signature: Signature | None

    @property
    def is_coinbase(self) -> bool:
        """True for a block's reward transaction (no inputs)."""
        return not self.inputs


class Coin(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """An unspent output as kept in the UTXO set."""

    amount: Amount
    address: AddressBytes
    height: U64


class SpentCoin(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """A coin removed by a block, kept so the block can be undone."""

    outpoint: OutPoint
    coin: Coin


class ReportedLock(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """A reported lock (ADR 0004): `outpoint` may be spent only by `txid`
    with a finality proof; `txid` None locks it to no transaction (reports
    conflicted), spendable only with a finality proof of an earlier epoch."""

    outpoint: OutPoint
    txid: Hash32 | None


class BlockUndo(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """What `undo_block` needs to restore the UTXO set before a block.

    `released_locks` are the reported locks the block released (it spent
    their outpoints) and `created_locks` the outpoints it locked (an epoch's
    last block); both empty for most blocks.
    """

    spent: Annotated[list[SpentCoin], Meta(max_length=MAX_LIST_INPUTS * 1000)]
    utxo_state_before: Annotated[bytes, Meta(min_length=384, max_length=384)]
    released_locks: Annotated[list[ReportedLock], Meta(max_length=MAX_LIST_INPUTS * 1000)] = []
    created_locks: Annotated[list[OutPoint], Meta(max_length=MAX_LIST_INPUTS * 1000)] = []

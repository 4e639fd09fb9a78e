"""Builders shared by the ledger tests: keys, funded UTXO sets, signed transactions."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from timecoin.crypto import SigningKey, address_from_public_key, sha256
from timecoin.ledger import (
    MemoryUtxoSet,
    compute_input_signing_message,
    compute_owner_signing_message,
)
from timecoin.params import COIN, MINIMAL, ChainParams
from timecoin.types import (
    TX_VERSION,
    Coin,
    OutPoint,
    Payload,
    Transaction,
    TxInput,
    TxOutput,
    compute_txid,
)

PARAMS = MINIMAL
FEE = 10_000
"""A fee comfortably above the minimum of the test parameters."""


def make_key(n: int) -> SigningKey:
    """A deterministic key: seed = 32 bytes of `n`."""
    return SigningKey.from_seed(bytes([n]) * 32)


def address_of(key: SigningKey) -> bytes:
    return address_from_public_key(key.public_key)


def funding_outpoint(n: int) -> OutPoint:
    return OutPoint(txid=sha256(b"funding" + n.to_bytes(4, "big")), index=0)


def funded_set(
    key: SigningKey, amounts: Sequence[int], height: int = 0
) -> tuple[MemoryUtxoSet, list[OutPoint]]:
    """A UTXO set of coins of `amounts` owned by `key`, and their outpoints."""
    outpoints = [funding_outpoint(i) for i in range(len(amounts))]
    coins = {
        op: Coin(amount=amount, address=address_of(key), height=height)
        for op, amount in zip(outpoints, amounts, strict=True)
    }
    return MemoryUtxoSet(coins), outpoints


def make_tx(
    spends: Sequence[tuple[OutPoint, SigningKey]],
    outputs: Sequence[tuple[int, bytes]],
    *,
    lock_time: int = 0,
    payload: Payload | None = None,
    owner: SigningKey | None = None,
    params: ChainParams = PARAMS,
) -> Transaction:
    """A transaction spending `spends`, signed by their keys (and by `owner`)."""
    unsigned = Transaction(
        version=TX_VERSION,
        inputs=[TxInput(prevout=op, public_key=key.public_key) for op, key in spends],
        outputs=[TxOutput(amount=amount, address=address) for amount, address in outputs],
        lock_time=lock_time,
        payload=payload,
        signatures=[],
        owner_signature=None,
    )
    txid = compute_txid(unsigned)
    signatures = [
        key.sign(compute_input_signing_message(params.chain_id, txid, index))
        for index, (_, key) in enumerate(spends)
    ]
    owner_signature = None
    if owner is not None:
        owner_signature = owner.sign(compute_owner_signing_message(params.chain_id, txid))
    return msgspec.structs.replace(unsigned, signatures=signatures, owner_signature=owner_signature)


def make_coinbase(height: int, outputs: Sequence[tuple[int, bytes]]) -> Transaction:
    return Transaction(
        version=TX_VERSION,
        inputs=[],
        outputs=[TxOutput(amount=amount, address=address) for amount, address in outputs],
        lock_time=height,
        payload=None,
        signatures=[],
        owner_signature=None,
    )


def replace(tx: Transaction, **changes: object) -> Transaction:
    """A copy of `tx` with fields changed (signatures are not redone)."""
    return msgspec.structs.replace(tx, **changes)


ALICE = make_key(1)
BOB = make_key(2)
CAROL = make_key(3)
TEN = 10 * COIN

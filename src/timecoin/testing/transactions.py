"""Signed transactions."""

from __future__ import annotations

from collections.abc import Sequence

from timecoin.crypto import SigningKey, address_from_public_key
from timecoin.ledger import sign_transaction
from timecoin.types import TX_VERSION, OutPoint, Payload, Transaction, TxInput, TxOutput

__all__ = ["signed_transaction", "transfer"]


def signed_transaction(
    spends: Sequence[tuple[OutPoint, SigningKey]],
    outputs: Sequence[tuple[int, bytes]],
    chain_id: int,
    *,
    payload: Payload | None = None,
    owner: SigningKey | None = None,
    lock_time: int = 0,
) -> Transaction:
    """A transaction spending `spends` (outpoint, owning key) to `outputs`
    (amount, 20-byte address), each input signed by its key and the payload,
    when there is one, by `owner` (`ledger.sign_transaction`)."""
    unsigned = Transaction(
        version=TX_VERSION,
        inputs=[TxInput(prevout=outpoint, public_key=key.public_key) for outpoint, key in spends],
        outputs=[TxOutput(amount=amount, address=address) for amount, address in outputs],
        lock_time=lock_time,
        payload=payload,
        signatures=[],
        owner_signature=None,
    )
    return sign_transaction(unsigned, [key for _, key in spends], chain_id, owner=owner)


def transfer(
    coin: OutPoint,
    amount: int,
    key: SigningKey,
    to: bytes,
    value: int,
    fee: int,
    chain_id: int,
) -> Transaction:
    """Spend `coin` (holding `amount`, owned by `key`): `value` to address `to`
    and the change, `amount - value - fee`, back to `key`'s address (no change
    output when it is 0)."""
    change = amount - value - fee
    if change < 0:
        raise ValueError(f"{amount} cannot pay {value} and a fee of {fee}")
    outputs = [(value, to)]
    if change:
        outputs.append((change, address_from_public_key(key.public_key)))
    return signed_transaction([(coin, key)], outputs, chain_id)

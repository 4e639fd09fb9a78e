"""Shared builders for the finality tests: four Bronze voters, signed
transactions over made-up coins, and machines wired to them."""

from __future__ import annotations

from collections.abc import Sequence

from timecoin.consensus import (
    BroadcastVotes,
    FinalityConfig,
    FinalityEffect,
    FinalityMachine,
    TransactionFinal,
)
from timecoin.crypto import SigningKey, address_from_public_key, sha256, verify
from timecoin.ledger import compute_input_signing_message
from timecoin.params import MINIMAL, ChainParams
from timecoin.types import (
    TX_VERSION,
    OutPoint,
    Transaction,
    TxInput,
    TxOutput,
    Voter,
    VotingSet,
    compute_txid,
)

PARAMS: ChainParams = MINIMAL
CHAIN_ID = PARAMS.chain_id


def make_key(label: str) -> SigningKey:
    """A deterministic key derived from `label`."""
    return SigningKey.from_seed(sha256(f"finality-tests/{label}".encode()))


OPERATORS = [make_key(f"operator/{i}") for i in range(4)]
OWNER = make_key("owner")


def make_voting_set(epoch: int, weights: Sequence[int] = (1, 1, 1, 1)) -> VotingSet:
    """The committee of the four operators with `weights`."""
    return VotingSet(
        epoch=epoch,
        voters=[
            Voter(masternode_id=sha256(key.public_key), operator_key=key.public_key, weight=w)
            for key, w in zip(OPERATORS, weights, strict=True)
        ],
    )


def coin(label: str, index: int = 0) -> OutPoint:
    """A made-up outpoint (a coin in a block, as far as the machine knows)."""
    return OutPoint(txid=sha256(label.encode()), index=index)


def make_tx(
    spends: Sequence[OutPoint], amount: int = 100_000, *, to: bytes | None = None
) -> Transaction:
    """A transaction spending `spends` (OWNER's coins), signed."""
    address = to if to is not None else address_from_public_key(OWNER.public_key)
    unsigned = Transaction(
        version=TX_VERSION,
        inputs=[TxInput(prevout=op, public_key=OWNER.public_key) for op in spends],
        outputs=[TxOutput(amount=amount, address=address)],
        lock_time=0,
        payload=None,
        signatures=[],
        owner_signature=None,
    )
    txid = compute_txid(unsigned)
    signatures = [
        OWNER.sign(compute_input_signing_message(CHAIN_ID, txid, i)) for i in range(len(spends))
    ]
    return Transaction(
        version=unsigned.version,
        inputs=unsigned.inputs,
        outputs=unsigned.outputs,
        lock_time=0,
        payload=None,
        signatures=signatures,
        owner_signature=None,
    )


def make_machine(
    index: int | None,
    voting_set: VotingSet | None = None,
    config: FinalityConfig | None = None,
) -> FinalityMachine:
    """A machine for operator `index` (None: a non-voting node)."""
    return FinalityMachine(
        params=PARAMS,
        voting_set=voting_set if voting_set is not None else make_voting_set(0),
        verifier=verify,
        signer=None if index is None else OPERATORS[index],
        config=config,
    )


def batches(effects: Sequence[FinalityEffect]) -> list[BroadcastVotes]:
    """The vote batches among `effects`."""
    return [e for e in effects if isinstance(e, BroadcastVotes)]


def finals(effects: Sequence[FinalityEffect]) -> list[TransactionFinal]:
    """The finality announcements among `effects`."""
    return [e for e in effects if isinstance(e, TransactionFinal)]

"""Builders shared by the masternode tests: keys, payload transactions,
genesis blocks, and a small chain driver over the registry."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from timecoin.crypto import SigningKey, address_from_public_key, sha256
from timecoin.ledger import compute_owner_signing_message
from timecoin.masternode import (
    RegistryState,
    RegistryUndo,
    process_block_registry,
    registry_from_genesis,
)
from timecoin.params import COIN, MINIMAL, ChainParams, Tier
from timecoin.types import (
    BLOCK_VERSION,
    NO_COLLATERAL,
    TX_VERSION,
    ZERO_HASH,
    Block,
    BlockHeader,
    Heartbeat,
    MasternodeRegistration,
    OperatorUpdate,
    OutPoint,
    Payload,
    Transaction,
    TxInput,
    TxOutput,
    compute_txid,
)

PARAMS = MINIMAL
"""epoch_length 4, max_voters 7."""

FUNDS_KEY = SigningKey.from_seed(sha256(b"masternode-tests/funds"))
DUMMY_SIGNATURE = bytes(64)
"""Input signatures are the ledger's business; the registry never reads them."""


def make_key(label: str | int) -> SigningKey:
    """A deterministic key derived from `label`."""
    return SigningKey.from_seed(sha256(f"masternode-tests/{label}".encode()))


def funding_outpoint(label: str | int) -> OutPoint:
    """A unique outpoint standing for a coin that pays a transaction's fee."""
    return OutPoint(sha256(f"masternode-tests/coin/{label}".encode()), 0)


def block_hash(height: int) -> bytes:
    """The stand-in hash of block `height` in test chains."""
    return sha256(b"masternode-tests/block" + height.to_bytes(8, "big"))


def _signed(
    inputs: Sequence[OutPoint],
    outputs: Sequence[TxOutput],
    payload: Payload | None,
    owner: SigningKey | None,
    params: ChainParams,
) -> Transaction:
    tx = Transaction(
        version=TX_VERSION,
        inputs=[TxInput(op, FUNDS_KEY.public_key) for op in inputs],
        outputs=list(outputs),
        lock_time=0,
        payload=payload,
        signatures=[DUMMY_SIGNATURE] * len(inputs),
        owner_signature=None,
    )
    if owner is None:
        return tx
    message = compute_owner_signing_message(params.chain_id, compute_txid(tx))
    return Transaction(
        version=tx.version,
        inputs=tx.inputs,
        outputs=tx.outputs,
        lock_time=tx.lock_time,
        payload=tx.payload,
        signatures=tx.signatures,
        owner_signature=owner.sign(message),
    )


def registration_tx(
    owner: SigningKey,
    operator_key: bytes,
    tier: Tier,
    *,
    params: ChainParams = PARAMS,
    funding: str | int | None = None,
    extra_inputs: Sequence[OutPoint] = (),
    collateral_amount: int | None = None,
    genesis: bool = False,
) -> Transaction:
    """A registration of `tier`; a staked one locks output 0 to the owner's address."""
    owner_address = address_from_public_key(owner.public_key)
    if tier == Tier.FREE:
        outputs = [TxOutput(COIN, owner_address)]
        collateral_index = NO_COLLATERAL
    else:
        amount = params.tier_params(tier).collateral
        outputs = [TxOutput(collateral_amount or amount, owner_address)]
        collateral_index = 0
    payload = MasternodeRegistration(
        tier=int(tier),
        collateral_index=collateral_index,
        owner_key=owner.public_key,
        operator_key=operator_key,
        reward_address=owner_address,
        network_address=b"127.0.0.1:24300",
    )
    label = funding if funding is not None else owner.public_key.hex() + operator_key.hex()
    inputs = [] if genesis else [funding_outpoint(label), *extra_inputs]
    return _signed(inputs, outputs, payload, None if genesis else owner, params)


def update_tx(
    masternode_id: bytes,
    signer: SigningKey | None,
    operator_key: bytes,
    *,
    params: ChainParams = PARAMS,
    funding: str | int | None = None,
    reward_address: bytes | None = None,
    network_address: bytes = b"10.0.0.1:24300",
    extra_inputs: Sequence[OutPoint] = (),
) -> Transaction:
    """An operator update signed by `signer` (None: no owner signature)."""
    payload = OperatorUpdate(
        masternode_id=masternode_id,
        operator_key=operator_key,
        reward_address=reward_address or bytes(20),
        network_address=network_address,
    )
    label = funding if funding is not None else "update" + masternode_id.hex() + operator_key.hex()
    return _signed(
        [funding_outpoint(label), *extra_inputs],
        [TxOutput(COIN, bytes(20))],
        payload,
        signer,
        params,
    )


def spend_tx(outpoints: Iterable[OutPoint], *, funding: str | int = "spend") -> Transaction:
    """A plain transaction spending `outpoints` (and a fee coin)."""
    return _signed(
        [funding_outpoint(funding), *outpoints], [TxOutput(COIN, bytes(20))], None, None, PARAMS
    )


def genesis_block(transactions: Sequence[Transaction], *, height: int = 0) -> Block:
    """A genesis block around `transactions` (only the registry reads it)."""
    header = BlockHeader(
        version=BLOCK_VERSION,
        chain_id=PARAMS.chain_id,
        height=height,
        epoch=0,
        prev_hash=ZERO_HASH,
        timestamp_ms=0,
        proposer=bytes(32),
        tx_root=ZERO_HASH,
        witness_root=ZERO_HASH,
        prev_certificate_hash=ZERO_HASH,
        evidence_hash=ZERO_HASH,
        attestations_hash=ZERO_HASH,
        utxo_commitment=ZERO_HASH,
        next_voting_set_hash=ZERO_HASH,
    )
    return Block(header, list(transactions), None, [], [])


def genesis_state(tiers: Sequence[Tier], *, params: ChainParams = PARAMS) -> RegistryState:
    """The registry after a genesis with one masternode per element of `tiers`;
    owner key `make_key(f"owner{i}")`, operator key `make_key(f"op{i}")`."""
    txs = [
        registration_tx(
            make_key(f"owner{i}"),
            make_key(f"op{i}").public_key,
            tier,
            params=params,
            genesis=True,
            funding=f"genesis{i}",
        )
        for i, tier in enumerate(tiers)
    ]
    return registry_from_genesis(genesis_block(txs), params)


def process(
    state: RegistryState,
    transactions: Sequence[Transaction] = (),
    offenders: Sequence[bytes] = (),
    *,
    params: ChainParams = PARAMS,
    heartbeats: Sequence[Heartbeat] = (),
) -> tuple[RegistryState, RegistryUndo]:
    """Process the next block of a test chain (`heartbeats` as if verified)."""
    height = state.height + 1
    return process_block_registry(
        state,
        height,
        block_hash(height - 1),
        transactions,
        [compute_txid(tx) for tx in transactions],
        offenders,
        params,
        heartbeats=heartbeats,
    )


def advance(state: RegistryState, blocks: int, *, params: ChainParams = PARAMS) -> RegistryState:
    """Process `blocks` empty blocks."""
    for _ in range(blocks):
        state, _undo = process(state, params=params)
    return state


def advance_to_boundary(state: RegistryState, *, params: ChainParams = PARAMS) -> RegistryState:
    """Process empty blocks up to and including the last block of the current epoch."""
    remaining = params.epoch_length - 1 - (state.height + 1) % params.epoch_length
    return advance(state, remaining + 1, params=params)

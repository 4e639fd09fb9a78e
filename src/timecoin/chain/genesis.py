"""The devnet (and test) genesis block, built deterministically from a spec.

Genesis is the one block whose transactions have no inputs and no
signatures: an allocation transaction paying the initial balances, then one
registration per initial masternode whose output 0 is its collateral, paid
to the owner key's address (a Free masternode's registration has no
output). Nothing is signed; the block hash of a spec is fixed by the spec
alone, so every node builds the same genesis from the same configuration.
docs/spec/ledger.md describes the layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NoReturn

from msgspec.structs import replace

from timecoin.crypto import MuHash3072, address_from_public_key
from timecoin.ledger import MemoryUtxoSet, UtxoDelta, apply_block, check_registration
from timecoin.ledger.errors import REJECT_BAD_GENESIS
from timecoin.masternode import next_voting_set_hash, registry_from_genesis
from timecoin.params import MAX_MONEY, ChainParams, Tier
from timecoin.types import (
    BLOCK_VERSION,
    NO_COLLATERAL,
    TX_VERSION,
    ZERO_HASH,
    Block,
    BlockHeader,
    Coin,
    InvalidBlock,
    InvalidTransaction,
    MasternodeRegistration,
    OutPoint,
    Transaction,
    TxOutput,
    compute_attestations_hash,
    compute_certificate_hash,
    compute_evidence_hash,
    compute_tx_roots,
)

GENESIS_PROPOSER = bytes(32)
"""The proposer field of genesis: nobody proposed it."""

_KEY_BYTES = 32
_ADDRESS_BYTES = 20
_MAX_TIMESTAMP_MS = 2**63 - 1


@dataclass(frozen=True, slots=True)
class GenesisMasternode:
    """A masternode registered by genesis.

    A staked tier's collateral is created by genesis (it is not part of the
    allocations) and paid to the owner key's address.
    """

    tier: Tier
    owner_key: bytes
    operator_key: bytes
    reward_address: bytes
    network_address: bytes


@dataclass(frozen=True, slots=True)
class GenesisSpec:
    """Everything the genesis block is built from.

    `allocations` are (20-byte address, amount in base units) pairs, paid in
    this order by the allocation transaction.
    """

    params: ChainParams
    timestamp_ms: int
    allocations: tuple[tuple[bytes, int], ...] = ()
    masternodes: tuple[GenesisMasternode, ...] = ()


@dataclass(frozen=True, slots=True)
class GenesisState:
    """The genesis block and the UTXO set it creates."""

    block: Block
    delta: UtxoDelta
    utxo_state: MuHash3072 = field(compare=False)


def build_genesis_state(spec: GenesisSpec) -> GenesisState:
    """Build the genesis block of `spec`, with its UTXO delta and commitment.

    The header's `next_voting_set_hash` commits to the voting set that
    `registry_from_genesis` computes from the block.

    Raises:
        InvalidBlock: bad-genesis, when the spec breaks a limit (message
            names the entry); the code of a broken registration rule (e.g.
            duplicate-owner-key) from `registry_from_genesis`.
    """
    params = spec.params
    _check_spec(spec)
    transactions = [_allocation_transaction(spec)]
    transactions.extend(_registration_transaction(mn, params) for mn in spec.masternodes)
    for index, tx in enumerate(transactions[1:], start=1):
        payload = tx.payload
        if not isinstance(payload, MasternodeRegistration):
            raise AssertionError("genesis registration without a registration payload")
        try:
            check_registration(tx, payload, params)
        except InvalidTransaction as exc:
            raise InvalidBlock(
                REJECT_BAD_GENESIS, f"masternode {index - 1}: {exc.message}"
            ) from exc
    utxo_state = MuHash3072()
    _, delta = apply_block(transactions, 0, MemoryUtxoSet(), utxo_state, params, genesis=True)
    tx_root, witness_root = compute_tx_roots(transactions)
    header = BlockHeader(
        version=BLOCK_VERSION,
        chain_id=params.chain_id,
        height=0,
        epoch=0,
        prev_hash=ZERO_HASH,
        timestamp_ms=spec.timestamp_ms,
        proposer=GENESIS_PROPOSER,
        tx_root=tx_root,
        witness_root=witness_root,
        prev_certificate_hash=compute_certificate_hash(None),
        evidence_hash=compute_evidence_hash([]),
        attestations_hash=compute_attestations_hash([]),
        utxo_commitment=utxo_state.digest(),
        next_voting_set_hash=ZERO_HASH,
    )
    block = Block(
        header=header,
        transactions=transactions,
        prev_certificate=None,
        evidence=[],
        attestations=[],
    )
    # The registry reads only the header's height and prev_hash, so it can be
    # computed from the block before its voting-set commitment is filled in.
    registry = registry_from_genesis(block, params)
    header = replace(header, next_voting_set_hash=next_voting_set_hash(registry))
    block = replace(block, header=header)
    return GenesisState(block=block, delta=delta, utxo_state=utxo_state)


def build_genesis(spec: GenesisSpec) -> Block:
    """The genesis block of `spec` (deterministic: same spec, same bytes).

    Raises:
        InvalidBlock: bad-genesis.
    """
    return build_genesis_state(spec).block


def genesis_utxo(spec: GenesisSpec) -> tuple[dict[OutPoint, Coin], MuHash3072]:
    """The UTXO set after genesis and its commitment state.

    Raises:
        InvalidBlock: bad-genesis.
    """
    state = build_genesis_state(spec)
    return dict(state.delta.created), state.utxo_state


def _allocation_transaction(spec: GenesisSpec) -> Transaction:
    return Transaction(
        version=TX_VERSION,
        inputs=[],
        outputs=[TxOutput(amount=amount, address=address) for address, amount in spec.allocations],
        lock_time=0,
        payload=None,
        signatures=[],
        owner_signature=None,
    )


def _registration_transaction(mn: GenesisMasternode, params: ChainParams) -> Transaction:
    outputs: list[TxOutput] = []
    collateral_index = NO_COLLATERAL
    if mn.tier != Tier.FREE:
        collateral_index = 0
        collateral = params.tiers[int(mn.tier)].collateral
        outputs.append(TxOutput(amount=collateral, address=address_from_public_key(mn.owner_key)))
    return Transaction(
        version=TX_VERSION,
        inputs=[],
        outputs=outputs,
        lock_time=0,
        payload=MasternodeRegistration(
            tier=int(mn.tier),
            collateral_index=collateral_index,
            owner_key=mn.owner_key,
            operator_key=mn.operator_key,
            reward_address=mn.reward_address,
            network_address=mn.network_address,
        ),
        signatures=[],
        owner_signature=None,
    )


def _check_spec(spec: GenesisSpec) -> None:
    params = spec.params
    if not 0 <= spec.timestamp_ms <= _MAX_TIMESTAMP_MS:
        _reject(f"timestamp: expected 0..{_MAX_TIMESTAMP_MS} ms, got {spec.timestamp_ms}")
    if len(spec.allocations) > params.sizes.max_tx_outputs:
        _reject(
            f"allocations: expected at most {params.sizes.max_tx_outputs}, "
            f"got {len(spec.allocations)}"
        )
    if 1 + len(spec.masternodes) > params.sizes.max_block_transactions:
        _reject(
            f"masternodes: expected at most {params.sizes.max_block_transactions - 1}, "
            f"got {len(spec.masternodes)}"
        )
    minimum = max(params.dust_limit, 1)
    total = 0
    for index, (address, amount) in enumerate(spec.allocations):
        if len(address) != _ADDRESS_BYTES:
            _reject(f"allocation {index}: expected a 20-byte address, got {len(address)} bytes")
        if not minimum <= amount <= MAX_MONEY:
            _reject(
                f"allocation {index}: expected an amount in {minimum}..{MAX_MONEY}, got {amount}"
            )
        total += amount
    operator_keys: set[bytes] = set()
    for index, mn in enumerate(spec.masternodes):
        if not 0 <= int(mn.tier) < len(params.tiers):
            _reject(
                f"masternode {index}: expected a tier 0..{len(params.tiers) - 1}, got {mn.tier}"
            )
        for name, value, size in (
            ("owner key", mn.owner_key, _KEY_BYTES),
            ("operator key", mn.operator_key, _KEY_BYTES),
            ("reward address", mn.reward_address, _ADDRESS_BYTES),
        ):
            if len(value) != size:
                _reject(f"masternode {index}: expected a {size}-byte {name}, got {len(value)}")
        if mn.operator_key in operator_keys:
            _reject(f"masternode {index}: expected a distinct operator key, got a repeat")
        operator_keys.add(mn.operator_key)
        total += params.tiers[int(mn.tier)].collateral
    if total > MAX_MONEY:
        _reject(f"total supply: expected at most {MAX_MONEY}, got {total}")


def _reject(message: str) -> NoReturn:
    raise InvalidBlock(REJECT_BAD_GENESIS, message)

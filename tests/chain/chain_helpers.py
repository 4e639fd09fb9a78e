"""Builders shared by the chain tests: keys, a genesis with four Bronze
masternodes and a funded address, signed transactions, certificates,
evidence, and a node that follows a chain."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec

from timecoin.chain import (
    AppliedBlock,
    ChainState,
    GenesisMasternode,
    GenesisSpec,
    build_block,
    build_genesis,
    chain_state_from_genesis,
    compute_proposal_signing_message,
    compute_vote_signing_message,
    validate_block,
    voting_set_at,
)
from timecoin.crypto import SigningKey, address_from_public_key, sha256, verify
from timecoin.ledger import (
    MemoryUtxoSet,
)
from timecoin.params import COIN, MINIMAL, Tier
from timecoin.testing import certify, signed_transaction
from timecoin.types import (
    Block,
    BlockHeader,
    Certificate,
    DuplicateProposalEvidence,
    DuplicateVoteEvidence,
    Evidence,
    MasternodeRegistration,
    OutPoint,
    Payload,
    Proposal,
    Transaction,
    Vote,
    VoteType,
    compute_attestations_hash,
    compute_certificate_hash,
    compute_evidence_hash,
    compute_tx_roots,
    compute_txid,
)

PARAMS = MINIMAL
"""epoch_length 4, max_voters 7, block interval 1 s."""
GENESIS_TS = 1_767_225_600_000
FEE = 10_000
BRONZE = PARAMS.tier_params(Tier.BRONZE).collateral


def make_key(label: str) -> SigningKey:
    """A deterministic key derived from `label`."""
    return SigningKey.from_seed(sha256(f"chain-tests/{label}".encode()))


def address_of(key: SigningKey) -> bytes:
    return address_from_public_key(key.public_key)


ALICE = make_key("alice")
BOB = make_key("bob")
OWNERS = [make_key(f"owner/{i}") for i in range(4)]
OPERATORS = [make_key(f"operator/{i}") for i in range(4)]
ALLOCATIONS = 8
ALLOCATION_AMOUNT = 2_000 * COIN

KEYS: dict[bytes, SigningKey] = {}
"""Every key the tests sign with, by public key."""


def remember(*keys: SigningKey) -> None:
    for key in keys:
        KEYS[key.public_key] = key


remember(ALICE, BOB, *OWNERS, *OPERATORS)


def genesis_spec() -> GenesisSpec:
    return GenesisSpec(
        params=PARAMS,
        timestamp_ms=GENESIS_TS,
        allocations=tuple((address_of(ALICE), ALLOCATION_AMOUNT) for _ in range(ALLOCATIONS)),
        masternodes=tuple(
            GenesisMasternode(
                tier=Tier.BRONZE,
                owner_key=owner.public_key,
                operator_key=operator.public_key,
                reward_address=address_of(owner),
                network_address=f"127.0.0.1:{24300 + i}".encode(),
            )
            for i, (owner, operator) in enumerate(zip(OWNERS, OPERATORS, strict=True))
        ),
    )


GENESIS = build_genesis(genesis_spec())
ALLOCATION_TXID = compute_txid(GENESIS.transactions[0])
GENESIS_MASTERNODE_IDS = [compute_txid(tx) for tx in GENESIS.transactions[1:]]


def allocation(index: int) -> OutPoint:
    """The genesis coin `index` of ALICE."""
    return OutPoint(ALLOCATION_TXID, index)


def collateral_of(masternode_id: bytes) -> OutPoint:
    return OutPoint(masternode_id, 0)


def make_tx(
    spends: Sequence[tuple[OutPoint, SigningKey]],
    outputs: Sequence[tuple[int, bytes]],
    *,
    payload: Payload | None = None,
    owner: SigningKey | None = None,
    lock_time: int = 0,
) -> Transaction:
    """A transaction spending `spends`, signed by their keys (and by `owner`)."""
    return signed_transaction(
        spends, outputs, PARAMS.chain_id, payload=payload, owner=owner, lock_time=lock_time
    )


def transfer(
    coin: OutPoint, amount: int, key: SigningKey, to: SigningKey, value: int | None = None
) -> Transaction:
    """Spend `coin` (of `amount`, owned by `key`): `value` (default half) to
    `to`, the change back to `key`, FEE to the block."""
    paid = amount // 2 if value is None else value
    return make_tx([(coin, key)], [(paid, address_of(to)), (amount - paid - FEE, address_of(key))])


def registration(
    coin: OutPoint, amount: int, key: SigningKey, owner: SigningKey, operator: SigningKey
) -> Transaction:
    """Register a Bronze masternode, funded by `coin` of `key`."""
    remember(owner, operator)
    payload = MasternodeRegistration(
        tier=int(Tier.BRONZE),
        collateral_index=0,
        owner_key=owner.public_key,
        operator_key=operator.public_key,
        reward_address=address_of(owner),
        network_address=b"127.0.0.1:24399",
    )
    outputs = [(BRONZE, address_of(owner)), (amount - BRONZE - FEE, address_of(key))]
    return make_tx([(coin, key)], outputs, payload=payload, owner=owner)


def sign_with(public_key: bytes, message: bytes) -> bytes:
    return KEYS[public_key].sign(message)


def make_certificate(
    state: ChainState, *, voters: Sequence[int] | None = None, round: int = 0
) -> Certificate | None:
    """The certificate of `state`'s tip, signed by the voters at `voters`
    (default: all) of the voting set of the tip's height."""
    if state.height == 0:
        return None
    return certify(state, KEYS, voters=voters, round=round)


def proposer_for(state: ChainState) -> bytes:
    """A member of the voting set of the next height (rotating by height)."""
    voting_set = voting_set_at(state, state.height + 1)
    assert voting_set is not None and voting_set.voters
    return voting_set.voters[(state.height + 1) % len(voting_set.voters)].operator_key


def make_vote(key: SigningKey, height: int, round: int, block_hash: bytes) -> Vote:
    message = compute_vote_signing_message(
        PARAMS.chain_id, VoteType.PREVOTE, height, round, block_hash
    )
    return Vote(
        vote_type=int(VoteType.PREVOTE),
        height=height,
        round=round,
        block_hash=block_hash,
        voter=key.public_key,
        signature=key.sign(message),
    )


def make_proposal(key: SigningKey, height: int, round: int, block_hash: bytes) -> Proposal:
    message = compute_proposal_signing_message(
        PARAMS.chain_id, height, round, -1, block_hash, GENESIS_TS
    )
    return Proposal(
        height=height,
        round=round,
        pol_round=-1,
        block_hash=block_hash,
        timestamp_ms=GENESIS_TS,
        proposer=key.public_key,
        signature=key.sign(message),
    )


def vote_evidence(key: SigningKey, height: int, round: int = 0) -> DuplicateVoteEvidence:
    """Canonical evidence of `key` prevoting for two blocks at (height, round)."""
    a = make_vote(key, height, round, sha256(b"block a"))
    b = make_vote(key, height, round, sha256(b"block b"))
    if msgspec.msgpack.encode(b) < msgspec.msgpack.encode(a):
        a, b = b, a
    return DuplicateVoteEvidence(vote_a=a, vote_b=b)


def proposal_evidence(key: SigningKey, height: int, round: int = 0) -> DuplicateProposalEvidence:
    """Canonical evidence of `key` proposing two blocks at (height, round)."""
    a = make_proposal(key, height, round, sha256(b"block a"))
    b = make_proposal(key, height, round, sha256(b"block b"))
    if msgspec.msgpack.encode(b) < msgspec.msgpack.encode(a):
        a, b = b, a
    return DuplicateProposalEvidence(proposal_a=a, proposal_b=b)


@dataclass
class Node:
    """A node following the chain: its state and UTXO set."""

    state: ChainState
    view: MemoryUtxoSet
    applied: list[AppliedBlock] = field(default_factory=list)
    headers: list[BlockHeader] = field(default_factory=list)

    @classmethod
    def from_genesis(cls, genesis: Block = GENESIS) -> Node:
        state, delta = chain_state_from_genesis(genesis, PARAMS)
        return cls(state, MemoryUtxoSet(delta.created), [], [genesis.header])

    def accept(self, applied: AppliedBlock) -> None:
        self.view.apply_delta(applied.delta)
        self.state = applied.state_after
        self.applied.append(applied)
        self.headers.append(applied.block.header)

    def build(
        self,
        transactions: Sequence[Transaction] = (),
        *,
        evidence: Sequence[Evidence] = (),
        proposer: bytes | None = None,
        timestamp_ms: int | None = None,
    ) -> AppliedBlock:
        """A valid next block (not applied)."""
        return build_block(
            self.state,
            self.view,
            transactions,
            timestamp_ms=(
                self.state.header.timestamp_ms + PARAMS.block_interval_ms
                if timestamp_ms is None
                else timestamp_ms
            ),
            proposer=proposer_for(self.state) if proposer is None else proposer,
            prev_certificate=make_certificate(self.state),
            evidence=evidence,
            verifier=verify,
        )

    def validate(self, block: Block) -> AppliedBlock:
        return validate_block(block, self.state, self.view, verifier=verify)


def reseal(block: Block, **header_changes: object) -> Block:
    """`block` with its body commitments recomputed, then `header_changes` applied."""
    tx_root, witness_root = compute_tx_roots(block.transactions)
    header = msgspec.structs.replace(
        block.header,
        tx_root=tx_root,
        witness_root=witness_root,
        prev_certificate_hash=compute_certificate_hash(block.prev_certificate),
        evidence_hash=compute_evidence_hash(block.evidence),
        attestations_hash=compute_attestations_hash(block.attestations),
    )
    return msgspec.structs.replace(block, header=msgspec.structs.replace(header, **header_changes))

"""A small chain with staked and Free masternodes that send heartbeats:
keys, genesis, attested heartbeats signed by the right witnesses, and a
node that builds and validates blocks. Shared by tests/heartbeat and
tests/rewards (which puts this directory on its path)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from timecoin.chain import (
    AppliedBlock,
    ChainState,
    GenesisMasternode,
    GenesisSpec,
    build_block,
    build_genesis,
    chain_state_from_genesis,
    get_next_block_witnesses,
    validate_block,
    voting_set_at,
)
from timecoin.crypto import SigningKey, address_from_public_key, sha256, verify
from timecoin.ledger import MemoryUtxoSet
from timecoin.masternode import sign_attestation, sign_heartbeat
from timecoin.params import COIN, MINIMAL, Tier
from timecoin.testing import certify
from timecoin.types import (
    AttestedHeartbeat,
    Block,
    Certificate,
    Transaction,
    compute_txid,
)

PARAMS = MINIMAL
"""epoch_length 4, reward windows of 2 blocks, grace 2 windows, removal after 4."""
GENESIS_TS = 1_767_225_600_000


def make_key(label: str) -> SigningKey:
    """A deterministic key derived from `label`."""
    return SigningKey.from_seed(sha256(f"heartbeat-tests/{label}".encode()))


def address_of(key: SigningKey) -> bytes:
    return address_from_public_key(key.public_key)


TIERS = (Tier.GOLD, Tier.SILVER, Tier.BRONZE, Tier.BRONZE, Tier.BRONZE, Tier.FREE, Tier.FREE)
"""Five staked masternodes (so each has four candidate witnesses) and two Free ones."""
OWNERS = [make_key(f"owner/{i}") for i in range(len(TIERS))]
OPERATORS = [make_key(f"operator/{i}") for i in range(len(TIERS))]
KEYS: dict[bytes, SigningKey] = {k.public_key: k for k in [*OWNERS, *OPERATORS]}
FUNDS = make_key("funds")
FUNDING = 1_000 * COIN

GENESIS = build_genesis(
    GenesisSpec(
        params=PARAMS,
        timestamp_ms=GENESIS_TS,
        allocations=tuple((address_of(FUNDS), FUNDING) for _ in range(4)),
        masternodes=tuple(
            GenesisMasternode(
                tier=tier,
                owner_key=OWNERS[i].public_key,
                operator_key=OPERATORS[i].public_key,
                reward_address=address_of(OWNERS[i]),
                network_address=f"127.0.0.1:{25000 + i}".encode(),
            )
            for i, tier in enumerate(TIERS)
        ),
    )
)
MASTERNODE_IDS = [compute_txid(tx) for tx in GENESIS.transactions[1:]]
"""Masternode id of index i (genesis registration i+1; transaction 0 holds the allocations)."""
STAKED = [i for i, tier in enumerate(TIERS) if tier != Tier.FREE]
FREE = [i for i, tier in enumerate(TIERS) if tier == Tier.FREE]


def index_of_id(masternode_id: bytes) -> int:
    return MASTERNODE_IDS.index(masternode_id)


def attest(
    state: ChainState,
    index: int,
    sequence: int,
    *,
    witnesses: int | None = None,
    timestamp_ms: int | None = None,
) -> AttestedHeartbeat:
    """Masternode `index`'s heartbeat for the block after `state`, attested by
    the first `witnesses` of its witnesses (default: all), sorted by key."""
    masternode_id = MASTERNODE_IDS[index]
    window, seed, chosen = get_next_block_witnesses(state, masternode_id)
    heartbeat = sign_heartbeat(
        OPERATORS[index],
        PARAMS.chain_id,
        masternode_id,
        sequence,
        state.header.timestamp_ms if timestamp_ms is None else timestamp_ms,
    )
    signers = chosen if witnesses is None else chosen[:witnesses]
    attestations = [
        sign_attestation(KEYS[v.operator_key], PARAMS.chain_id, heartbeat, window, seed)
        for v in signers
    ]
    attestations.sort(key=lambda a: a.witness)
    return AttestedHeartbeat(heartbeat=heartbeat, attestations=attestations)


def make_certificate(state: ChainState) -> Certificate | None:
    """The certificate of `state`'s tip signed by every voter."""
    return None if state.height == 0 else certify(state, KEYS)


def proposer_for(state: ChainState) -> bytes:
    voting_set = voting_set_at(state, state.height + 1)
    assert voting_set is not None and voting_set.voters
    return voting_set.voters[(state.height + 1) % len(voting_set.voters)].operator_key


@dataclass
class Node:
    """A node following the test chain: its state and UTXO set."""

    state: ChainState
    view: MemoryUtxoSet
    applied: list[AppliedBlock] = field(default_factory=list)

    @classmethod
    def from_genesis(cls) -> Node:
        state, delta = chain_state_from_genesis(GENESIS, PARAMS)
        return cls(state, MemoryUtxoSet(delta.created))

    def build(
        self,
        transactions: Sequence[Transaction] = (),
        *,
        attestations: Sequence[AttestedHeartbeat] = (),
        proposer: bytes | None = None,
    ) -> AppliedBlock:
        """A valid next block (not applied)."""
        return build_block(
            self.state,
            self.view,
            transactions,
            timestamp_ms=self.state.header.timestamp_ms + PARAMS.block_interval_ms,
            proposer=proposer_for(self.state) if proposer is None else proposer,
            prev_certificate=make_certificate(self.state),
            attestations=attestations,
            verifier=verify,
        )

    def validate(self, block: Block) -> AppliedBlock:
        return validate_block(block, self.state, self.view, verifier=verify)

    def accept(self, applied: AppliedBlock) -> None:
        self.view.apply_delta(applied.delta)
        self.state = applied.state_after
        self.applied.append(applied)

    def step(
        self,
        transactions: Sequence[Transaction] = (),
        *,
        heartbeats_from: Sequence[int] = (),
        sequence: int | None = None,
    ) -> AppliedBlock:
        """Build, validate (as a peer would) and apply the next block, carrying
        heartbeats of the masternodes `heartbeats_from` that have none in the
        window yet; the sequence defaults to the next height."""
        seq = self.state.height + 1 if sequence is None else sequence
        window = (self.state.height + 1) // PARAMS.reward_window_blocks
        carried = []
        for index in sorted(heartbeats_from, key=lambda i: MASTERNODE_IDS[i]):
            entry = next(
                e for e in self.state.registry.entries if e.masternode_id == MASTERNODE_IDS[index]
            )
            if entry.last_heartbeat_window != window:
                carried.append(attest(self.state, index, seq))
        built = self.build(transactions, attestations=carried)
        checked = self.validate(built.block)
        assert checked.block_hash == built.block_hash
        self.accept(checked)
        return checked

"""Chains for the sync tests: a genesis with four Bronze masternodes on the
minimal preset (an epoch every 4 blocks, so voting sets change often), blocks
built and certified by them, and the certified headers a peer would serve."""

from __future__ import annotations

from dataclasses import dataclass, field

from timecoin import testing
from timecoin.chain import (
    ChainState,
    GenesisMasternode,
    GenesisSpec,
    build_block,
    build_genesis,
    chain_state_from_genesis,
    voting_set_at,
)
from timecoin.crypto import SigningKey, address_from_public_key, sha256, verify
from timecoin.ledger import MemoryUtxoSet
from timecoin.params import COIN, MINIMAL, Tier
from timecoin.sync import TipInfo
from timecoin.types import (
    Block,
    BlockHeader,
    Certificate,
    VotingSet,
    compute_block_hash,
)

PARAMS = MINIMAL
GENESIS_TS = 1_767_225_600_000


def make_key(label: str) -> SigningKey:
    """A deterministic key derived from `label`."""
    return SigningKey.from_seed(sha256(f"sync-tests/{label}".encode()))


OPERATORS = [make_key(f"operator/{i}") for i in range(4)]
OWNERS = [make_key(f"owner/{i}") for i in range(4)]
OUTSIDERS = [make_key(f"outsider/{i}") for i in range(4)]
KEYS = {key.public_key: key for key in (*OPERATORS, *OUTSIDERS)}

GENESIS = build_genesis(
    GenesisSpec(
        params=PARAMS,
        timestamp_ms=GENESIS_TS,
        allocations=((address_from_public_key(make_key("alice").public_key), 1_000 * COIN),),
        masternodes=tuple(
            GenesisMasternode(
                tier=Tier.BRONZE,
                owner_key=owner.public_key,
                operator_key=operator.public_key,
                reward_address=address_from_public_key(owner.public_key),
                network_address=f"127.0.0.1:{25000 + i}".encode(),
            )
            for i, (owner, operator) in enumerate(zip(OWNERS, OPERATORS, strict=True))
        ),
    )
)


@dataclass(frozen=True, slots=True)
class Entry:
    """A certified header as served (implements `timecoin.sync.CertifiedHeader`)."""

    header: BlockHeader
    certificate: Certificate
    voting_set: VotingSet | None


def certify(
    state: ChainState, signers: list[SigningKey] | None = None, round: int = 0
) -> Certificate:
    """Precommits for `state`'s tip by `signers` at voter indices 0, 1, ...
    (default: the whole voting set with its own keys)."""
    if signers is None:
        return testing.certify(state, KEYS, round=round)
    return testing.sign_certificate(
        PARAMS.chain_id, state.height, round, state.block_hash, enumerate(signers)
    )


@dataclass
class Chain:
    """A certified chain: states, blocks and certificates by height."""

    states: list[ChainState] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    certificates: list[Certificate | None] = field(default_factory=list)

    @classmethod
    def build(cls, length: int, *, timestamp_step_ms: int = 0) -> Chain:
        """Genesis and `length` blocks (empty but the coinbase)."""
        chain = cls.genesis_only()
        chain.extend(length, timestamp_step_ms=timestamp_step_ms)
        return chain

    @classmethod
    def genesis_only(cls) -> Chain:
        """Just genesis."""
        state, _ = chain_state_from_genesis(GENESIS, PARAMS)
        return cls([state], [GENESIS], [None])

    def fork_at(self, height: int, length: int) -> Chain:
        """A chain sharing blocks up to `height - 1`, then `length` other blocks
        (later timestamps), certified by the same voting sets."""
        chain = Chain(self.states[:height], self.blocks[:height], self.certificates[:height])
        chain.extend(length, timestamp_step_ms=7)
        return chain

    def extend(self, count: int, *, timestamp_step_ms: int = 0) -> None:
        """Add `count` certified blocks."""
        for _ in range(count):
            state = self.states[-1]
            voting_set = voting_set_at(state, state.height + 1)
            if voting_set is None:
                raise AssertionError("no voting set")
            applied = build_block(
                state,
                MemoryUtxoSet(),
                [],
                timestamp_ms=state.header.timestamp_ms
                + PARAMS.block_interval_ms
                + timestamp_step_ms,
                proposer=voting_set.voters[
                    (state.height + 1) % len(voting_set.voters)
                ].operator_key,
                prev_certificate=self.certificates[-1],
                verifier=verify,
            )
            self.states.append(applied.state_after)
            self.blocks.append(applied.block)
            self.certificates.append(certify(applied.state_after))

    @property
    def height(self) -> int:
        """The tip height."""
        return len(self.blocks) - 1

    def block_hash(self, height: int) -> bytes:
        """The hash of block `height`."""
        return compute_block_hash(self.blocks[height].header)

    def entry(self, height: int) -> Entry:
        """The certified header of `height`, with the voting set where it changes."""
        header = self.blocks[height].header
        parent = self.blocks[height - 1].header
        certificate = self.certificates[height]
        if certificate is None:
            raise AssertionError("genesis has no certificate")
        changed = header.next_voting_set_hash != parent.next_voting_set_hash
        return Entry(
            header, certificate, self.states[height].registry.voting_set if changed else None
        )

    def entries(self, from_height: int, count: int) -> list[Entry]:
        """What a peer serves for `GetHeaders(from_height, count)`."""
        last = min(self.height, from_height + count - 1)
        return [self.entry(h) for h in range(max(1, from_height), last + 1)]

    def tip_info(self, height: int | None = None) -> TipInfo:
        """The `TipInfo` of a node whose tip is `height` (default: the tip)."""
        h = self.height if height is None else height
        state = self.states[h]
        return TipInfo(
            height=h,
            block_hash=state.block_hash,
            header=state.header,
            certificate=self.certificates[h],
            certifying_set=voting_set_at(state, h) if h > 0 else None,
            next_voting_set=state.registry.voting_set,
        )

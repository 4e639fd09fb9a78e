"""Shared helpers of the consensus tests: a toy block application, keys and
voting sets, message builders, and a tiny deterministic network loop that
delivers every Broadcast to every other machine and advances time.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import msgspec

from timecoin.consensus import (
    Broadcast,
    CommitBlock,
    ConsensusMachine,
    Effect,
    HeightContext,
    PersistWal,
    RecordEvidence,
    ScheduleTimeout,
    WalRecord,
    select_proposer,
    sign_proposal,
    sign_vote,
)
from timecoin.crypto import SigningKey, sha256, verify
from timecoin.encoding import decode, encode
from timecoin.params import MINIMAL, ChainParams
from timecoin.types import Evidence, Proposal, Vote, Voter, VoteType, VotingSet

T = TypeVar("T")

PARAMS = MINIMAL
CHAIN_ID = PARAMS.chain_id
GENESIS_TS = 1_000_000
SEED = b"epoch-seed"
GOSSIP_INTERVAL_MS = 200


class ToyBlock(msgspec.Struct, array_like=True, frozen=True):
    """A stand-in block: what the machine agrees on is opaque to it."""

    height: int
    round: int
    timestamp_ms: int
    author: bytes
    payload: bytes = b""


class ToyApp:
    """A deterministic application; `invalid` lists block hashes it rejects."""

    def __init__(self, author: bytes = b"") -> None:
        self.author = author
        self.invalid: set[bytes] = set()
        self.build_calls: list[tuple[int, int, int]] = []
        self.refuse_to_build = False

    def build_proposal(self, height: int, round: int, timestamp_ms: int) -> object | None:
        self.build_calls.append((height, round, timestamp_ms))
        if self.refuse_to_build:
            return None
        return ToyBlock(height, round, timestamp_ms, self.author)

    def validate_proposal(self, height: int, block_value: object, timestamp_ms: int) -> bool:
        return (
            isinstance(block_value, ToyBlock)
            and block_value.height == height
            and block_value.timestamp_ms == timestamp_ms
            and self.block_hash(block_value) not in self.invalid
        )

    def block_hash(self, block_value: object) -> bytes:
        return sha256(encode(block_value))

    def encode_block(self, block_value: object) -> bytes:
        return encode(block_value)

    def decode_block(self, data: bytes) -> object:
        return decode(data, ToyBlock, 1_000_000)


def make_keys(count: int) -> list[SigningKey]:
    return [SigningKey.from_seed(bytes([i + 1]) * 32) for i in range(count)]


def make_voting_set(keys: Sequence[SigningKey], weights: Sequence[int]) -> VotingSet:
    voters = [
        Voter(masternode_id=sha256(k.public_key), operator_key=k.public_key, weight=w)
        for k, w in zip(keys, weights, strict=True)
    ]
    return VotingSet(epoch=0, voters=voters)


def make_context(
    voting_set: VotingSet, height: int = 1, prev_ts: int = GENESIS_TS, seed: bytes = SEED
) -> HeightContext:
    return HeightContext(
        height=height, voting_set=voting_set, prev_block_timestamp_ms=prev_ts, proposer_seed=seed
    )


def block_for(
    height: int, round: int, timestamp_ms: int, author: bytes = b"x", payload: bytes = b""
) -> ToyBlock:
    return ToyBlock(height, round, timestamp_ms, author, payload)


def hash_of(block: ToyBlock) -> bytes:
    return sha256(encode(block))


def prevote(key: SigningKey, height: int, round: int, block_hash: bytes) -> Vote:
    return sign_vote(key, CHAIN_ID, VoteType.PREVOTE, height, round, block_hash)


def precommit(key: SigningKey, height: int, round: int, block_hash: bytes) -> Vote:
    return sign_vote(key, CHAIN_ID, VoteType.PRECOMMIT, height, round, block_hash)


def propose(
    key: SigningKey, block: ToyBlock, round: int | None = None, pol_round: int = -1
) -> Proposal:
    return sign_proposal(
        key,
        CHAIN_ID,
        block.height,
        block.round if round is None else round,
        pol_round,
        hash_of(block),
        block.timestamp_ms,
    )


def of_type(effects: Sequence[Effect], kind: type[T]) -> list[T]:
    return [e for e in effects if isinstance(e, kind)]


def broadcast_votes(effects: Sequence[Effect]) -> list[Vote]:
    return [e.message for e in of_type(effects, Broadcast) if isinstance(e.message, Vote)]


def broadcast_proposals(effects: Sequence[Effect]) -> list[Proposal]:
    return [e.message for e in of_type(effects, Broadcast) if isinstance(e.message, Proposal)]


def wal_records(effects: Sequence[Effect]) -> list[WalRecord]:
    return [e.record for e in of_type(effects, PersistWal)]


@dataclass
class Single:
    """One machine under test plus the keys of its peers (index 0 is the machine)."""

    keys: list[SigningKey]
    voting_set: VotingSet
    app: ToyApp
    machine: ConsensusMachine
    effects: list[Effect] = field(default_factory=list)

    def feed(self, effects: list[Effect]) -> list[Effect]:
        self.effects.extend(effects)
        return effects


def proposer_of(voting_set: VotingSet, height: int, round: int, seed: bytes = SEED) -> int:
    return select_proposer(voting_set, height, round, seed)


def find_seed(voting_set: VotingSet, wanted: Callable[[int, int], bool], height: int = 1) -> bytes:
    """A proposer seed under which `wanted(round0_proposer, round1_proposer)` holds."""
    for n in range(10_000):
        seed = n.to_bytes(4, "big")
        if wanted(
            select_proposer(voting_set, height, 0, seed),
            select_proposer(voting_set, height, 1, seed),
        ):
            return seed
    raise AssertionError("no seed found")


def make_single(
    weights: Sequence[int] = (1, 1, 1, 1),
    *,
    seed: bytes = SEED,
    params: ChainParams = PARAMS,
    with_signer: bool = True,
) -> Single:
    keys = make_keys(len(weights))
    voting_set = make_voting_set(keys, weights)
    app = ToyApp(author=b"node0")
    machine = ConsensusMachine(
        params=params,
        app=app,
        verifier=verify,
        signer=keys[0] if with_signer else None,
        context=make_context(voting_set, seed=seed),
    )
    return Single(keys, voting_set, app, machine)


@dataclass
class Network:
    """N machines on a perfect (or filtered) network with a shared clock."""

    weights: Sequence[int]
    seed: bytes = SEED
    params: ChainParams = PARAMS
    start_ms: int = GENESIS_TS
    drop: Callable[[int, int, Vote | Proposal], bool] | None = None
    regossip: bool = False
    rng: random.Random | None = None
    loss: float = 0.0
    crash_when: Callable[[int, Effect], bool] | None = None
    tamper: Callable[[int, int, Broadcast], list[Broadcast]] | None = None
    keys: list[SigningKey] = field(init=False)
    voting_set: VotingSet = field(init=False)
    apps: list[ToyApp] = field(init=False)
    machines: list[ConsensusMachine] = field(init=False)
    now_ms: int = field(init=False)
    queue: list[tuple[int, int, Broadcast | CommitBlock]] = field(init=False, default_factory=list)
    timers: list[list[int]] = field(init=False)
    wals: list[list[WalRecord]] = field(init=False)
    commits: list[list[CommitBlock]] = field(init=False)
    evidence: list[list[Evidence]] = field(init=False)
    sent: list[list[Vote | Proposal]] = field(init=False)
    crashed: set[int] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        n = len(self.weights)
        self.keys = make_keys(n)
        self.voting_set = make_voting_set(self.keys, self.weights)
        self.apps = [ToyApp(author=f"node{i}".encode()) for i in range(n)]
        self.now_ms = self.start_ms
        self.machines = [
            self._new_machine(i, make_context(self.voting_set, seed=self.seed)) for i in range(n)
        ]
        self.timers = [[] for _ in range(n)]
        self.wals = [[] for _ in range(n)]
        self.commits = [[] for _ in range(n)]
        self.evidence = [[] for _ in range(n)]
        self.sent = [[] for _ in range(n)]

    def _new_machine(self, i: int, context: HeightContext) -> ConsensusMachine:
        return ConsensusMachine(
            params=self.params,
            app=self.apps[i],
            verifier=verify,
            signer=self.keys[i],
            context=context,
        )

    def start(self) -> None:
        for i, machine in enumerate(self.machines):
            self.execute(i, machine.on_start(self.now_ms))

    def execute(self, i: int, effects: list[Effect]) -> None:
        """Run `effects` of node i in order; `crash_when` stops the node right
        after the effect it selects (the rest of the list is lost)."""
        for effect in effects:
            if i in self.crashed:
                return
            if isinstance(effect, Broadcast):
                self.sent[i].append(effect.message)
                for j in range(len(self.machines)):
                    if j == i:
                        continue
                    if self.tamper is None:
                        self.queue.append((i, j, effect))
                    else:
                        self.queue.extend((i, j, e) for e in self.tamper(i, j, effect))
            elif isinstance(effect, PersistWal):
                self.wals[i].append(effect.record)
            elif isinstance(effect, ScheduleTimeout):
                self.timers[i].append(effect.at_ms)
            elif isinstance(effect, CommitBlock):
                self.commits[i].append(effect)
            elif isinstance(effect, RecordEvidence):
                self.evidence[i].append(effect.evidence)
            if self.crash_when is not None and self.crash_when(i, effect):
                self.crashed.add(i)

    def restart(self, i: int) -> None:
        """Restart crashed node i from its WAL at the height after its last commit."""
        last = self.commits[i][-1] if self.commits[i] else None
        if last is None:
            context = make_context(self.voting_set, seed=self.seed)
        else:
            block = last.block_value
            assert isinstance(block, ToyBlock)
            context = make_context(
                self.voting_set, height=last.height + 1, prev_ts=block.timestamp_ms, seed=self.seed
            )
        self.machines[i] = ConsensusMachine.restore(
            self.wals[i],
            params=self.params,
            app=self.apps[i],
            verifier=verify,
            signer=self.keys[i],
            context=context,
        )
        self.crashed.discard(i)
        self.execute(i, self.machines[i].on_start(self.now_ms))

    def _advance_heights(self) -> None:
        for i, machine in enumerate(self.machines):
            if i in self.crashed or not machine.is_decided:
                continue
            last = self.commits[i][-1]
            block = last.block_value
            assert isinstance(block, ToyBlock)
            context = make_context(
                self.voting_set, height=last.height + 1, prev_ts=block.timestamp_ms, seed=self.seed
            )
            self.execute(i, machine.on_new_height(context, self.now_ms))

    def _gossip_last_commit(self, i: int) -> None:
        commit = self.machines[i].last_commit
        if commit is None:
            return
        for j, other in enumerate(self.machines):
            if j != i and other.height == commit.height and not other.is_decided:
                self.queue.append((i, j, commit))

    def deliver_all(self, limit: int = 100_000) -> None:
        for _ in range(limit):
            self._advance_heights()
            if not self.queue:
                return
            index = 0 if self.rng is None else self.rng.randrange(len(self.queue))
            src, dst, effect = self.queue.pop(index)
            if self.rng is not None and self.rng.random() < self.loss:
                continue
            if dst in self.crashed or src in self.crashed:
                continue
            machine = self.machines[dst]
            if isinstance(effect, CommitBlock):
                self.execute(
                    dst, machine.on_certificate(effect.certificate, effect.block_value, self.now_ms)
                )
                continue
            message = effect.message
            if self.drop is not None and self.drop(src, dst, message):
                continue
            if isinstance(message, Vote):
                self.execute(dst, machine.on_vote(message, self.now_ms))
            else:
                self.execute(dst, machine.on_proposal(message, effect.block_value, self.now_ms))
        raise AssertionError("network did not quiesce")

    def step_time(self) -> bool:
        """Advance the clock to the next timer (or, with re-gossip, at most one
        gossip interval) and tick every machine; False if nothing is pending."""
        pending = [t for i, ts in enumerate(self.timers) if i not in self.crashed for t in ts]
        future = [t for t in pending if t > self.now_ms]
        if self.regossip:
            future.append(self.now_ms + GOSSIP_INTERVAL_MS)
        if not future:
            return False
        self.now_ms = min(future)
        for i, machine in enumerate(self.machines):
            if i in self.crashed:
                continue
            if self.regossip:
                self.execute(i, list(machine.get_own_messages()))
                self._gossip_last_commit(i)
            self.timers[i] = [t for t in self.timers[i] if t > self.now_ms]
            self.execute(i, machine.on_tick(self.now_ms))
        return True

    def run_until(self, done: Callable[[], bool], max_steps: int = 10_000) -> None:
        for _ in range(max_steps):
            self.deliver_all()
            if done():
                return
            if not self.step_time():
                raise AssertionError("no progress and no timer pending")
        raise AssertionError("condition not reached")

    def heights_committed(self, live: Sequence[int] | None = None) -> int:
        nodes = range(len(self.machines)) if live is None else live
        return min(len(self.commits[i]) for i in nodes)

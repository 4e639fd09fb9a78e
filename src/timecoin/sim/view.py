"""What the checkers and the Byzantine strategies see of a run.

`timecoin.sim.node` and `timecoin.sim.simulator` use the checkers'
`Recorder` and the Byzantine strategies; so that the imports stay acyclic,
`checkers` and `byzantine` do not import those two modules back, not even
for annotations. They take the narrow protocols below instead, which
`SimNode` and `Simulation` satisfy structurally (mypy checks it where the
simulator hands itself and its nodes over):

- `CheckedNode` and `CheckedRun`: what the `Recorder` reads of an honest
  node and of the run;
- `StrategyNode` and `StrategyRun`: what a strategy reads of its node and
  of the run, and the sends it makes through them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Protocol

from timecoin.chain import AppliedBlock, ChainState
from timecoin.consensus import ConsensusMachine
from timecoin.consensus.finality import FinalityMachine
from timecoin.crypto import SigningKey
from timecoin.ledger import MemoryUtxoSet, SignatureCache
from timecoin.mempool import Mempool
from timecoin.p2p.messages import Message
from timecoin.params import ChainParams
from timecoin.sim.disk import SimDisk
from timecoin.types import Block, Certificate, Proposal, TxVoteBatch, VoteLeaf, VotingSet


class Clock(Protocol):
    """The run's virtual clock."""

    @property
    def now_ms(self) -> int:
        """The current virtual time."""
        ...


# ------------------------------------------------------------------ checkers


class CheckedNode(Protocol):
    """What the `Recorder` reads of a node."""

    @property
    def node_id(self) -> int:
        """The node's index in the run."""
        ...

    @property
    def is_honest(self) -> bool:
        """True for a node that follows the protocol (only those are checked)."""
        ...

    @property
    def incarnation(self) -> int:
        """How many times the node has booted."""
        ...

    @property
    def params(self) -> ChainParams:
        """The chain parameters."""
        ...

    @property
    def height(self) -> int:
        """The height of the last committed block."""
        ...

    @property
    def state(self) -> ChainState:
        """The chain state after the tip."""
        ...

    @property
    def utxo(self) -> MemoryUtxoSet:
        """The UTXO set after the tip."""
        ...

    @property
    def disk(self) -> SimDisk:
        """The node's disk (its committed blocks)."""
        ...


class CheckedRun(Protocol):
    """What the `Recorder` reads of the run, and the two calls it makes."""

    @property
    def queue(self) -> Clock:
        """The virtual clock."""
        ...

    @property
    def heal_ms(self) -> int:
        """The virtual time at which the last fault heals."""
        ...

    @property
    def params(self) -> ChainParams:
        """The chain parameters of the run."""
        ...

    @property
    def genesis_block(self) -> Block:
        """The run's genesis block."""
        ...

    @property
    def verifier(self) -> Callable[[bytes, bytes, bytes], bool]:
        """Signature verification `(public_key, message, signature) -> valid`."""
        ...

    @property
    def nodes(self) -> Sequence[CheckedNode]:
        """Every node of the run, by node id."""
        ...

    def is_byzantine_key(self, public_key: bytes) -> bool:
        """Whether `public_key` is the operator key of a Byzantine node."""
        ...

    def verify_certificate(
        self, state: ChainState, certificate: Certificate, height: int, block_hash: bytes
    ) -> None:
        """Verify `certificate` for `block_hash` at `height` (raises InvalidVote)."""
        ...

    def on_first_commit(self, applied: AppliedBlock) -> None:
        """The first commit of a height by an honest node."""
        ...


# ---------------------------------------------------------------- strategies


class ProposalLog(Protocol):
    """Where a strategy notes the proposals it sends (commit latency)."""

    def on_proposal_sent(self, proposal: Proposal, now_ms: int) -> None:
        """Remember when a proposal was first sent."""
        ...


class MemberKeys(Protocol):
    """The operator key of a node, which a coalition signs with."""

    @property
    def key(self) -> SigningKey:
        """The node's operator signing key."""
        ...

    @property
    def public_key(self) -> bytes:
        """The node's operator public key."""
        ...


class StrategyRun(Protocol):
    """What a Byzantine strategy reads of the run, and the sends it makes."""

    @property
    def rng(self) -> random.Random:
        """The run's random generator."""
        ...

    @property
    def queue(self) -> Clock:
        """The virtual clock."""
        ...

    @property
    def sig_cache(self) -> SignatureCache:
        """The run's shared signature cache."""
        ...

    @property
    def node_count(self) -> int:
        """How many nodes the run has."""
        ...

    @property
    def nodes(self) -> Sequence[MemberKeys]:
        """Every node of the run, by node id."""
        ...

    @property
    def recorder(self) -> ProposalLog:
        """The run's checkers."""
        ...

    def members_of(self, voting_set: VotingSet) -> list[int]:
        """The node ids of the voters of `voting_set`."""
        ...

    def is_byzantine_key(self, public_key: bytes) -> bool:
        """Whether `public_key` is the operator key of a Byzantine node."""
        ...

    def send(self, src: int, dst: int, data: bytes, extra_delay_ms: int = 0) -> None:
        """Send `data` from `src` to `dst` through the network model."""
        ...


class StrategyNode(MemberKeys, Protocol):
    """What a Byzantine strategy reads of its node, and the sends it makes."""

    @property
    def node_id(self) -> int:
        """The node's index in the run."""
        ...

    @property
    def sim(self) -> StrategyRun:
        """The run the node belongs to."""
        ...

    @property
    def params(self) -> ChainParams:
        """The chain parameters."""
        ...

    @property
    def height(self) -> int:
        """The height of the last committed block."""
        ...

    @property
    def state(self) -> ChainState:
        """The chain state after the tip."""
        ...

    @property
    def utxo(self) -> MemoryUtxoSet:
        """The UTXO set after the tip."""
        ...

    @property
    def mempool(self) -> Mempool:
        """The node's mempool."""
        ...

    @property
    def machine(self) -> ConsensusMachine | None:
        """The consensus machine of the current height, None while following."""
        ...

    @property
    def finality(self) -> FinalityMachine | None:
        """The finality machine, None while the node is down."""
        ...

    def build_block(self, timestamp_ms: int) -> Block | None:
        """A block after the tip with header timestamp `timestamp_ms`, or None."""
        ...

    def send_to(self, targets: list[int], message: Message) -> None:
        """Encode `message` once and send it to every node of `targets` but this one."""
        ...

    def send_votes(self, batch: TxVoteBatch, leaves: list[VoteLeaf]) -> None:
        """Send a signed vote batch to every finality peer (and tell the checkers)."""
        ...

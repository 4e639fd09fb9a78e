"""What the REST API needs from a node: the `ExplorerSource` protocol.

A narrow read protocol: blocks by height and hash, a transaction by txid and
where it is, the coins a transaction spent, who spent an output, an
address's transactions, the mempool, finality and the masternode registry;
and one write, `submit` (Esplora's `POST /tx`). The node implements it over
its store, pool and finality service; until the chain keeps transaction,
spent and address indexes, lookups reach back `history_depth_blocks`
blocks (`None`: the whole chain).

Values are `timecoin.types` objects and the frozen records below, in base
units, milliseconds and bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from timecoin.masternode import RegistryState
from timecoin.params import ChainParams
from timecoin.types import Block, Coin, OutPoint, TimecoinError, Transaction

FinalityName = Literal["unknown", "pending", "final", "conflicted", "confirmed"]


class SourceUnavailableError(Exception):
    """The node cannot answer now (starting up); the client should retry."""


class SubmitRejectedError(TimecoinError):
    """`submit` refused the transaction; the message starts with the reject code."""


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a transaction is: in block `block_hash` at `height` and position
    `index`, or outside blocks (all None). `is_final` once a finality proof is
    held or a block has it."""

    block_hash: bytes | None
    height: int | None
    index: int | None
    block_time_ms: int | None
    is_final: bool

    @property
    def is_confirmed(self) -> bool:
        """In a block."""
        return self.block_hash is not None


@dataclass(frozen=True, slots=True)
class FoundTransaction:
    """A transaction and where it is."""

    tx: Transaction
    txid: bytes
    placement: Placement
    first_seen_ms: int | None = None
    """When the pool admitted it (None: unknown, or in a block)."""


@dataclass(frozen=True, slots=True)
class Spend:
    """The input `vin` of transaction `txid` spends an output."""

    txid: bytes
    vin: int
    placement: Placement


@dataclass(frozen=True, slots=True)
class PooledTransaction:
    """A transaction in the pool: size, fee, arrival time, finality."""

    tx: Transaction
    txid: bytes
    size_bytes: int
    fee_units: int
    time_ms: int
    is_final: bool


@dataclass(frozen=True, slots=True)
class Finality:
    """The finality status of a transaction (see docs/spec/finality.md):
    the vote weight of the current epoch, a quorum's and the total; the
    proof's epoch and voters' operator keys once final; its block once
    confirmed."""

    status: FinalityName
    epoch: int
    vote_weight_units: int
    quorum_weight_units: int
    total_weight_units: int
    proof: bytes | None
    proof_epoch: int | None
    proof_voters: tuple[bytes, ...]
    block_hash: bytes | None
    height: int | None


@dataclass(frozen=True, slots=True)
class FinalityActivity:
    """How this node sees finality: transactions found final since it
    started, and the latency from first seeing a transaction to holding its
    proof, over the last `samples` transactions it saw first-hand."""

    finalized_total: int
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    samples: int


class ExplorerSource(Protocol):
    """The node reads behind the REST API and the explorer."""

    @property
    def params(self) -> ChainParams:
        """The chain parameters."""
        ...

    @property
    def history_depth_blocks(self) -> int | None:
        """How far back address, spend and transaction lookups reach (None: all)."""
        ...

    async def get_tip(self) -> tuple[int, bytes]:
        """(height, hash) of the last committed block."""
        ...

    async def get_block_hash(self, height: int) -> bytes | None:
        """The active chain's block hash at `height`, or None above the tip."""
        ...

    async def get_block(self, block_hash: bytes) -> Block | None:
        """The stored block, or None."""
        ...

    async def get_transaction(self, txid: bytes) -> FoundTransaction | None:
        """The transaction and where it is, or None when not found."""
        ...

    async def get_prevouts(self, found: FoundTransaction) -> list[Coin | None]:
        """The coins the transaction's inputs spend, in input order (None: unknown)."""
        ...

    async def get_spend(self, outpoint: OutPoint) -> Spend | None:
        """The input spending `outpoint`, or None when it is unspent or unknown."""
        ...

    async def get_address_transactions(self, address: bytes) -> list[FoundTransaction]:
        """The transactions paying or spending from `address`: outside blocks
        first (newest first), then in blocks, newest first."""
        ...

    async def get_mempool(self) -> list[PooledTransaction]:
        """Every pooled transaction."""
        ...

    async def get_min_fee_per_kb(self) -> int:
        """The fee rate the pool admits now (base units per 1000 bytes)."""
        ...

    async def get_finality(self, txid: bytes) -> Finality:
        """The finality status of `txid` (never raises for an unknown txid)."""
        ...

    async def get_registry(self) -> RegistryState:
        """The masternode registry after the tip."""
        ...

    async def submit(self, tx: Transaction) -> bytes:
        """Validate, pool and announce `tx`; its txid. Raises SubmitRejectedError."""
        ...

    async def get_finality_activity(self) -> FinalityActivity:
        """Finality counters and recent latencies."""
        ...

    async def wait_for_change(self, seen: int, timeout_s: float) -> int:
        """The change counter, bumped whenever a block commits or a transaction
        becomes final: at once when it differs from `seen`, else when it
        changes or after `timeout_s` (then equal to `seen`)."""
        ...

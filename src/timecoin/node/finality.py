"""Runs the finality machine and the transaction pool on asyncio and LMDB.

`FinalityService` owns the node's `Mempool`, its `FinalUtxoView` (the tip
plus final-but-unblocked outputs), the `FinalityMachine`, the finality WAL
and the store of final transactions. Every machine input goes through one
bounded queue to one worker task, so the machine is entered once at a time.
The worker takes every input already queued (up to MAX_GROUP_INPUTS, or
MAX_GROUP_SECONDS of work on the loop) as one group: the machine handles
them in order, then the group's effects run (docs/spec/finality.md section
12):

- `PersistFinalityWal` and `TransactionFinal`: all of the group's records
  and final transactions are written in ONE synced LMDB write in the
  thread pool, awaited BEFORE any other effect of the group (every vote
  batch's locks are on disk before the batch leaves, every final
  transaction before it is reported: the group commit); the others then
  run in list order;
- `BroadcastVotes`: pushed to every peer (`TxVotesMsg`), the txids marked
  voted in the pool;
- `TransactionFinal` (after the write): marked final in the pool, applied
  to the view, handed to `final_listeners` (the node's wallet), their
  orphans offered again and their waiters answered;
- `RequestProof`, `RequestTransaction`: one `GetFinalityTxs` to the peers;
- `RecordEvidence`: kept for a block and gossiped;
- `BroadcastReport`: pushed (`EpochReportMsg`);
- `RequestReports`: one `GetEpochReports` to the peers, answered with the
  reports they hold (`answer_reports`);
- `Reannounce`: `FinalityTxs` with the proof or the votes held;
- `ScheduleTick`: a timer queues a tick.

Admission into the pool runs on the event loop when a transaction arrives
(so RPC answers at once); the admitted transaction, and a consensus-valid
one the pool refuses for conflicting with a pooled one, go to the machine.
A consensus-valid conflicting transaction is relayed too: every node must
learn both sides of a double spend to report the same status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from timecoin.chain import ChainState, voting_set_at
from timecoin.consensus import compute_earliest_proposal_ms
from timecoin.consensus.effects import RecordEvidence
from timecoin.consensus.finality import (
    BroadcastReport,
    BroadcastVotes,
    FinalityConfig,
    FinalityEffect,
    FinalityMachine,
    PersistFinalityWal,
    Reannounce,
    RequestProof,
    RequestReports,
    RequestTransaction,
    ScheduleTick,
    TransactionFinal,
    TxStatus,
)
from timecoin.crypto import SignatureItem, verify
from timecoin.ledger import (
    SignatureCache,
    check_transaction,
    compute_input_signing_message,
    validate_transaction,
)
from timecoin.masternode import is_last_height_of_epoch
from timecoin.mempool import (
    REJECT_MEMPOOL_CONFLICT,
    REJECT_ORPHAN,
    FinalUtxoView,
    Mempool,
    MempoolPolicy,
    MempoolRejected,
)
from timecoin.node.bounds import compute_recent_txids
from timecoin.node.store import FinalityWalLog, FinalTxStore
from timecoin.p2p.messages import (
    MAX_FINALITY_TX_VOTES,
    MAX_FINALITY_TXS_PER_MSG,
    EpochReportMsg,
    FinalityTx,
    FinalityTxs,
    GetEpochReports,
    GetFinalityTxs,
    Message,
    TxVotesMsg,
)
from timecoin.params import ChainParams
from timecoin.rpc.api import TransactionFinality as FinalityStatus
from timecoin.types import (
    Block,
    EpochReport,
    Evidence,
    FinalityProof,
    InvalidTransaction,
    InvalidVote,
    OutPoint,
    TimecoinError,
    Transaction,
    TxVoteBatch,
    VoteLeaf,
    VotingSet,
    compute_txid,
    is_quorum,
)

if TYPE_CHECKING:
    from timecoin.crypto import SigningKey
    from timecoin.storage import ChainStore

log = logging.getLogger("timecoin.node.finality")

MAX_FINALITY_QUEUE: Final = 50_000
MAX_GROUP_INPUTS: Final = 256
"""Most queued inputs the worker takes into one group (one synced write)."""
REPORTS_WARNING_AFTER_BLOCKS: Final = 3
"""Block intervals the epoch's last block may wait for reports before
`getblockchaininfo` warns."""

REPORT_LEAD_MS: Final = 250
"""A member reports this long before the proposal of its epoch's last
height is due (the design's "when the proposal is due", less the time
the report needs to reach the proposer)."""
MAX_GROUP_SECONDS: Final = 0.01
"""The worker stops adding inputs to a group after this long on the loop."""
"""Inputs waiting for the finality worker; beyond this new ones are dropped
(transactions come again with their re-announcement)."""
MAX_CONFLICTED_TXIDS: Final = 100_000
"""Transactions remembered as conflicted by a block."""
MAX_EVIDENCE_KEPT: Final = 64
"""Evidence kept for the next blocks."""
REQUEST_RETRY_MS: Final = 500
"""A txid requested from peers is not requested again sooner than this."""
MAX_REQUESTED: Final = 10_000
"""Requested txids remembered (for the retry delay)."""


class StatusKind:
    """What `gettransactionfinality` reports (`FinalityStatusName`)."""

    UNKNOWN: Final = "unknown"
    PENDING: Final = "pending"
    FINAL: Final = "final"
    CONFLICTED: Final = "conflicted"
    CONFIRMED: Final = "confirmed"


class CountingSignatureCache(SignatureCache):
    """The node's one signature cache, safe across the thread pool, counting
    the signatures it actually verified (cache misses).

    Every verification path of the node reports here: inline checks
    (`validate_transaction` calls `verify`), batches checked by a
    `BatchVerifier` (`count_batch`) and signatures checked without the
    cache (`verify_uncached`: consensus votes, certificates).
    """

    __slots__ = ("_guard", "verifications")

    def __init__(self, max_entries: int = 1_000_000) -> None:
        """A cache of `max_entries`."""
        super().__init__(max_entries)
        self._guard = threading.Lock()
        self.verifications = 0

    def contains(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        """True when the triple is cached (thread-safe)."""
        with self._guard:
            return super().contains(public_key, message, signature)

    def add(self, public_key: bytes, message: bytes, signature: bytes) -> None:
        """Record the triple as verified (thread-safe)."""
        with self._guard:
            super().add(public_key, message, signature)

    def count(self, verified: int) -> None:
        """Count `verified` signatures checked outside `verify` (thread-safe)."""
        with self._guard:
            self.verifications += verified

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        """True when the signature is valid: from the cache, or verified (counted) and cached."""
        if self.contains(public_key, message, signature):
            return True
        self.count(1)
        if not verify(public_key, message, signature):
            return False
        self.add(public_key, message, signature)
        return True

    def verify_uncached(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        """Verify (counted) without reading or filling the cache."""
        self.count(1)
        return verify(public_key, message, signature)

    def count_batch(
        self, verify_all: Callable[[Sequence[SignatureItem]], list[bool]]
    ) -> Callable[[Sequence[SignatureItem]], list[bool]]:
        """`verify_all` (a `BatchVerifier.verify_all`) counting each item it checks."""

        def verify_counted(items: Sequence[SignatureItem]) -> list[bool]:
            self.count(len(items))
            return verify_all(items)

        return verify_counted


@dataclass(frozen=True, slots=True)
class _TxInput:
    tx: Transaction
    txid: bytes


@dataclass(frozen=True, slots=True)
class _VotesInput:
    batch: TxVoteBatch
    leaves: tuple[VoteLeaf, ...]


@dataclass(frozen=True, slots=True)
class _ItemInput:
    item: FinalityTx
    txid: bytes


@dataclass(frozen=True, slots=True)
class _ReportInput:
    report: EpochReport


@dataclass(frozen=True, slots=True)
class _TickInput:
    pass


@dataclass(frozen=True, slots=True)
class _LastHeightDueInput:
    prev_hash: bytes


@dataclass(frozen=True, slots=True)
class _BlockInput:
    block: Block
    block_hash: bytes
    next_voting_set: VotingSet | None
    reported_locks: Mapping[OutPoint, bytes | None] | None
    prune_below_epoch: int | None


_Input = (
    _TxInput
    | _VotesInput
    | _ItemInput
    | _ReportInput
    | _TickInput
    | _BlockInput
    | _LastHeightDueInput
)


class FinalityNetwork:
    """What the service needs from the network: push to all peers, announce."""

    def __init__(
        self,
        broadcast: Callable[[Message], object],
        gossip_tx: Callable[[Transaction, str | None], object],
        gossip_evidence: Callable[[Evidence], object],
    ) -> None:
        """Send through these callables."""
        self.broadcast = broadcast
        self.gossip_tx = gossip_tx
        self.gossip_evidence = gossip_evidence


class FinalityService:
    """The pool and the finality machine of one node (see the module doc)."""

    def __init__(
        self,
        *,
        params: ChainParams,
        chain: ChainStore,
        state: ChainState,
        key: SigningKey | None,
        wal: FinalityWalLog,
        final_store: FinalTxStore,
        network: FinalityNetwork,
        executor: ThreadPoolExecutor,
        sig_cache: CountingSignatureCache,
        voting_sets: Mapping[int, VotingSet],
        policy: MempoolPolicy | None = None,
        config: FinalityConfig | None = None,
    ) -> None:
        """A service at the tip `state` (not started: call `start`)."""
        self.params = params
        self.chain = chain
        self.state = state
        self.key = key
        self.wal = wal
        self.final_store = final_store
        self.network = network
        self.sig_cache = sig_cache
        self.voting_sets = voting_sets
        # The node reports when the last height's proposal is due (a timer
        # here), not when the block before it commits (the machine's default).
        self.config = config or FinalityConfig(report_on_commit=False)
        self._executor = executor
        self._verify_executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="finality-verify"
        )
        self.mempool = Mempool(params, policy, voting=True, sig_cache=sig_cache)
        self.view = FinalUtxoView(chain, (), state.height + 1)
        self.machine: FinalityMachine | None = None
        self._queue: asyncio.Queue[_Input] = asyncio.Queue(MAX_FINALITY_QUEUE)
        self._worker: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at_ms = 0
        self._stopping = False
        self._changed = asyncio.Event()
        self._max_recent_txids = compute_recent_txids(params)
        self._confirmed: OrderedDict[bytes, tuple[int, bytes]] = OrderedDict()
        self._conflicted: OrderedDict[bytes, tuple[bytes, ...]] = OrderedDict()
        # outpoint -> txid of the block transaction that spent it (recent blocks),
        # so a late conflicting spend is reported conflicted, never unknown
        self._block_spenders: OrderedDict[OutPoint, bytes] = OrderedDict()
        self._bodies: OrderedDict[bytes, Transaction] = OrderedDict()
        self._requested: OrderedDict[bytes, int] = OrderedDict()
        self._first_seen_ms: OrderedDict[bytes, int] = OrderedDict()
        self._final_at_ms: OrderedDict[bytes, int] = OrderedDict()
        """When this node found each final-but-unblocked transaction final."""
        self._spenders: dict[OutPoint, set[bytes]] = {}
        self._stored_final: set[bytes] = set()
        self._announcing: set[bytes] = set()
        self.final_listeners: list[Callable[[Transaction, bytes], object]] = []
        """Called with (tx, txid) once a transaction is stored final and
        applied to the view, before it is reported final (the node feeds its
        wallet here)."""
        self._awaiting_reports_since_ms: int | None = None
        self._reports_requested_epoch: int | None = None
        self.evidence: list[Evidence] = []
        self.dropped_inputs = 0
        self.invalid_messages = 0
        self.finalized = 0
        self.final_latencies_ms: list[float] = []
        self.latency_listeners: list[Callable[[float], object]] = []
        """Called with each broadcast-to-final latency in milliseconds, as
        it is appended to `final_latencies_ms` (the node's histogram)."""

    # ------------------------------------------------------------ lifecycle

    def _current_sets(self, state: ChainState) -> tuple[VotingSet, VotingSet | None]:
        voting_set = voting_set_at(state, state.height + 1)
        if voting_set is None:
            raise AssertionError(f"state at {state.height} has no voting set for the next block")
        return voting_set, self.voting_sets.get(voting_set.epoch - 1)

    def _load(self) -> tuple[list[object], list[tuple[Transaction, FinalityProof]]]:
        return list(self.wal.read()), self.final_store.load()

    async def start(self) -> None:
        """Restore the machine from the finality WAL and the stored final
        transactions, then start the worker."""
        loop = asyncio.get_running_loop()
        records, stored = await loop.run_in_executor(self._executor, self._load)
        state = self.state
        voting_set, previous = self._current_sets(state)
        final: list[tuple[Transaction, FinalityProof]] = []
        stale: list[bytes] = []
        for tx, proof in stored:
            txid = compute_txid(tx)
            try:
                validate_transaction(
                    tx, txid, self.view, self.params, state.height + 1, sig_cache=self.sig_cache
                )
            except TimecoinError:
                stale.append(txid)  # a block took it (or its conflict) before the crash
                continue
            self.view.add_final(tx, txid)
            final.append((tx, proof))
        if stale:
            await loop.run_in_executor(self._executor, self.final_store.delete, stale)
        machine, effects = FinalityMachine.restore(
            records,  # type: ignore[arg-type]
            params=self.params,
            voting_set=voting_set,
            verifier=self.sig_cache.verify,
            signer=self.key,
            config=self.config,
            previous_voting_set=previous,
            reported_locks=state.reported_locks,
            final=final,
        )
        self.machine = machine
        for tx, _proof in final:
            txid = compute_txid(tx)
            self._remember_body(txid, tx)
            with contextlib.suppress(TimecoinError):
                self.mempool.add(tx, self.view, state.height + 1, now_ms=_now_ms(), final=True)
        # Voted before the restart and not final: the WAL holds the only
        # copy a whole-network restart leaves (the epoch's last block must
        # carry them if reported). Offered like received transactions.
        for tx in machine.get_logged_transactions():
            with contextlib.suppress(TimecoinError):
                self.submit(tx)
        next_height = state.height + 1
        if (
            not machine.has_reported
            and self.params.epoch_of(next_height) == machine.epoch
            and self.params.epoch_of(next_height + 1) != machine.epoch
        ):
            effects.extend(machine.on_last_height_due(state.block_hash))
        self._worker = asyncio.create_task(self._run(), name="finality-driver")
        await self._execute(effects)
        log.info(
            "finality machine at epoch %d (%s), %d final transactions restored",
            machine.epoch,
            "member" if machine.is_member else "not a member",
            len(final),
        )

    async def stop(self) -> None:
        """Stop taking inputs and cancel the worker (effects in progress are
        awaited writes: a cancelled one was not reported)."""
        self._stopping = True
        if self._timer is not None:
            self._timer.cancel()
        self._verify_executor.shutdown(wait=False)
        worker = self._worker
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    # ---------------------------------------------------------------- reads

    def has_proof(self, txid: bytes) -> bool:
        """Whether a finality proof of `txid` is held."""
        machine = self.machine
        return machine is not None and machine.has_proof(txid)

    def final_transactions(self, final_before_ms: int | None = None) -> list[Transaction]:
        """Final transactions not yet in a block, in finality order; with
        `final_before_ms`, only those this node found final before then
        (a prefix: finality order is the order they became final here;
        those restored at start-up count as final long ago)."""
        machine = self.machine
        if machine is None:
            return []
        transactions = machine.get_final_transactions()
        if final_before_ms is None or not self._final_at_ms:
            return transactions
        final_at = self._final_at_ms
        for count, tx in enumerate(transactions):
            if final_at.get(compute_txid(tx), 0) >= final_before_ms:
                return transactions[:count]
        return transactions

    def final_txids(self) -> set[bytes]:
        """Their txids."""
        machine = self.machine
        return set() if machine is None else machine.get_final_txids()

    def get_transaction(self, txid: bytes) -> tuple[Transaction, bool] | None:
        """A known transaction outside blocks and whether it is final, or None."""
        entry = self.mempool.get(txid)
        if entry is not None:
            return entry.tx, self.has_proof(txid)
        tx = self._bodies.get(txid)
        return None if tx is None else (tx, self.has_proof(txid))

    def is_confirmed(self, txid: bytes) -> bool:
        """Whether `txid` is in one of the last blocks (the last
        `compute_recent_txids(params)` transactions committed)."""
        return txid in self._confirmed

    def get_status(self, txid: bytes) -> FinalityStatus:
        """The status of `txid`: unknown, pending (with vote weight), final
        (with proof), conflicted, or confirmed (with its block)."""
        machine = self.machine
        epoch = -1 if machine is None else machine.epoch
        confirmed = self._confirmed.get(txid)
        if confirmed is not None:
            return FinalityStatus(
                txid, StatusKind.CONFIRMED, epoch, height=confirmed[0], block_hash=confirmed[1]
            )
        conflicted = self._conflicted.get(txid)
        if conflicted is not None:
            return FinalityStatus(txid, StatusKind.CONFLICTED, epoch, conflicting_txids=conflicted)
        if machine is None:
            return FinalityStatus(txid, StatusKind.UNKNOWN, epoch)
        total = machine.voting_set.total_weight
        quorum = total * 2 // 3 + 1
        proof = machine.get_proof(txid)
        if proof is not None and txid not in self._announcing:
            return FinalityStatus(
                txid,
                StatusKind.FINAL,
                epoch,
                vote_weight_units=machine.get_vote_weight(txid),
                quorum_weight_units=quorum,
                total_weight_units=total,
                voted=self._voted(txid),
                proof=proof,
            )
        tx = self._bodies.get(txid)
        if tx is None or machine.get_status(txid) is None:
            return FinalityStatus(txid, StatusKind.UNKNOWN, epoch)
        weight = machine.get_vote_weight(txid)
        voted = machine.get_status(txid) == TxStatus.VOTED
        others = self._conflicting(tx, txid)
        if others and (
            any(machine.has_proof(o) for o in others) or not self._can_reach_quorum(txid, others)
        ):
            return FinalityStatus(
                txid,
                StatusKind.CONFLICTED,
                epoch,
                vote_weight_units=weight,
                quorum_weight_units=quorum,
                total_weight_units=total,
                voted=voted,
                conflicting_txids=tuple(sorted(others)),
                input_locked=True,
            )
        return FinalityStatus(
            txid,
            StatusKind.PENDING,
            epoch,
            vote_weight_units=weight,
            quorum_weight_units=quorum,
            total_weight_units=total,
            voted=voted,
            conflicting_txids=tuple(sorted(others)),
        )

    def _voted(self, txid: bytes) -> bool:
        machine = self.machine
        if machine is None or self.key is None:
            return False
        tx = self._bodies.get(txid)
        if tx is None or not tx.inputs:
            return False
        return machine.get_lock(tx.inputs[0].prevout) == txid

    def _conflicting(self, tx: Transaction, txid: bytes) -> set[bytes]:
        others: set[bytes] = set()
        for txin in tx.inputs:
            others.update(self.mempool.spenders_of(txin.prevout))
            others.update(self._spenders.get(txin.prevout, ()))
        others.discard(txid)
        return others

    def _can_reach_quorum(self, txid: bytes, others: Iterable[bytes]) -> bool:
        """Whether `txid` may still get a quorum: voters of a conflicting
        transaction are bound and never vote for it."""
        machine = self.machine
        if machine is None:
            return True
        voting_set = machine.voting_set
        weights = {v.operator_key: v.weight for v in voting_set.voters}
        bound: set[bytes] = set()
        for other in others:
            bound.update(vote.voter for vote in machine.get_votes(other))
        own = {vote.voter for vote in machine.get_votes(txid)}
        unavailable = sum(weights.get(k, 0) for k in bound - own)
        return is_quorum(voting_set.total_weight - unavailable, voting_set.total_weight)

    async def wait_settled(self, txid: bytes, timeout_s: float) -> FinalityStatus:
        """Wait up to `timeout_s` for `txid` to be final, confirmed or
        conflicted; return its status then (or at the timeout)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout_s)
        while True:
            status = self.get_status(txid)
            remaining = deadline - loop.time()
            if status.is_settled or remaining <= 0:
                return status
            event = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=min(remaining, 0.5))

    async def wait_for_proofs(self, txids: Iterable[bytes], timeout_s: float) -> bool:
        """Request the proofs of `txids` not held and wait up to `timeout_s`
        for all of them; True when all are held."""
        machine = self.machine
        if machine is None:
            return False
        missing = [effect.txid for effect in machine.missing_proofs(txids)]
        if not missing:
            return True
        self._request(missing)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            missing = [t for t in missing if not machine.has_proof(t)]
            remaining = deadline - loop.time()
            if not missing:
                return True
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.05))

    def _pulse(self) -> None:
        event = self._changed
        self._changed = asyncio.Event()
        event.set()

    # --------------------------------------------------------------- inputs

    def _offer(self, item: _Input) -> bool:
        if self._stopping:
            return False
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped_inputs += 1
            return False
        return True

    def _remember_body(self, txid: bytes, tx: Transaction) -> None:
        if txid not in self._bodies:
            for txin in tx.inputs:
                self._spenders.setdefault(txin.prevout, set()).add(txid)
        self._bodies[txid] = tx
        self._bodies.move_to_end(txid)
        while len(self._bodies) > self.config.max_tracked_txs:
            old_txid, _ = next(iter(self._bodies.items()))
            self._forget_body(old_txid)

    def _forget_body(self, txid: bytes) -> None:
        tx = self._bodies.pop(txid, None)
        if tx is None:
            return
        for txin in tx.inputs:
            spenders = self._spenders.get(txin.prevout)
            if spenders is not None:
                spenders.discard(txid)
                if not spenders:
                    del self._spenders[txin.prevout]

    async def preverify(self, txs: Sequence[Transaction]) -> None:
        """Verify the input signatures of the new transactions among `txs` in
        one batch off the event loop, caching the valid ones, so that
        `submit` then finds them in the cache and does no Ed25519 work on the
        loop (DESIGN section 2). Transactions already known are skipped; an
        invalid signature is not cached, and `submit` rejects it as before.
        """
        if self._stopping:
            return
        chain_id = self.params.chain_id
        items: list[SignatureItem] = []
        for tx in txs:
            if len(tx.signatures) != len(tx.inputs):
                continue  # malformed: check_transaction rejects it
            txid = compute_txid(tx)
            if txid in self._confirmed or txid in self._bodies or txid in self.mempool:
                continue
            for index, txin in enumerate(tx.inputs):
                message = compute_input_signing_message(chain_id, txid, index)
                items.append((txin.public_key, message, tx.signatures[index]))
        if not items:
            return
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._verify_executor, self._verify_items, items)
        except RuntimeError:
            return  # shut down meanwhile: `submit` verifies inline

    def _verify_items(self, items: Sequence[SignatureItem]) -> None:
        """Verify and cache `items` (runs in the verification thread)."""
        cache = self.sig_cache
        for public_key, message, signature in items:
            cache.verify(public_key, message, signature)

    def submit(self, tx: Transaction, peer: str | None = None) -> bytes:
        """Admit `tx` into the pool (validated against the tip plus final
        outputs), relay it and hand it to the machine; return its txid.

        Raises InvalidTransaction (a consensus rule) or MempoolRejected (a
        retryable pool code). A consensus-valid transaction refused for
        conflicting with a pooled one still reaches the machine (it must
        know both sides of a double spend) and is relayed once.
        """
        txid = compute_txid(tx)
        now = _now_ms()
        height = self.state.height + 1
        if txid in self._confirmed:
            return txid
        try:
            result = self.mempool.add(tx, self.view, height, now_ms=now, peer=peer)
        except MempoolRejected as exc:
            if exc.reject_code == REJECT_MEMPOOL_CONFLICT and txid not in self._bodies:
                self._first_seen_ms.setdefault(txid, now)
                self._remember_body(txid, tx)
                self._offer(_TxInput(tx, txid))
                self.network.gossip_tx(tx, peer)
            elif exc.reject_code == REJECT_ORPHAN:
                self._note_block_conflict(tx, txid, peer)
            raise
        if result.added or txid not in self._bodies:
            self._first_seen_ms[txid] = now
            while len(self._first_seen_ms) > self._max_recent_txids:
                self._first_seen_ms.popitem(last=False)
            self._remember_body(txid, tx)
            self._offer(_TxInput(tx, txid))
            self.network.gossip_tx(tx, peer)
        return txid

    def _note_block_conflict(self, tx: Transaction, txid: bytes, peer: str | None) -> None:
        """Record `tx` as conflicted when one of its inputs is already spent by
        another transaction that is final or in a committed block (a double
        spend that arrived after its rival won), and relay it once so that
        every node reports the same status for it rather than "unknown"."""
        machine = self.machine
        rivals: set[bytes] = set()
        for txin in tx.inputs:
            spender = self._block_spenders.get(txin.prevout)
            if spender is not None:
                rivals.add(spender)
            if machine is not None:
                rivals.update(
                    other
                    for other in self._spenders.get(txin.prevout, ())
                    if machine.has_proof(other)
                )
        rivals.discard(txid)
        spenders = tuple(sorted(rivals))
        if not spenders or txid in self._conflicted:
            return
        self._conflicted[txid] = spenders
        while len(self._conflicted) > MAX_CONFLICTED_TXIDS:
            self._conflicted.popitem(last=False)
        self.network.gossip_tx(tx, peer)

    def on_tx_votes(self, message: TxVotesMsg) -> None:
        """A vote batch from a peer."""
        self._offer(_VotesInput(message.batch, tuple(message.leaves)))

    def on_finality_txs(self, message: FinalityTxs) -> None:
        """Re-announced transactions with proofs or votes, or answers."""
        for item in message.items:
            self._offer(_ItemInput(item, compute_txid(item.tx)))

    def on_report(self, message: EpochReportMsg) -> None:
        """An epoch report from a peer."""
        self._offer(_ReportInput(message.report))

    def answer_reports(self, request: GetEpochReports) -> list[EpochReportMsg]:
        """The reports of the requested epoch this node holds (its own and
        the verified ones received), one message each; at most one per
        member of that epoch's voting set."""
        machine = self.machine
        if machine is None:
            return []
        return [EpochReportMsg(report=report) for report in machine.get_reports(request.epoch)]

    def answer(self, request: GetFinalityTxs) -> FinalityTxs | None:
        """The transactions of `request` this node knows, with proofs or votes."""
        machine = self.machine
        if machine is None:
            return None
        items: list[FinalityTx] = []
        for txid in request.txids:
            known = self.get_transaction(txid)
            if known is None:
                continue
            proof = machine.get_proof(txid)
            votes = [] if proof is not None else machine.get_votes(txid)[:MAX_FINALITY_TX_VOTES]
            items.append(FinalityTx(tx=known[0], proof=proof, votes=votes))
        return FinalityTxs(items=items) if items else None

    def tick(self) -> None:
        """Queue a tick (re-announcement, due batches, retries)."""
        self._offer(_TickInput())

    def on_block_committed(self, block: Block, block_hash: bytes, state: ChainState) -> None:
        """A block is durable and `state` is the new tip: rebuild the view at
        once (the pool and later admissions use it) and queue the machine's
        input. At an epoch boundary the machine gets the new voting set and
        the reported locks: the chain's (`state.reported_locks`, ADR 0004)
        once the epoch-report rule applies, else computed over the reports
        it verified."""
        self.state = state
        height = block.header.height
        txids = [compute_txid(tx) for tx in block.transactions]
        for txid in txids:
            self._confirmed[txid] = (height, block_hash)
            self._conflicted.pop(txid, None)
        while len(self._confirmed) > self._max_recent_txids:
            self._confirmed.popitem(last=False)
        in_block = set(txids)
        for txid, tx in zip(txids, block.transactions, strict=True):
            for txin in tx.inputs:
                self._block_spenders[txin.prevout] = txid
                for other_txid in list(self._spenders.get(txin.prevout, ())):
                    if other_txid not in in_block:
                        self._conflicted[other_txid] = (txid,)
                        self._forget_body(other_txid)
        for txid in txids:
            self._forget_body(txid)
            self._final_at_ms.pop(txid, None)
        while len(self._conflicted) > MAX_CONFLICTED_TXIDS:
            self._conflicted.popitem(last=False)
        while len(self._block_spenders) > self._max_recent_txids:
            self._block_spenders.popitem(last=False)
        removed = self.mempool.remove_block(block.transactions)
        # The tip now holds the block: the view keeps only what it adds to it.
        self.view.apply_block(zip(txids, block.transactions, strict=True), height + 1)
        for txid in removed:
            if txid not in in_block and txid not in self._conflicted:
                self._conflicted[txid] = ()
        machine = self.machine
        next_set = voting_set_at(state, height + 1)
        locks: dict[OutPoint, bytes | None] | None = None
        prune: int | None = None
        if machine is not None and next_set is not None and next_set.epoch != machine.epoch:
            if self.params.activation.is_epoch_reports_active(height):
                locks = dict(state.reported_locks)
            else:
                locks = self._local_reported_locks(machine.get_reports(machine.epoch))
            prune = machine.epoch
        self._offer(_BlockInput(block, block_hash, next_set, locks, prune))
        # The epoch's last block carries the reported transactions in full:
        # the new committee votes for the uniquely locked ones, so each
        # member must hold their bodies (a child waits as an orphan for its
        # parent to be final again).
        for tx in block.reported_transactions:
            with contextlib.suppress(TimecoinError):
                self.submit(tx)
        self._pulse()
        if not self.config.report_on_commit and is_last_height_of_epoch(height + 1, self.params):
            due_ms = compute_earliest_proposal_ms(self.params, block.header.timestamp_ms)
            self._schedule_report(due_ms - REPORT_LEAD_MS, block_hash)

    def _schedule_report(self, at_ms: int, prev_hash: bytes) -> None:
        """Report (`on_last_height_due`) at `at_ms`: REPORT_LEAD_MS before the
        proposal of the epoch's last height is due, so the proposer holds
        the reports when it builds; votes go on until then."""
        if self._stopping:
            return
        loop = asyncio.get_running_loop()
        delay_s = max(0.0, (at_ms - _now_ms()) / 1000)
        loop.call_later(delay_s, self._offer, _LastHeightDueInput(prev_hash))

    def reports_weight(self, epoch: int) -> tuple[int, int]:
        """(weight of the verified reports of `epoch` held, total weight of
        that epoch's voting set); (0, 0) when the machine is elsewhere."""
        machine = self.machine
        if machine is None:
            return 0, 0
        return machine.get_reports_weight(epoch)

    def reports_awaited_s(self) -> float:
        """How long this node has waited for the reports of its epoch's last
        block without holding a quorum of them (0.0 when it is not waiting)."""
        machine = self.machine
        if machine is None or not machine.is_awaiting_reports():
            self._awaiting_reports_since_ms = None
            return 0.0
        now = _now_ms()
        if self._awaiting_reports_since_ms is None:
            self._awaiting_reports_since_ms = now
        return (now - self._awaiting_reports_since_ms) / 1000

    def reports_warning(self) -> str | None:
        """A warning for `getblockchaininfo` while the epoch's last block has
        waited more than REPORTS_WARNING_AFTER_BLOCKS block intervals for
        reports of more than 2/3 of the outgoing weight."""
        machine = self.machine
        waited_s = self.reports_awaited_s()
        limit_s = REPORTS_WARNING_AFTER_BLOCKS * self.params.block_interval_ms / 1000
        if machine is None or waited_s <= limit_s:
            return None
        weight, total = machine.get_reports_weight(machine.epoch)
        return (
            f"epoch {machine.epoch} cannot end: its last block needs epoch reports of "
            f"more than 2/3 of the weight and this node holds {weight} of {total} after "
            f"{waited_s:.0f} s; it keeps asking its peers (members that are offline "
            "must come back: each resends the report it logged)"
        )

    async def wait_for_reports(self, epoch: int, timeout_s: float) -> bool:
        """Wait until the reports of `epoch` held exceed 2/3 of its weight, at
        most `timeout_s`; whether they do."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            weight, total = self.reports_weight(epoch)
            if total > 0 and is_quorum(weight, total):
                return True
            if loop.time() >= deadline or total == 0:
                return False
            await asyncio.sleep(0.01)

    def _local_reported_locks(self, reports: list[EpochReport]) -> dict[OutPoint, bytes | None]:
        """The locks the verified `reports` establish over still-unspent
        outpoints (a local view until blocks carry reports: the spec's
        section 7, "Status")."""
        locks: dict[OutPoint, bytes | None] = {}
        for report in reports:
            for entry in report.entries:
                if self.chain.get_coin(entry.outpoint) is None:
                    continue
                if entry.outpoint in locks and locks[entry.outpoint] != entry.txid:
                    locks[entry.outpoint] = None
                else:
                    locks.setdefault(entry.outpoint, entry.txid)
        return locks

    # --------------------------------------------------------------- worker

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            machine = self.machine
            if machine is None:
                continue
            # Every input already queued joins this group (up to
            # MAX_GROUP_INPUTS): the machine takes them one by one, then the
            # group's locks and final transactions share one synced write.
            effects = self._handle_logged(item, machine)
            deadline = time.perf_counter() + MAX_GROUP_SECONDS
            for _ in range(MAX_GROUP_INPUTS - 1):
                if self._queue.empty() or time.perf_counter() > deadline:
                    break
                effects.extend(self._handle_logged(self._queue.get_nowait(), machine))
            if not effects:
                continue
            # Final only once stored and applied: until then get_status
            # reports these pending.
            announcing = [e.txid for e in effects if isinstance(e, TransactionFinal)]
            self._announcing.update(announcing)
            try:
                await self._execute(effects)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("finality effects failed")
            finally:
                self._announcing.difference_update(announcing)

    def _handle_logged(self, item: _Input, machine: FinalityMachine) -> list[FinalityEffect]:
        """`_handle`, with a bad input logged and counted instead of raised."""
        try:
            return self._handle(item, machine)
        except InvalidVote as exc:
            self.invalid_messages += 1
            log.debug("invalid finality message: %s", exc)
        except Exception:
            log.exception("finality input failed")
        return []

    def _handle(self, item: _Input, machine: FinalityMachine) -> list[FinalityEffect]:
        now = _now_ms()
        if isinstance(item, _TxInput):
            return machine.on_transaction(item.tx, now, txid=item.txid)
        if isinstance(item, _VotesInput):
            return machine.on_tx_votes(item.batch, item.leaves, now)
        if isinstance(item, _ItemInput):
            return self._handle_item(item, machine, now)
        if isinstance(item, _ReportInput):
            return machine.on_epoch_report(item.report)
        if isinstance(item, _TickInput):
            return machine.on_tick(now)
        if isinstance(item, _LastHeightDueInput):
            if item.prev_hash != self.state.block_hash:
                return []  # the last height was decided meanwhile
            return machine.on_last_height_due(item.prev_hash)
        effects = machine.on_block_committed(
            item.block,
            item.block_hash,
            now,
            next_voting_set=item.next_voting_set,
            reported_locks=item.reported_locks,
        )
        txids = [compute_txid(tx) for tx in item.block.transactions]
        # One dict lookup per stored txid: copying the final set for each one
        # made this quadratic in the backlog, on the event loop.
        stale = [t for t in self._stored_final if not machine.has_proof(t)]
        self._executor.submit(self.final_store.delete, [*txids, *stale])
        self._stored_final.difference_update(txids)
        self._stored_final.difference_update(stale)
        if item.prune_below_epoch is not None:
            self._executor.submit(self.wal.prune, item.prune_below_epoch)
        return effects

    def _handle_item(
        self, item: _ItemInput, machine: FinalityMachine, now: int
    ) -> list[FinalityEffect]:
        tx = item.item.tx
        txid = item.txid
        effects: list[FinalityEffect] = []
        if txid in self._confirmed or txid in self._conflicted:
            return effects
        known = txid in self._bodies or txid in self.mempool
        if not known:
            try:
                check_transaction(tx, self.params)
                validate_transaction(
                    tx,
                    txid,
                    self.view,
                    self.params,
                    self.state.height + 1,
                    sig_cache=self.sig_cache,
                )
            except InvalidTransaction as exc:
                log.debug("re-announced transaction %s refused: %s", txid.hex()[:16], exc)
                return effects
            with contextlib.suppress(TimecoinError):
                self.submit(tx)
            self._remember_body(txid, tx)
            self._first_seen_ms.setdefault(txid, now)
            effects.extend(machine.on_transaction(tx, now, txid=txid))
        proof = item.item.proof
        if proof is not None:
            effects.extend(self._proof_effects(machine, proof, tx, now))
        else:
            for vote in item.item.votes:
                try:
                    effects.extend(machine.on_tx_vote(vote, now))
                except InvalidVote as exc:
                    self.invalid_messages += 1
                    log.debug("invalid re-announced vote: %s", exc)
        return effects

    def _proof_effects(
        self, machine: FinalityMachine, proof: FinalityProof, tx: Transaction, now: int
    ) -> list[FinalityEffect]:
        voting_set = self.voting_sets.get(proof.epoch)
        if proof.epoch in (machine.epoch, machine.epoch - 1):
            voting_set = None
        return machine.on_finality_proof(proof, tx, now, voting_set=voting_set)

    # -------------------------------------------------------------- effects

    async def _execute(self, effects: list[FinalityEffect]) -> None:
        """Run `effects`: first every WAL record and every final transaction
        among them in one synced write (the group commit: a lock is durable
        before any vote leaves, a final transaction before it is reported),
        then the others in list order."""
        records = [e.record for e in effects if isinstance(e, PersistFinalityWal)]
        items = [(e.tx, e.proof) for e in effects if isinstance(e, TransactionFinal)]
        if records or items:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(
                self._executor, self.final_store.put_with_wal, items, self.wal, records
            )
        requests: list[bytes] = []
        reannounce: list[FinalityTx] = []
        for effect in effects:
            if isinstance(effect, TransactionFinal):
                self._on_final(effect)
            elif isinstance(effect, BroadcastVotes):
                self.network.broadcast(TxVotesMsg(batch=effect.batch, leaves=list(effect.leaves)))
                for leaf in effect.leaves:
                    self.mempool.mark_voted(leaf.txid)
            elif isinstance(effect, RequestProof | RequestTransaction):
                requests.append(effect.txid)
            elif isinstance(effect, RecordEvidence):
                log.warning("transaction vote equivocation: %r", effect.evidence)
                self.evidence.append(effect.evidence)
                del self.evidence[:-MAX_EVIDENCE_KEPT]
                self.network.gossip_evidence(effect.evidence)
            elif isinstance(effect, BroadcastReport):
                self.network.broadcast(EpochReportMsg(report=effect.report))
            elif isinstance(effect, RequestReports):
                weight, total = self.reports_weight(effect.epoch)
                # Asked every 500 ms while reports are missing: one info line
                # per epoch (the warning and the metric say how long it lasts).
                level = (
                    logging.DEBUG if self._reports_requested_epoch == effect.epoch else logging.INFO
                )
                self._reports_requested_epoch = effect.epoch
                log.log(
                    level,
                    "asking peers for the reports of epoch %d (weight %d of %d held)",
                    effect.epoch,
                    weight,
                    total,
                )
                self.network.broadcast(GetEpochReports(epoch=effect.epoch))
            elif isinstance(effect, Reannounce):
                reannounce.append(
                    FinalityTx(
                        tx=effect.tx,
                        proof=effect.proof,
                        votes=list(effect.votes[:MAX_FINALITY_TX_VOTES]),
                    )
                )
            elif isinstance(effect, ScheduleTick):
                self._schedule(effect.at_ms)
        if items:
            self._pulse()
        if requests:
            self._request(requests)
        for start in range(0, len(reannounce), MAX_FINALITY_TXS_PER_MSG):
            chunk = reannounce[start : start + MAX_FINALITY_TXS_PER_MSG]
            self.network.broadcast(FinalityTxs(items=chunk))

    def _on_final(self, final: TransactionFinal) -> None:
        txid = final.txid
        self._stored_final.add(txid)
        self._remember_body(txid, final.tx)
        self.finalized += 1
        self._final_at_ms[txid] = _now_ms()
        while len(self._final_at_ms) > self._max_recent_txids:
            self._final_at_ms.popitem(last=False)
        seen = self._first_seen_ms.pop(txid, None)
        if seen is not None:
            latency_ms = float(_now_ms() - seen)
            self.final_latencies_ms.append(latency_ms)
            del self.final_latencies_ms[:-10_000]
            for observe in self.latency_listeners:
                observe(latency_ms)
        height = self.state.height + 1
        try:
            self.mempool.add(final.tx, self.view, height, now_ms=_now_ms(), final=True)
        except TimecoinError as exc:
            log.debug("final transaction %s not pooled: %s", txid.hex()[:16], exc)
        if txid not in self._confirmed:  # else the tip holds it already
            self.view.add_final(final.tx, txid)
        for listener in self.final_listeners:
            try:
                listener(final.tx, txid)
            except Exception:
                log.exception("final transaction listener failed")
        for orphan, peer in self.mempool.take_orphans(txid):
            with contextlib.suppress(TimecoinError):
                self.submit(orphan, peer)

    def request_transactions(self, txids: list[bytes]) -> None:
        """Ask the peers for these transactions (bodies an epoch report names
        that this node lacks); a txid asked for within REQUEST_RETRY_MS is
        not asked again."""
        self._request(txids)

    def _request(self, txids: list[bytes]) -> None:
        now = _now_ms()
        wanted: list[bytes] = []
        for txid in dict.fromkeys(txids):
            last = self._requested.get(txid)
            if last is not None and now - last < REQUEST_RETRY_MS:
                continue
            self._requested[txid] = now
            self._requested.move_to_end(txid)
            wanted.append(txid)
        while len(self._requested) > MAX_REQUESTED:
            self._requested.popitem(last=False)
        for start in range(0, len(wanted), MAX_FINALITY_TXS_PER_MSG):
            self.network.broadcast(
                GetFinalityTxs(txids=wanted[start : start + MAX_FINALITY_TXS_PER_MSG])
            )

    def _schedule(self, at_ms: int) -> None:
        """Queue a tick at `at_ms` (one timer: the earliest wins)."""
        if self._stopping:
            return
        if self._timer is not None and self._timer_at_ms <= at_ms:
            return
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        delay_s = max(0.0, (at_ms - _now_ms() + 1) / 1000)
        self._timer_at_ms = at_ms

        def fire() -> None:
            self._timer = None
            self._offer(_TickInput())

        self._timer = loop.call_later(delay_s, fire)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000

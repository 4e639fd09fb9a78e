"""Runs the consensus machine on asyncio, the real clock and the LMDB store.

`ConsensusDriver` owns the `ConsensusMachine` and the chain state of the
tip. Every input (a vote, a proposal, a timer, a block fetched by catch-up)
goes through one bounded queue to one worker task, so the machine is never
entered twice at once and its effects run strictly in order, as
consensus/effects.py requires:

- `PersistWal`: consecutive records are appended in one synced LMDB write
  in the thread pool, awaited BEFORE the next effect (so a vote never
  leaves before the record that logs it is on disk);
- `Broadcast`: handed to the network;
- `ScheduleTimeout`: `loop.call_later` queues a tick for the due time;
- `CommitBlock`: `validate_block` (already done off the loop when the
  proposal arrived, otherwise in the thread pool), then
  `ChainStore.commit_block` in the thread pool, then the commit listeners,
  then `on_new_height` with the next `HeightContext`;
- `RecordEvidence`: logged and gossiped (the evidence pool comes later).

Proposals are validated in the thread pool as they arrive, with their
transaction signatures checked by a `BatchVerifier` on two threads, so the
machine's synchronous `validate_proposal` finds the result in a cache.

A proposer assembles its block off the loop: when its block interval ends
(the machine's `BLOCK_INTERVAL` timeout, or at once when a commit starts a
height it proposes and the interval is already over), `prebuild` snapshots
the final transactions, reports, heartbeats and evidence on the loop, runs
`assemble_block` in the thread pool (reports, heartbeats and evidence
first, the transactions in the space they leave: ADR 0006), and then
ticks the machine with the clock reading the block was built for; the
machine's synchronous `build_proposal` takes the prebuilt block (it builds
on the loop only if none matches the tip and timestamp).

Blocks admit only final transactions (docs/spec/finality.md section 5): a
proposer builds from `FinalityService.final_transactions()` (those it found
final at least PROPOSAL_SETTLE_MS ago) with `final_txids`, and a
proposal is validated with `has_finality_proof`. Before validating a
proposal the driver requests the proofs it lacks and waits up to
PROOF_FETCH_TIMEOUT_S for them; a proposal whose proofs are
still missing then is invalid for now (the node prevotes nil, and the
block comes back in a later round or with its certificate, which needs no
proof). Committed blocks (certificates, sync) are applied without the
proof check. The proposer's block also carries the pooled attested
heartbeats (`select_next_block_heartbeats`) and kept tx-vote evidence.

Epoch reports (ADR 0004, docs/spec/finality.md section 7), from
`params.activation.epoch_reports_height`: the proposer of an epoch's last
height waits up to REPORT_WAIT_S for reports of more than 2/3 of the
outgoing weight (members send theirs REPORT_LEAD_MS before the proposal is
due: node/finality.py), then passes the reports its finality machine
verified and the bodies of the transactions they name to `assemble_block`,
which keeps the cheapest valid quorum. While the valid reports do not
exceed 2/3 of the outgoing weight it proposes nothing (`build_proposal`
returns None): the round's propose timeout then runs out and the next
round (with the next proposer, which has had that much longer to receive
reports) tries again.
A proposal is validated with `finality_proof_of` (the proofs the finality
machine holds) and `voting_set_of_epoch` (the node's voting sets by epoch),
so a transaction spending a reported-locked outpoint needs its finality
proof; the commit writes the block's lock changes to the store, and the
finality machine takes `state_after.reported_locks` at the epoch change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from timecoin.chain import (
    AppliedBlock,
    ChainState,
    assemble_block,
    errors,
    validate_block,
    verify_certificate,
    voting_set_at,
)
from timecoin.consensus import (
    Broadcast,
    CommitBlock,
    ConsensusMachine,
    Effect,
    HeightContext,
    PersistWal,
    RecordEvidence,
    ScheduleTimeout,
    TimeoutStep,
    compute_earliest_proposal_ms,
    compute_proposal_timestamp_ms,
    select_proposer,
)
from timecoin.consensus.app import Verifier
from timecoin.consensus.chain_app import ChainBlockApp, as_block
from timecoin.crypto import SigningKey
from timecoin.crypto.batch import BatchVerifier
from timecoin.ledger import SignatureCache
from timecoin.masternode import is_last_height_of_epoch
from timecoin.node.store import WalLog, save_tip_certificate
from timecoin.params import ChainParams
from timecoin.storage import ChainStore
from timecoin.storage.chainstate import commit_applied
from timecoin.types import (
    AttestedHeartbeat,
    Block,
    Certificate,
    EpochReport,
    Evidence,
    FinalityProof,
    InvalidBlock,
    InvalidVote,
    Proposal,
    Transaction,
    Vote,
    VotingSet,
    compute_block_hash,
    compute_txid,
)

if TYPE_CHECKING:
    from timecoin.node.finality import FinalityService
    from timecoin.node.heartbeats import HeartbeatService

log = logging.getLogger("timecoin.node.driver")

MAX_INPUT_QUEUE: Final = 10_000
"""Inputs waiting for the worker; beyond this, new votes and proposals are dropped."""
MAX_APPLIED_CACHE: Final = 64
"""Validated blocks kept for the machine's `validate_proposal` and the commit."""
MAX_BLOCK_TRANSACTIONS: Final = 5_000
"""Most transactions a proposal built here takes from the final backlog."""
PROPOSAL_SETTLE_MS: Final = 200
"""A proposer takes only transactions it has found final at least this long
ago: the validators, a little behind under load, then hold their proofs
already (a missing one makes the round fail)."""
MAX_SETTLE_DOUBLINGS: Final = 4
"""Rounds after which PROPOSAL_SETTLE_MS stops doubling (3.2 s) and the proof
wait stops growing (1.5 s)."""
REPORT_WAIT_S: Final = 0.5
"""How long the proposer of an epoch's last height waits for reports of more
than 2/3 of the weight before it builds (without them it cannot)."""
PROOF_FETCH_TIMEOUT_S: Final = 0.3
"""How long a proposal waits for the finality proofs it lacks before validation."""


class ConsensusNetwork(Protocol):
    """What the driver needs from the network."""

    def broadcast_proposal(self, proposal: Proposal, block: Block) -> None:
        """Send a signed proposal with its block to every peer."""
        ...

    def broadcast_votes(self, votes: list[Vote]) -> None:
        """Send signed votes to every peer."""
        ...

    def broadcast_evidence(self, evidence: Evidence) -> None:
        """Gossip evidence of an equivocation."""
        ...


CommitListener = Callable[[AppliedBlock, Certificate, float], None]
"""Called after a block is durable: (applied block, certificate, commit seconds)."""


def now_ms() -> int:
    """Wall-clock milliseconds since the Unix epoch (the consensus clock)."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class _Tick:
    """A timer is due; `now_ms` (when set) is the clock reading to use, the
    one a block was prebuilt for."""

    now_ms: int | None = None


@dataclass(frozen=True, slots=True)
class _VoteInput:
    vote: Vote


@dataclass(frozen=True, slots=True)
class _ProposalInput:
    proposal: Proposal
    block: Block


@dataclass(frozen=True, slots=True)
class _SyncedInput:
    block: Block
    certificate: Certificate


_Input = _Tick | _VoteInput | _ProposalInput | _SyncedInput


@dataclass(frozen=True, slots=True)
class _ProposalInputs:
    """A snapshot of what the next block is assembled from."""

    state: ChainState
    transactions: list[Transaction]
    final_txids: set[bytes]
    reports: list[EpochReport]
    reported_transactions: list[Transaction]
    attestations: list[AttestedHeartbeat]
    evidence: list[Evidence]
    prev_certificate: Certificate | None


@dataclass(frozen=True, slots=True)
class _Built:
    """A block assembled after `state` (None: none could be), and whether
    evidence made the first attempt fail."""

    state: ChainState
    applied: AppliedBlock | None
    failed_evidence: bool


class ConsensusDriver:
    """The consensus machine of one node, run on the event loop."""

    def __init__(
        self,
        *,
        params: ChainParams,
        chain: ChainStore,
        state: ChainState,
        tip_certificate: Certificate | None,
        wal: WalLog,
        key: SigningKey,
        finality: FinalityService,
        network: ConsensusNetwork,
        executor: ThreadPoolExecutor,
        batch_verifier: BatchVerifier,
        verifier: Verifier,
        heartbeats: HeartbeatService | None = None,
    ) -> None:
        """A driver at the tip `state` of `chain` (not started)."""
        self.params = params
        self.chain = chain
        self.state = state
        self.tip_certificate = tip_certificate
        self.wal = wal
        self.key = key
        self.finality = finality
        self.heartbeats = heartbeats
        self.network = network
        self._executor = executor
        self._batch_verifier = batch_verifier
        self._verifier = verifier
        self._sig_cache: SignatureCache = finality.sig_cache
        self._verify_batch = finality.sig_cache.count_batch(batch_verifier.verify_all)
        self.app = ChainBlockApp(self)
        self.machine: ConsensusMachine | None = None
        self.listeners: list[CommitListener] = []
        self._queue: asyncio.Queue[_Input] = asyncio.Queue(MAX_INPUT_QUEUE)
        self._worker: asyncio.Task[None] | None = None
        self._applied: OrderedDict[bytes, AppliedBlock] = OrderedDict()
        self._timers: set[asyncio.TimerHandle] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._prebuilt: dict[tuple[bytes, int], _Built] = {}
        self._proposal_due_ms: int | None = None
        self._stopping = False
        self.halted = False
        self.dropped_inputs = 0
        self.invalid_messages = 0
        self.proposals_prebuilt = 0
        """Proposals whose block was assembled off the loop."""
        self.proposals_built_on_loop = 0
        """Proposals whose block had to be built on the loop (none prebuilt matched)."""
        self.last_commit_monotonic = time.monotonic()
        self.commits = 0

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Restore the machine from the WAL and start deciding the next height."""
        records = await asyncio.get_running_loop().run_in_executor(self._executor, self.wal.read)
        context = self.next_context()
        self.machine = ConsensusMachine.restore(
            records,
            params=self.params,
            app=self.app,
            verifier=self._verifier,
            signer=self.key,
            context=context,
        )
        self._worker = asyncio.create_task(self._run(), name="consensus-driver")
        await self._execute(self.machine.on_start(now_ms()))

    async def stop(self) -> None:
        """Stop taking inputs; let the input in progress (and its commit) finish."""
        self._stopping = True
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        worker = self._worker
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    def next_context(self) -> HeightContext:
        """The context of the height after the tip."""
        height = self.state.height + 1
        voting_set = voting_set_at(self.state, height)
        if voting_set is None:
            raise AssertionError(f"state at {self.state.height} has no voting set for {height}")
        return HeightContext(
            height=height,
            voting_set=voting_set,
            prev_block_timestamp_ms=self.state.header.timestamp_ms,
            proposer_seed=voting_set.compute_hash(),
        )

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

    def on_vote(self, vote: Vote) -> None:
        """A vote from a peer."""
        self._offer(_VoteInput(vote))

    async def on_proposal(self, proposal: Proposal, block: Block) -> None:
        """A proposal from a peer: its block is validated off the loop first."""
        if block.header.prev_hash == self.state.block_hash:
            txids = [compute_txid(tx) for tx in block.transactions[1:]]
            # Longer in later rounds: a round already failed for want of proofs.
            rounds = min(proposal.round, MAX_SETTLE_DOUBLINGS)
            await self.finality.wait_for_proofs(txids, PROOF_FETCH_TIMEOUT_S * (1 + rounds))
            await self.prevalidate(block, proposal=True)
        self._offer(_ProposalInput(proposal, block))

    def on_synced_block(self, block: Block, certificate: Certificate) -> None:
        """A committed block with its certificate, fetched by catch-up."""
        self._offer(_SyncedInput(block, certificate))

    def queue_size(self) -> int:
        """Inputs waiting for the worker."""
        return self._queue.qsize()

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            if self.halted or self.machine is None:
                continue
            try:
                await self._handle(item, self.machine)
            except InvalidVote as exc:
                self.invalid_messages += 1
                log.debug("invalid consensus message: %s", exc)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("consensus input failed; halting block production")
                self.halted = True

    async def _handle(self, item: _Input, machine: ConsensusMachine) -> None:
        if isinstance(item, _Tick):
            tick_ms = now_ms()
            if item.now_ms is not None:
                tick_ms = item.now_ms
                self._proposal_due_ms = None
            elif self._proposal_due_ms is not None:
                tick_ms = min(tick_ms, self._proposal_due_ms - 1)
            await self._execute(machine.on_tick(tick_ms))
        elif isinstance(item, _VoteInput):
            await self._execute(machine.on_vote(item.vote, now_ms()))
        elif isinstance(item, _ProposalInput):
            await self._execute(machine.on_proposal(item.proposal, item.block, now_ms()))
        else:
            await self._handle_synced(item.block, item.certificate, machine)

    async def _handle_synced(
        self, block: Block, certificate: Certificate, machine: ConsensusMachine
    ) -> None:
        height = block.header.height
        if height != self.state.height + 1:
            return
        if machine.height == height and not machine.is_decided:
            if block.header.prev_hash == self.state.block_hash:
                await self.prevalidate(block)
            await self._execute(machine.on_certificate(certificate, block, now_ms()))
            return
        voting_set = voting_set_at(self.state, height)
        if voting_set is None:
            return
        verify_certificate(
            certificate,
            voting_set,
            self.params.chain_id,
            self._verifier,
            expected_height=height,
            expected_block_hash=compute_block_hash(block.header),
        )
        await self.commit(block, certificate)

    # -------------------------------------------------------------- effects

    async def _execute(self, effects: list[Effect]) -> None:
        """Run `effects` in order; consecutive WAL records share one fsync."""
        pending: list[PersistWal] = []
        loop = asyncio.get_running_loop()
        for index, effect in enumerate(effects):
            if isinstance(effect, PersistWal):
                pending.append(effect)
                following = effects[index + 1] if index + 1 < len(effects) else None
                if isinstance(following, PersistWal):
                    continue
                records = [p.record for p in pending]
                pending = []
                await loop.run_in_executor(self._executor, self.wal.append, records)
            elif isinstance(effect, Broadcast):
                self._broadcast(effect)
            elif isinstance(effect, ScheduleTimeout):
                if effect.step is TimeoutStep.BLOCK_INTERVAL:
                    self._schedule_proposal(effect.at_ms)
                else:
                    self._schedule(effect.at_ms)
            elif isinstance(effect, CommitBlock):
                await self.commit(as_block(effect.block_value), effect.certificate)
            elif isinstance(effect, RecordEvidence):
                log.warning("equivocation evidence: %r", effect.evidence)
                self.network.broadcast_evidence(effect.evidence)

    def _broadcast(self, effect: Broadcast) -> None:
        message = effect.message
        if isinstance(message, Proposal):
            self.network.broadcast_proposal(message, as_block(effect.block_value))
        else:
            self.network.broadcast_votes([message])

    def _schedule(self, at_ms: int) -> None:
        """Queue a tick once the wall clock reaches `at_ms`.

        The loop's timers run on the monotonic clock and may fire a little
        early; a tick before `at_ms` would find nothing due and the machine
        would never be woken again, so an early timer is re-armed.
        """
        if self._stopping:
            return
        loop = asyncio.get_running_loop()
        delay_s = max(0.0, (at_ms - now_ms() + 1) / 1000)

        def fire() -> None:
            self._timers.discard(handle)
            # A tick refused by a full queue is retried: a lost tick stalls the round.
            if now_ms() < at_ms or not self._offer(_Tick()):
                self._schedule(max(at_ms, now_ms() + 10))

        handle = loop.call_later(delay_s, fire)
        self._timers.add(handle)

    def _schedule_proposal(self, at_ms: int) -> None:
        """This node proposes once the wall clock reaches `at_ms` (the end of
        the block interval): then its block is assembled in the thread pool
        (`prebuild`) and the tick carries the clock reading it was built
        for, so the machine's `build_proposal` finds it ready."""
        if self._stopping:
            return
        # Until the prebuilt block's tick is handled, other ticks are handled
        # as if before `at_ms`: one would make the machine build on the loop.
        self._proposal_due_ms = at_ms
        loop = asyncio.get_running_loop()
        delay_s = max(0.0, (at_ms - now_ms() + 1) / 1000)

        def fire() -> None:
            self._timers.discard(handle)
            if now_ms() < at_ms:
                self._schedule_proposal(at_ms)
                return
            task = loop.create_task(self._prebuild_and_tick())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        handle = loop.call_later(delay_s, fire)
        self._timers.add(handle)

    async def _prebuild_and_tick(self) -> None:
        tick_ms = now_ms()
        prev_ms = self.state.header.timestamp_ms
        try:
            await self.prebuild(compute_proposal_timestamp_ms(self.params, prev_ms, tick_ms))
        except Exception:
            log.exception("assembling a proposal off the loop failed")
        if not self._offer(_Tick(tick_ms)):
            self._proposal_due_ms = None
            self._schedule(now_ms() + 10)

    def _proposes_at_once(self, context: HeightContext, tick_ms: int) -> bool:
        """Whether this node proposes round 0 of `context`'s height as soon
        as it starts it at `tick_ms` (its block interval is already over)."""
        own = context.voting_set.index_of(self.key.public_key)
        return (
            own is not None
            and tick_ms
            >= compute_earliest_proposal_ms(self.params, context.prev_block_timestamp_ms)
            and own == select_proposer(context.voting_set, context.height, 0, context.proposer_seed)
        )

    def rebroadcast_own(self) -> None:
        """Send this node's messages of the current round again (for peers that
        connected late or lost them)."""
        machine = self.machine
        if machine is None:
            return
        for message in machine.get_own_messages():
            self._broadcast(message)

    # -------------------------------------------------------------- blocks

    def _validate(self, block: Block, state: ChainState, proposal: bool = False) -> AppliedBlock:
        """`validate_block` against `state`; a proposal (not yet committed) must
        also hold a finality proof for each of its transactions."""
        return validate_block(
            block,
            state,
            self.chain,
            verifier=self._verifier,
            verify_batch=self._verify_batch,
            sig_cache=self._sig_cache,
            has_finality_proof=self.finality.has_proof if proposal else None,
            finality_proof_of=self.finality_proof_of if proposal else None,
            voting_set_of_epoch=self.voting_set_of_epoch if proposal else None,
        )

    def finality_proof_of(self, txid: bytes) -> FinalityProof | None:
        """The finality proof of `txid` the finality machine holds, or None
        (rule 7c: transactions spending reported-locked outpoints)."""
        machine = self.finality.machine
        return None if machine is None else machine.get_proof(txid)

    def voting_set_of_epoch(self, epoch: int) -> VotingSet | None:
        """The voting set of `epoch` the node recorded, or None."""
        return self.finality.voting_sets.get(epoch)

    def _epoch_reports(self, state: ChainState) -> tuple[list[EpochReport], list[Transaction]]:
        """The reports the finality machine verified for the epoch of the
        height after `state`'s tip, with the bodies of the transactions they
        name that this node holds; empty unless that height is the last of
        its epoch and the epoch-report rule applies there."""
        height = state.height + 1
        machine = self.finality.machine
        if (
            machine is None
            or not self.params.activation.is_epoch_reports_active(height)
            or not is_last_height_of_epoch(height, self.params)
        ):
            return [], []
        reports = machine.get_reports(self.params.epoch_of(height))
        bodies: dict[bytes, Transaction] = {}
        missing: list[bytes] = []
        for report in reports:
            for entry in report.entries:
                if entry.txid in bodies:
                    continue
                known = self.finality.get_transaction(entry.txid)
                if known is not None:
                    bodies[entry.txid] = known[0]
                elif not self.finality.is_confirmed(entry.txid):
                    missing.append(entry.txid)
        if missing:
            # Every reporter logged the body with its vote: ask for it.
            self.finality.request_transactions(missing)
        return reports, list(bodies.values())

    async def prevalidate(self, block: Block, *, proposal: bool = False) -> AppliedBlock | None:
        """Validate `block` as the child of the tip in the thread pool and cache
        the result; None when it is invalid. A `proposal` needs every finality
        proof (a committed block does not)."""
        block_hash = compute_block_hash(block.header)
        cached = self._applied.get(block_hash)
        if cached is not None:
            return cached
        state = self.state
        loop = asyncio.get_running_loop()
        try:
            applied = await loop.run_in_executor(
                self._executor, self._validate, block, state, proposal
            )
        except InvalidBlock as exc:
            log.info("invalid block %s at %d: %s", block_hash.hex()[:16], block.header.height, exc)
            return None
        if state is self.state:
            self._remember(applied)
        return applied

    def _remember(self, applied: AppliedBlock) -> None:
        self._applied[applied.block_hash] = applied
        while len(self._applied) > MAX_APPLIED_CACHE:
            self._applied.popitem(last=False)

    def is_valid_child(self, block: Block) -> bool:
        """Whether `block` validates against the tip (`get_applied`, cached)."""
        return self.get_applied(block) is not None

    def get_applied(self, block: Block) -> AppliedBlock | None:
        """The validation result of `block` as the tip's child (cached, or
        computed now on the loop); None when it is invalid."""
        block_hash = compute_block_hash(block.header)
        cached = self._applied.get(block_hash)
        if cached is not None and cached.block.header.prev_hash == self.state.block_hash:
            return cached
        try:
            applied = self._validate(block, self.state, proposal=True)
        except InvalidBlock:
            return None
        self._remember(applied)
        return applied

    def build_block(self, timestamp_ms: int) -> Block | None:
        """A valid block after the tip with the final transactions not yet in a
        block, pooled attested heartbeats and kept evidence (None if building
        fails). At an epoch's last height (rule active) it carries the valid
        epoch reports received; None while they do not exceed 2/3 of the
        outgoing weight (the round times out and the next one retries).

        The block `prebuild` assembled off the loop for this tip and
        timestamp is returned at once; otherwise it is built here, on the loop.
        """
        key = (self.state.block_hash, timestamp_ms)
        if key in self._prebuilt:
            self.proposals_prebuilt += 1
            return self._finish_build(self._prebuilt.pop(key))
        self.proposals_built_on_loop += 1
        return self._finish_build(self._assemble(self._proposal_inputs(), timestamp_ms))

    async def prebuild(self, timestamp_ms: int) -> None:
        """Assemble the block `build_block(timestamp_ms)` will return, in the
        thread pool: the inputs are snapshotted on the loop, the validation
        and the state transition run off it."""
        key = (self.state.block_hash, timestamp_ms)
        if key in self._prebuilt:
            return
        height = self.state.height + 1
        if self.params.activation.is_epoch_reports_active(height) and is_last_height_of_epoch(
            height, self.params
        ):
            # The members report a little before this moment; give their
            # reports the time to arrive rather than fail the round.
            await self.finality.wait_for_reports(self.params.epoch_of(height), REPORT_WAIT_S)
        inputs = self._proposal_inputs()
        loop = asyncio.get_running_loop()
        built = await loop.run_in_executor(self._executor, self._assemble, inputs, timestamp_ms)
        if inputs.state is self.state:
            self._prebuilt.clear()
            self._prebuilt[key] = built

    def _settle_ms(self) -> int:
        """How long ago a transaction must have become final here to go into
        this node's proposal: PROPOSAL_SETTLE_MS, doubled for each round
        that failed at this height (validators behind under load lacked
        proofs: an older prefix of the backlog is one they hold)."""
        machine = self.machine
        rounds = 0 if machine is None else min(machine.round, MAX_SETTLE_DOUBLINGS)
        return PROPOSAL_SETTLE_MS << rounds

    def _proposal_inputs(self) -> _ProposalInputs:
        """What the next block is assembled from, snapshotted on the loop."""
        state = self.state
        heartbeats = self.heartbeats
        reports, reported_transactions = self._epoch_reports(state)
        return _ProposalInputs(
            state=state,
            transactions=self.finality.final_transactions(now_ms() - self._settle_ms()),
            final_txids=self.finality.final_txids(),
            reports=reports,
            reported_transactions=reported_transactions,
            attestations=[] if heartbeats is None else heartbeats.select(state, self._verifier),
            evidence=list(self.finality.evidence),
            prev_certificate=self.tip_certificate,
        )

    def _assemble(self, inputs: _ProposalInputs, timestamp_ms: int) -> _Built:
        """Assemble the block from `inputs` with `assemble_block` (reports,
        heartbeats and evidence first, the transactions in the space left);
        no loop state is touched: safe in the thread pool. Evidence that
        makes it fail is dropped for a second attempt."""
        state = inputs.state
        evidence = inputs.evidence
        failed_evidence = False
        for with_evidence in (evidence, []) if evidence else ([],):
            try:
                applied = assemble_block(
                    state,
                    self.chain,
                    inputs.transactions,
                    timestamp_ms=timestamp_ms,
                    proposer=self.key.public_key,
                    prev_certificate=inputs.prev_certificate,
                    verifier=self._verifier,
                    evidence=with_evidence,
                    attestations=inputs.attestations,
                    reports=inputs.reports,
                    reported_transactions=inputs.reported_transactions,
                    max_count=MAX_BLOCK_TRANSACTIONS,
                    final_txids=inputs.final_txids,
                    finality_proof_of=self.finality_proof_of,
                    voting_set_of_epoch=self.voting_set_of_epoch,
                    sig_cache=self._sig_cache,
                )
                return _Built(state, applied, failed_evidence)
            except InvalidBlock as exc:
                if exc.reject_code == errors.REJECT_INSUFFICIENT_REPORTS:
                    log.info(
                        "not proposing %d yet: %d epoch reports held, %s",
                        state.height + 1,
                        len(inputs.reports),
                        exc,
                    )
                    return _Built(state, None, failed_evidence)
                log.error("cannot build a block at %d: %s", state.height + 1, exc)
                failed_evidence = bool(with_evidence)
        return _Built(state, None, failed_evidence)

    def _finish_build(self, built: _Built) -> Block | None:
        """On the loop: drop evidence that made building fail, cache the result."""
        if built.failed_evidence:
            self.finality.evidence.clear()
        applied = built.applied
        if applied is None or built.state is not self.state:
            return None
        self._remember(applied)
        return applied.block

    def _write(self, applied: AppliedBlock, certificate: Certificate) -> None:
        """Make `applied` durable: the certificate first (it names its height,
        so a crash before the block leaves it unused), then the block, then
        drop the WAL records of the committed height. The chain state after the
        block (registry, voting sets) is written in the block's batch."""
        save_tip_certificate(self.chain.kv, certificate)
        commit_applied(self.chain, applied)
        self.wal.prune(applied.block.header.height + 1)

    async def commit(self, block: Block, certificate: Certificate) -> None:
        """Validate, store and apply a decided block, then start the next height.

        A decided block that fails validation means the network committed
        a block this node finds invalid: block production halts (raised as
        InvalidBlock to the worker, which logs it).
        """
        started = time.perf_counter()
        block_hash = compute_block_hash(block.header)
        applied = self._applied.get(block_hash)
        if applied is None or applied.block.header.prev_hash != self.state.block_hash:
            state = self.state
            loop = asyncio.get_running_loop()
            applied = await loop.run_in_executor(self._executor, self._validate, block, state)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._write, applied, certificate)
        self.state = applied.state_after
        self.tip_certificate = certificate
        self._proposal_due_ms = None
        self._applied.clear()
        self.finality.on_block_committed(block, applied.block_hash, applied.state_after)
        if self.heartbeats is not None:
            self.heartbeats.on_block_committed(block, applied.state_after)
        elapsed_s = time.perf_counter() - started
        self.commits += 1
        self.last_commit_monotonic = time.monotonic()
        log.info(
            "committed block %d %s (%d txs, round %d) in %.1f ms",
            block.header.height,
            block_hash.hex()[:16],
            len(block.transactions),
            certificate.round,
            elapsed_s * 1000,
        )
        for listener in self.listeners:
            try:
                listener(applied, certificate, elapsed_s)
            except Exception:
                log.exception("commit listener failed")
        machine = self.machine
        if machine is not None and not self._stopping:
            context = self.next_context()
            tick_ms = now_ms()
            if self._proposes_at_once(context, tick_ms):
                prev_ms = context.prev_block_timestamp_ms
                with contextlib.suppress(RuntimeError):  # the pool shut down meanwhile
                    await self.prebuild(
                        compute_proposal_timestamp_ms(self.params, prev_ms, tick_ms)
                    )
            await self._execute(machine.on_new_height(context, tick_ms))

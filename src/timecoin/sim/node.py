"""One simulated node: consensus and finality machines, chain state, UTXO
set, mempool, heartbeats and disk.

A node is the same composition a real node makes, with the network, the
disk and the clock replaced: it decodes every received message through
`timecoin.encoding`, feeds the consensus machine, executes the machine's
effects strictly in order (a `PersistWal` reaches the simulated disk before
the effect after it), validates and applies committed blocks with
`timecoin.chain.validate_block`, and builds proposals with
`timecoin.chain.assemble_block`.

A node runs a `ConsensusMachine` only while its operator key is in the
voting set of the height it is deciding; otherwise it follows, applying
committed blocks fetched by sync. Beside it, every node runs a
`FinalityMachine` (it votes only while a member of the epoch's committee)
and a `timecoin.mempool.Mempool` sharing the run's `SignatureCache`; blocks
hold only transactions whose finality proof the node holds. Registered
masternodes send heartbeats to their witnesses, witnesses attest them and
blocks carry them, so rewards rotate. Its clock is the virtual time plus
its skew.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from timecoin.chain import AppliedBlock, ChainState, assemble_block, voting_set_at
from timecoin.chain.evidence import get_evidence_height, get_evidence_signer
from timecoin.chain.heartbeats import (
    get_next_block_witnesses,
    select_next_block_heartbeats,
    verify_next_block_heartbeat,
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
    WalRecord,
    WalVote,
)
from timecoin.consensus.chain_app import ChainBlockApp, as_block
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
)
from timecoin.consensus.limits import MAX_ROUNDS_AHEAD
from timecoin.crypto import SigningKey
from timecoin.encoding import DecodeError, encode
from timecoin.ledger import MemoryUtxoSet, UtxoView
from timecoin.masternode import (
    compute_required_attestations,
    get_entry,
    sign_attestation,
    sign_heartbeat,
    verify_heartbeat_signature,
)
from timecoin.masternode.heartbeat import compute_reward_window
from timecoin.masternode.state import is_last_height_of_epoch
from timecoin.mempool import FinalUtxoView, Mempool, MempoolRejected
from timecoin.mempool.errors import REJECT_ORPHAN
from timecoin.p2p.messages import (
    MAX_BLOCKS_PER_MSG,
    MAX_FINALITY_TX_VOTES,
    MAX_FINALITY_TXS_PER_MSG,
    Blocks,
    CommittedBlock,
    EpochReportMsg,
    EvidenceMsg,
    FinalityTx,
    FinalityTxs,
    GetBlocks,
    GetEpochReports,
    GetFinalityTxs,
    HeartbeatMsg,
    Message,
    ProposalMsg,
    Txs,
    TxVotesMsg,
    VoteMsg,
    decode_message,
    encode_message,
)
from timecoin.params import ChainParams
from timecoin.sim.byzantine import ByzantineStrategy
from timecoin.sim.checkers import Recorder
from timecoin.sim.disk import SimDisk
from timecoin.sim.events import EventQueue
from timecoin.sim.view import StrategyRun
from timecoin.types import (
    ZERO_HASH,
    AttestedHeartbeat,
    Block,
    Certificate,
    Coin,
    EpochReport,
    Evidence,
    FinalityProof,
    Heartbeat,
    InvalidBlock,
    InvalidTransaction,
    InvalidVote,
    OutPoint,
    Proposal,
    Transaction,
    TxVote,
    TxVoteBatch,
    Vote,
    VoteLeaf,
    VoteType,
    VotingSet,
    WitnessSignature,
    compute_block_hash,
    compute_txid,
)

MAINTENANCE_INTERVAL_MS: Final = 200
"""Period of a node's maintenance: re-gossip of its own messages when its
round has not moved, and sync when it has not committed."""

SYNC_RETRY_MS: Final = 100
"""Least time between two sync requests of one node."""

HELP_INTERVAL_MS: Final = 100
"""Least time between two unsolicited sync responses to one lagging peer."""

MAX_POOL_EVIDENCE: Final = 64
"""Bound of a node's evidence pool."""

MAX_RELAY_VOTES: Final = 4_096
"""Most received votes of one height a node keeps to relay as proofs of lock."""

REGOSSIP_ROUNDS: Final = 16
"""A stuck node re-sends its own votes of this many rounds below its current one."""

MAX_BLOCK_TRANSACTIONS: Final = 200
"""Most non-coinbase transactions a simulated proposer puts in a block."""

SIM_FINALITY_CONFIG: Final = FinalityConfig(reannounce_interval_ms=50)
"""The finality machine's knobs in the simulator: re-announcement every
400 ms of virtual time (heights take about 100 ms)."""

MAX_HELD_PROPOSALS: Final = 8
"""Proposals a node holds while it fetches the finality proofs of their transactions."""

MAX_FINAL_BODIES: Final = 20_000
"""Bound of the final-but-unblocked transaction bodies a node serves."""

RECONNECT_MIN_MS: Final = 20
RECONNECT_MAX_MS: Final = 300
"""A restarted node exchanges messages again this long after its restore
(dialing and handshakes; drawn per restart)."""

MAX_TX_BODIES: Final = 20_000
"""Bound of the valid transaction bodies a node keeps for the epoch's last
block (reported transactions) until a block spends their inputs."""


@dataclass(slots=True)
class _PendingHeartbeat:
    """This node's last heartbeat, collecting its witnesses' attestations."""

    heartbeat: Heartbeat
    window: int
    witnesses: set[bytes]
    required: int
    attestations: dict[bytes, WitnessSignature]


def compute_proposer_seed(voting_set: VotingSet) -> bytes:
    """The proposer seed of a height: the hash of its voting set, fixed for the
    whole epoch (docs/spec/consensus.md, HeightContext)."""
    return voting_set.compute_hash()


class SimHost(StrategyRun, Protocol):
    """What a `SimNode` needs of the run that drives it (the `Simulation`):
    what its Byzantine strategy sees, plus the clock and event queue, the
    checkers, the shared validation caches and the network's routing."""

    @property
    def params(self) -> ChainParams:
        """The chain parameters of the run."""
        ...

    @property
    def queue(self) -> EventQueue:
        """The virtual clock and its events."""
        ...

    @property
    def recorder(self) -> Recorder:
        """The run's checkers."""
        ...

    @property
    def verifier(self) -> Callable[[bytes, bytes, bytes], bool]:
        """Signature verification through the shared signature cache."""
        ...

    @property
    def genesis_state(self) -> ChainState:
        """The chain state after the genesis block."""
        ...

    @property
    def genesis_coins(self) -> dict[OutPoint, Coin]:
        """The coins the genesis block creates."""
        ...

    def node_of_key(self, public_key: bytes) -> int | None:
        """The node whose operator key is `public_key`, or None."""
        ...

    def finality_targets(self, node: SimNode) -> list[int]:
        """Where `node` sends transactions, votes, proofs and reports."""
        ...

    def validate(self, state: ChainState, view: UtxoView, block: Block) -> AppliedBlock:
        """`validate_block` of `block` after `state`, shared by all nodes."""
        ...

    def remember(self, state: ChainState, applied: AppliedBlock) -> None:
        """Cache a block the chain layer built (valid by construction)."""
        ...

    def verify_certificate(
        self, state: ChainState, certificate: Certificate, height: int, block_hash: bytes
    ) -> None:
        """Verify `certificate` for `block_hash` at `height` (raises InvalidVote)."""
        ...

    def on_commit(
        self,
        node: SimNode,
        state_before: ChainState,
        applied: AppliedBlock,
        certificate: Certificate,
        *,
        decided: bool,
    ) -> None:
        """`node` applied a block: run the checkers."""
        ...

    def crash_node(self, node: SimNode) -> None:
        """Crash `node` now."""
        ...


class SimNode:
    """A simulated masternode (or follower) driven by the `Simulation`."""

    def __init__(
        self,
        sim: SimHost,
        node_id: int,
        key: SigningKey,
        strategy: ByzantineStrategy | None,
        skew_ms: int,
    ) -> None:
        """Node `node_id` with operator key `key`; `strategy` None for an honest node."""
        self.sim = sim
        self.node_id = node_id
        self.key = key
        self.public_key = key.public_key
        self.strategy = strategy
        self.skew_ms = skew_ms
        self.params = sim.params
        self.app = ChainBlockApp(self)
        self.disk = SimDisk()
        self.up = False
        self.halted = False
        self.incarnation = 0
        self.connected_at_ms = 0
        """Virtual time from which this incarnation exchanges messages."""
        self.crash_armed = False
        self.machine: ConsensusMachine | None = None
        self.machine_generation = 0
        self.state: ChainState = sim.genesis_state
        self.utxo = MemoryUtxoSet()
        self.mempool = Mempool(self.params, sig_cache=sim.sig_cache)
        self.finality: FinalityMachine | None = None
        self.final_view = FinalUtxoView(self.utxo, (), 1)
        self.final_bodies: dict[bytes, Transaction] = {}
        self.tx_bodies: dict[bytes, Transaction] = {}
        self.heartbeats: dict[bytes, tuple[int, AttestedHeartbeat]] = {}
        self._own_heartbeat: _PendingHeartbeat | None = None
        self._held: dict[tuple[int, int, bytes], tuple[int, Proposal, Block]] = {}
        self._ticks: set[int] = set()
        self.evidence_pool: dict[bytes, Evidence] = {}
        self._prevotes: dict[tuple[int, int, bytes], dict[bytes, Vote]] = {}
        self._prevote_count = 0
        self._signed_votes: dict[tuple[int, int], Vote] = {}
        self.last_commit_ms = 0
        self._last_marker: tuple[int, int, int] | None = None
        self._last_maintenance_height = -1
        self._sync_wait_until_ms = 0
        self._helped_until_ms: dict[int, int] = {}
        self.decode_rejects = 0
        self.invalid_messages = 0
        self.sync_rejects = 0

    # ---------------------------------------------------------------- basics

    @property
    def is_honest(self) -> bool:
        """True for a node that follows the protocol."""
        return self.strategy is None

    @property
    def height(self) -> int:
        """The height of the last committed block."""
        return self.state.height

    def local_now_ms(self) -> int:
        """This node's clock: virtual time plus its skew."""
        return self.sim.queue.now_ms + self.skew_ms

    # ------------------------------------------------------- start and crash

    def boot(self) -> None:
        """Start, or restart after a crash, from the simulated disk: replay the
        committed blocks into a fresh state and restore the consensus machine
        from the write-ahead log."""
        self.incarnation += 1
        self.up = True
        self.halted = False
        self.crash_armed = False
        sim = self.sim
        # As a restarted node: no connection survives the crash, and the
        # peers are dialed (and handshaken) only after the restore, so what
        # the restore sends at once reaches nobody.
        self.connected_at_ms = (
            0
            if self.incarnation == 1
            else sim.queue.now_ms + sim.rng.randint(RECONNECT_MIN_MS, RECONNECT_MAX_MS)
        )
        self.state = sim.genesis_state
        self.utxo = MemoryUtxoSet(sim.genesis_coins)
        for block, _ in self.disk.blocks:
            applied = sim.validate(self.state, self.utxo, block)
            self.utxo.apply_delta(applied.delta)
            self.state = applied.state_after
        self.mempool = Mempool(self.params, sig_cache=sim.sig_cache)
        self.tx_bodies = {}
        self.evidence_pool = {}
        self.heartbeats = {}
        self._own_heartbeat = None
        self._held = {}
        self._ticks = set()
        self.machine = None
        self._last_marker = None
        self.last_commit_ms = sim.queue.now_ms
        self._sync_wait_until_ms = 0
        self._helped_until_ms = {}
        self._restore_finality()
        self._enter_next_height(restore=True)
        offset = sim.rng.randint(1, MAINTENANCE_INTERVAL_MS)
        sim.queue.schedule_in(offset, self._maintenance_callback(self.incarnation))
        interval_ms = self.params.heartbeat_interval_ms
        sim.queue.schedule_in(
            sim.rng.randint(1, interval_ms), self._heartbeat_callback(self.incarnation)
        )

    def _restore_finality(self) -> None:
        """Rebuild the finality machine from the finality WAL and the stored
        final transactions (those still spendable after the replayed chain),
        and execute its effects (a logged report is sent again)."""
        state = self.state
        height = state.height + 1
        voting_set = voting_set_at(state, height)
        if voting_set is None:
            raise AssertionError(f"state at {state.height} has no voting set for {height}")
        final = [
            (tx, proof)
            for tx, proof in self.disk.read_final()
            if all(self.utxo.get_coin(txin.prevout) is not None for txin in tx.inputs)
        ]
        machine, effects = FinalityMachine.restore(
            self.disk.read_finality_wal(),
            params=self.params,
            voting_set=voting_set,
            verifier=self.sim.verifier,
            signer=self.key,
            config=SIM_FINALITY_CONFIG,
            previous_voting_set=state.registry.previous_voting_set,
            reported_locks=state.reported_locks,
            final=final,
        )
        self.finality = machine
        self.final_bodies = {compute_txid(tx): tx for tx, _ in final}
        self.tx_bodies = dict(self.final_bodies)
        self.final_view = FinalUtxoView(self.utxo, machine.get_final_transactions(), height)
        self._execute(effects)
        # As the node: voted, not final, read back from the WAL and offered again.
        for tx in machine.get_logged_transactions():
            self.tx_bodies.setdefault(compute_txid(tx), tx)
            self.receive_transaction(tx, None)
        epoch = self.params.epoch_of(height)
        if self.params.epoch_of(height + 1) != epoch and not machine.has_reported:
            self._execute(machine.on_last_height_due(state.block_hash))

    def crash(self) -> None:
        """Stop at once: everything not on the disk is lost."""
        self.up = False
        self.machine = None
        self.finality = None
        self.machine_generation += 1

    # ------------------------------------------------------------- heights

    def _enter_next_height(self, *, restore: bool = False) -> None:
        """Start deciding `state.height + 1`: as a member with a machine, or as
        a follower without one."""
        height = self.state.height + 1
        self._prevotes = {}
        self._prevote_count = 0
        self._signed_votes = {}
        voting_set = voting_set_at(self.state, height)
        if voting_set is None:
            raise AssertionError(f"state at {self.state.height} has no voting set for {height}")
        context = HeightContext(
            height=height,
            voting_set=voting_set,
            prev_block_timestamp_ms=self.state.header.timestamp_ms,
            proposer_seed=compute_proposer_seed(voting_set),
        )
        if voting_set.index_of(self.public_key) is None:
            self.machine = None
            self.machine_generation += 1
            return
        now_ms = self.local_now_ms()
        if self.machine is not None and not restore:
            self._execute(self.machine.on_new_height(context, now_ms))
            self._release_held()
            return
        self.machine_generation += 1
        if restore:
            records = self.disk.read_wal()
            for record in records:
                self._note_signed(record)
            self.machine = ConsensusMachine.restore(
                records,
                params=self.params,
                app=self.app,
                verifier=self.sim.verifier,
                signer=self.key,
                context=context,
            )
        else:
            self.machine = ConsensusMachine(
                params=self.params,
                app=self.app,
                verifier=self.sim.verifier,
                signer=self.key,
                context=context,
            )
        self._execute(self.machine.on_start(now_ms))

    # ------------------------------------------------------------- effects

    def _execute(self, effects: list[Effect] | list[FinalityEffect]) -> None:
        """Execute the effects of either machine in order; a crash stops the rest."""
        for effect in effects:
            if not self.up:
                return
            if isinstance(
                effect,
                PersistFinalityWal
                | BroadcastVotes
                | TransactionFinal
                | RequestProof
                | RequestTransaction
                | BroadcastReport
                | RequestReports
                | Reannounce
                | ScheduleTick,
            ):
                self._execute_finality(effect)
            elif isinstance(effect, PersistWal):
                self.disk.append_wal(effect.record)
                self._note_signed(effect.record)
                self.sim.recorder.on_persist(self, effect.record)
                if self.crash_armed:
                    self.sim.crash_node(self)
                    return
            elif isinstance(effect, Broadcast):
                if self.strategy is None or not self.strategy.on_broadcast(self, effect):
                    self.broadcast(effect)
            elif isinstance(effect, ScheduleTimeout):
                self._schedule_timeout(effect.at_ms)
            elif isinstance(effect, CommitBlock):
                block = as_block(effect.block_value)
                self.commit(block, effect.certificate, decided=True)
            elif isinstance(effect, RecordEvidence):
                self.sim.recorder.on_evidence(self, effect.evidence)
                self.add_evidence(effect.evidence, gossip=True)

    def _execute_finality(
        self,
        effect: PersistFinalityWal
        | BroadcastVotes
        | TransactionFinal
        | RequestProof
        | RequestTransaction
        | BroadcastReport
        | RequestReports
        | Reannounce
        | ScheduleTick,
    ) -> None:
        """Execute one finality effect (docs/spec/finality.md section 12)."""
        sim = self.sim
        if isinstance(effect, PersistFinalityWal):
            self.disk.append_finality_wal(effect.record)
            sim.recorder.on_finality_persist(self, effect.record)
            if self.crash_armed:
                sim.crash_node(self)
        elif isinstance(effect, BroadcastVotes):
            self.send_votes(effect.batch, list(effect.leaves))
            for leaf in effect.leaves:
                self.mempool.mark_voted(leaf.txid)
        elif isinstance(effect, TransactionFinal):
            self._on_final(effect.txid, effect.tx, effect.proof)
        elif isinstance(effect, RequestProof | RequestTransaction):
            self.send_to([self._random_member()], GetFinalityTxs(txids=[effect.txid]))
        elif isinstance(effect, BroadcastReport):
            self.send_to(sim.finality_targets(self), EpochReportMsg(report=effect.report))
        elif isinstance(effect, RequestReports):
            self.send_to(sim.finality_targets(self), GetEpochReports(epoch=effect.epoch))
        elif isinstance(effect, Reannounce):
            votes = [] if effect.proof is not None else list(effect.votes[:MAX_FINALITY_TX_VOTES])
            item = FinalityTx(tx=effect.tx, proof=effect.proof, votes=votes)
            self.send_to(sim.finality_targets(self), FinalityTxs(items=[item]))
        else:
            self._schedule_finality_tick(effect.at_ms)

    def send_votes(self, batch: TxVoteBatch, leaves: list[VoteLeaf]) -> None:
        """Send a signed vote batch to every finality peer (and tell the checkers)."""
        finality = self.finality
        if finality is not None:
            self.sim.recorder.on_tx_votes_sent(self, finality.voting_set, batch, leaves)
        self.send_to(self.sim.finality_targets(self), TxVotesMsg(batch=batch, leaves=leaves))

    def _on_final(self, txid: bytes, tx: Transaction, proof: FinalityProof) -> None:
        """A transaction became final here: store it durably, protect it in the
        pool, extend the final view, offer its orphans again, release held
        proposals that waited for it."""
        self.disk.store_final(txid, tx, proof)
        if len(self.final_bodies) < MAX_FINAL_BODIES:
            self.final_bodies[txid] = tx
        self.tx_bodies.setdefault(txid, tx)
        self.mempool.mark_final(txid)
        self.final_view.add_final(tx, txid)
        self.sim.recorder.on_final(self, txid, tx, proof)
        for orphan, peer in self.mempool.take_orphans(txid):
            self.receive_transaction(orphan, None if peer is None else int(peer))
        self._release_held()

    def _schedule_finality_tick(self, at_ms: int) -> None:
        if at_ms in self._ticks:
            return
        self._ticks.add(at_ms)
        incarnation = self.incarnation

        def fire() -> None:
            self._ticks.discard(at_ms)
            if not self.up or incarnation != self.incarnation or self.finality is None:
                return
            self._execute(self.finality.on_tick(self.local_now_ms()))

        self.sim.queue.schedule_at(at_ms - self.skew_ms, fire)

    def _random_member(self) -> int:
        members = [m for m in self._current_members() if m != self.node_id]
        if not members:
            members = [n for n in range(self.sim.node_count) if n != self.node_id] or [0]
        return self.sim.rng.choice(members)

    def _note_signed(self, record: WalRecord) -> None:
        """Keep this node's signed votes of the current height (to gossip again)."""
        if isinstance(record, WalVote) and record.vote.height == self.state.height + 1:
            vote = record.vote
            self._signed_votes[(vote.round, vote.vote_type)] = vote

    def _schedule_timeout(self, at_ms: int) -> None:
        incarnation, generation = self.incarnation, self.machine_generation

        def fire() -> None:
            if (
                not self.up
                or incarnation != self.incarnation
                or generation != self.machine_generation
                or self.machine is None
            ):
                return
            self._execute(self.machine.on_tick(self.local_now_ms()))

        self.sim.queue.schedule_at(at_ms - self.skew_ms, fire)

    def broadcast(self, effect: Broadcast) -> None:
        """Send the machine's message to the other members of its voting set.

        A proposal of a valid value (`pol_round >= 0`) is followed by the
        prevotes for it in `pol_round` that this node received: the proof of
        lock that lets locked nodes move on (the vote gossip of Tendermint,
        reduced to the votes a proposal needs).
        """
        machine = self.machine
        if machine is None:
            return
        message = effect.message
        targets = self.sim.members_of(machine.context.voting_set)
        if isinstance(message, Proposal):
            block = as_block(effect.block_value)
            self.sim.recorder.on_proposal_sent(message, self.sim.queue.now_ms)
            self.send_to(targets, ProposalMsg(proposal=message, block=block))
            if message.pol_round >= 0:
                key = (message.height, message.pol_round, message.block_hash)
                for vote in list(self._prevotes.get(key, {}).values()):
                    self.send_to(targets, VoteMsg(votes=[vote]))
            return
        self._keep_prevote(message)
        self.send_to(targets, VoteMsg(votes=[message]))

    def _keep_prevote(self, vote: Vote) -> None:
        """Keep a verified prevote of the current height (bounded) for proofs of lock."""
        if vote.vote_type != VoteType.PREVOTE or vote.block_hash == ZERO_HASH:
            return
        if self._prevote_count >= MAX_RELAY_VOTES:
            return
        votes = self._prevotes.setdefault((vote.height, vote.round, vote.block_hash), {})
        if vote.voter not in votes:
            votes[vote.voter] = vote
            self._prevote_count += 1

    def is_connected(self) -> bool:
        """Whether this node is up and its connections are back after a restart."""
        return self.up and self.sim.queue.now_ms >= self.connected_at_ms

    def send_to(self, targets: list[int], message: Message) -> None:
        """Encode `message` once (the p2p codec, as on the wire) and send it
        to every node of `targets` but this one."""
        data = encode_message(message)
        for target in targets:
            if target != self.node_id:
                self.sim.send(self.node_id, target, data)

    # -------------------------------------------------------------- blocks

    def build_block(self, timestamp_ms: int) -> Block | None:
        """A valid block after the tip with the pool's transactions and evidence,
        timestamp `timestamp_ms` (None if the chain layer refuses every try):
        `assemble_block`, as the node proposes, so the reports and the
        attestations are budgeted before the transactions."""
        sim = self.sim
        state = self.state
        finality = self.finality
        candidates = [] if finality is None else finality.get_final_transactions()
        final_txids = set() if finality is None else finality.get_final_txids()
        attestations = select_next_block_heartbeats(
            [attested for _, attested in self.heartbeats.values()], state, verifier=sim.verifier
        )
        previous = self.disk.get_block(state.height)
        prev_certificate = None if previous is None else previous[1]
        evidence = self._includable_evidence()
        reports = [] if finality is None else finality.get_reports(finality.epoch)
        self._request_report_bodies(reports)
        for chosen_evidence, chosen_attestations in (
            (evidence, attestations),
            ([], attestations),
            ([], []),
        ):
            try:
                applied = assemble_block(
                    state,
                    self.utxo,
                    candidates,
                    timestamp_ms=timestamp_ms,
                    proposer=self.public_key,
                    prev_certificate=prev_certificate,
                    evidence=chosen_evidence,
                    attestations=chosen_attestations,
                    verifier=sim.verifier,
                    sig_cache=sim.sig_cache,
                    reports=reports,
                    reported_transactions=list(self.tx_bodies.values()),
                    max_count=MAX_BLOCK_TRANSACTIONS,
                    final_txids=final_txids,
                    finality_proof_of=None if finality is None else finality.get_proof,
                )
            except InvalidBlock as exc:
                sim.recorder.on_build_failure(self, exc)
                continue
            sim.remember(state, applied)
            return applied.block
        return None

    def is_valid_child(self, block: Block, *, require_final: bool = True) -> bool:
        """Whether `block` passes `validate_block` as the child of the tip, with
        `has_finality_proof` this node's proofs when `require_final` (a
        validator deciding its prevote): the not-final rule runs first, as in
        `validate_block`, then the shared validation of everything else."""
        if require_final and self.missing_proofs(block):
            return False
        try:
            self.sim.validate(self.state, self.utxo, block)
        except InvalidBlock:
            return False
        return True

    def missing_proofs(self, block: Block) -> list[bytes]:
        """The txids of the block's non-coinbase transactions whose proof this
        node does not hold."""
        finality = self.finality
        txids = [compute_txid(tx) for tx in block.transactions[1:]]
        if finality is None:
            return txids
        return [request.txid for request in finality.missing_proofs(txids)]

    def commit(self, block: Block, certificate: Certificate, *, decided: bool) -> bool:
        """Validate and apply a committed block, store it, and move to the next
        height. `decided` is True when this node's own machine decided it.
        Returns False (and changes nothing) when the block is not a valid
        child of the tip."""
        sim = self.sim
        state_before = self.state
        try:
            applied = sim.validate(state_before, self.utxo, block)
        except InvalidBlock as exc:
            if decided:
                sim.recorder.on_invalid_decision(self, block, exc)
                self.halted = True
                self.machine = None
                self.machine_generation += 1
            else:
                self.sync_rejects += 1
            return False
        self.utxo.apply_delta(applied.delta)
        self.state = applied.state_after
        self.disk.store_block(block, certificate)
        self.last_commit_ms = sim.queue.now_ms
        self._prune_pools(block)
        sim.on_commit(self, state_before, applied, certificate, decided=decided)
        self._commit_finality(block, applied.block_hash)
        if self.up:
            self._enter_next_height()
        return True

    def _commit_finality(self, block: Block, block_hash: bytes) -> None:
        """Tell the finality machine about the committed block (and, when it
        ends the epoch, the next voting set and the chain's reported locks), then
        rebuild the final view and drop stored proofs that are now in a block."""
        finality = self.finality
        if finality is None or not self.up:
            return
        state = self.state
        height = state.height + 1
        next_voting_set = voting_set_at(state, height)
        if next_voting_set is not None and next_voting_set.epoch != finality.epoch:
            self.disk.prune_finality_wal(finality.epoch)
        effects = finality.on_block_committed(
            block,
            block_hash,
            self.local_now_ms(),
            next_voting_set=next_voting_set,
            reported_locks=state.reported_locks,
        )
        final_txids = finality.get_final_txids()
        self.disk.drop_final([txid for txid in self.disk.final_tx if txid not in final_txids])
        self.final_bodies = {
            txid: tx for txid, tx in self.final_bodies.items() if txid in final_txids
        }
        self.final_view = FinalUtxoView(self.utxo, finality.get_final_transactions(), height)
        self._execute(effects)

    def _prune_pools(self, block: Block) -> None:
        self.mempool.remove_block(block.transactions)
        utxo = self.utxo
        self.tx_bodies = {
            txid: tx
            for txid, tx in self.tx_bodies.items()
            if all(utxo.get_coin(txin.prevout) is not None for txin in tx.inputs)
        }
        window = compute_reward_window(self.state.height + 1, self.params)
        self.heartbeats = {
            masternode_id: (attested_window, attested)
            for masternode_id, (attested_window, attested) in self.heartbeats.items()
            if attested_window == window
        }
        height = self.state.height
        self._held = {key: held for key, held in self._held.items() if key[0] > height}
        included = {encode(evidence) for evidence in block.evidence}
        for key in list(self.evidence_pool):
            if key in included or not self._is_evidence_current(self.evidence_pool[key]):
                del self.evidence_pool[key]

    def _offender_id(self, evidence: Evidence) -> bytes | None:
        voting_set = voting_set_at(self.state, get_evidence_height(evidence, self.params))
        if voting_set is None:
            return None
        index = voting_set.index_of(get_evidence_signer(evidence))
        return None if index is None else voting_set.voters[index].masternode_id

    def _is_evidence_current(self, evidence: Evidence) -> bool:
        offender = self._offender_id(evidence)
        if offender is None:
            return False
        entry = get_entry(self.state.registry, offender)
        return entry is None or entry.banned_from_epoch is None

    def _includable_evidence(self) -> list[Evidence]:
        chosen: list[Evidence] = []
        offenders: set[bytes] = set()
        for evidence in self.evidence_pool.values():
            if get_evidence_height(evidence, self.params) > self.state.height:
                continue
            offender = self._offender_id(evidence)
            if offender is None or offender in offenders or not self._is_evidence_current(evidence):
                continue
            offenders.add(offender)
            chosen.append(evidence)
            if len(chosen) >= self.params.sizes.max_block_evidence:
                break
        return chosen

    # --------------------------------------------------------------- pools

    def submit(self, tx: Transaction) -> None:
        """A transaction from a user: take it and gossip it to the finality peers
        (again when it is known: a wallet resubmits what did not become final)."""
        if not self.up:
            return
        self.receive_transaction(tx, None)
        self.send_to(self.sim.finality_targets(self), Txs(transactions=[tx]))

    def receive_transaction(self, tx: Transaction, src: int | None) -> bool:
        """Admit `tx` to the pool against the final view and give it to the
        finality machine. A consensus-invalid transaction or an orphan goes no
        further; a pool conflict or limit does not stop the machine (it may
        need the body for evidence, and it delays, never refuses). Returns
        False when the transaction was already tracked or not admitted."""
        finality = self.finality
        if finality is None or tx.is_coinbase:
            return False
        if self.strategy is not None:
            self.strategy.on_transaction(self, tx)
        txid = compute_txid(tx)
        if finality.get_status(txid) is not None:
            return False
        try:
            self.mempool.add(
                tx,
                self.final_view,
                self.state.height + 1,
                now_ms=self.local_now_ms(),
                peer=None if src is None else str(src),
            )
        except InvalidTransaction:
            return False
        except MempoolRejected as exc:
            if exc.reject_code == REJECT_ORPHAN:
                return False
        if len(self.tx_bodies) < MAX_TX_BODIES:
            self.tx_bodies[txid] = tx
        self._execute(finality.on_transaction(tx, self.local_now_ms(), txid=txid))
        return True

    def _on_final_tx(self, src: int, tx: Transaction, proof: FinalityProof) -> None:
        """A transaction with its finality proof (re-announced or fetched)."""
        finality = self.finality
        if finality is None:
            return
        txid = compute_txid(tx)
        if finality.has_proof(txid):
            return
        if finality.get_status(txid) is None:
            try:
                self.mempool.add(
                    tx,
                    self.final_view,
                    self.state.height + 1,
                    now_ms=self.local_now_ms(),
                    peer=str(src),
                    final=True,
                )
            except (InvalidTransaction, MempoolRejected):
                return
        try:
            effects = finality.on_finality_proof(proof, tx, self.local_now_ms())
        except InvalidVote:
            self.invalid_messages += 1
            return
        self._execute(effects)

    def _on_announce(self, src: int, tx: Transaction, votes: list[TxVote]) -> None:
        """A transaction re-announced with votes: take it, then count the votes."""
        self.receive_transaction(tx, src)
        for vote in votes:
            finality = self.finality
            if finality is None:
                return
            try:
                effects = finality.on_tx_vote(vote, self.local_now_ms())
            except InvalidVote:
                self.invalid_messages += 1
                continue
            self._execute(effects)

    def _on_tx_votes(self, batch: TxVoteBatch, leaves: list[VoteLeaf]) -> None:
        """A vote batch for the machine (which keeps one of the next epoch
        until it enters that epoch)."""
        finality = self.finality
        if finality is None:
            return
        try:
            effects = finality.on_tx_votes(batch, leaves, self.local_now_ms())
        except InvalidVote:
            self.invalid_messages += 1
            return
        self._execute(effects)

    def request_finality_txs(self, targets: list[int], txids: list[bytes]) -> None:
        """Ask `targets` for these transactions with their proofs or votes
        (`GetFinalityTxs`, at most MAX_FINALITY_TXS_PER_MSG txids each)."""
        for start in range(0, len(txids), MAX_FINALITY_TXS_PER_MSG):
            chunk = txids[start : start + MAX_FINALITY_TXS_PER_MSG]
            self.send_to(targets, GetFinalityTxs(txids=chunk))

    def _on_get_finality_txs(self, src: int, txids: list[bytes]) -> None:
        """Answer with each transaction known here: with its proof once final,
        else with the votes held for it (as the node's `answer`)."""
        finality = self.finality
        if finality is None:
            return
        items: list[FinalityTx] = []
        for txid in txids:
            proof = finality.get_proof(txid)
            tx = self.final_bodies.get(txid) if proof is not None else None
            if tx is None:
                entry = self.mempool.get(txid)
                tx = entry.tx if entry is not None else self.tx_bodies.get(txid)
                proof = None
            if tx is None:
                continue
            votes = [] if proof is not None else finality.get_votes(txid)[:MAX_FINALITY_TX_VOTES]
            items.append(FinalityTx(tx=tx, proof=proof, votes=votes))
        if items:
            self.send_to([src], FinalityTxs(items=items))

    def _request_report_bodies(self, reports: list[EpochReport]) -> None:
        """Ask the members for the bodies the `reports` name that this node
        lacks (every reporter logged them with its votes), as the node does."""
        if not reports or not is_last_height_of_epoch(self.state.height + 1, self.params):
            return
        missing = {
            entry.txid
            for report in reports
            for entry in report.entries
            if entry.txid not in self.tx_bodies and self.utxo.get_coin(entry.outpoint) is not None
        }
        if missing:
            self.request_finality_txs(self.sim.finality_targets(self), sorted(missing))

    def add_evidence(self, evidence: Evidence, *, gossip: bool) -> None:
        """Pool `evidence` (bounded) and, when `gossip`, send it to the members."""
        key = encode(evidence)
        if key in self.evidence_pool or len(self.evidence_pool) >= MAX_POOL_EVIDENCE:
            return
        if not self._is_evidence_current(evidence):
            return
        self.evidence_pool[key] = evidence
        if gossip:
            self.send_to(self._current_members(), EvidenceMsg(evidence=evidence))

    def _current_members(self) -> list[int]:
        voting_set = voting_set_at(self.state, self.state.height + 1)
        return [] if voting_set is None else self.sim.members_of(voting_set)

    # ------------------------------------------------------------- receive

    def deliver(self, src: int, data: bytes) -> None:
        """Receive bytes from node `src`: decode with the p2p decoder and its
        limits (`decode_message`, the frame limit of the chain's parameters),
        then handle the message.

        Bytes that do not decode are counted and dropped (DecodeError); a
        message the consensus machine refuses is counted and dropped
        (InvalidVote). Nothing a peer sends can stop the node.
        """
        if not self.up or self.sim.queue.now_ms < self.connected_at_ms:
            return
        try:
            message = decode_message(data, self.params.sizes.max_frame_bytes)
        except DecodeError:
            self.decode_rejects += 1
            return
        if isinstance(message, VoteMsg):
            for vote in message.votes:
                self._on_vote(src, vote)
        elif isinstance(message, ProposalMsg):
            self._on_proposal(src, message.proposal, message.block)
        elif isinstance(message, Txs):
            for tx in message.transactions:
                self.receive_transaction(tx, src)
        elif isinstance(message, TxVotesMsg):
            self._on_tx_votes(message.batch, message.leaves)
        elif isinstance(message, FinalityTxs):
            for item in message.items:
                if item.proof is not None:
                    self._on_final_tx(src, item.tx, item.proof)
                else:
                    self._on_announce(src, item.tx, item.votes)
        elif isinstance(message, EpochReportMsg):
            self._on_report(message)
        elif isinstance(message, GetEpochReports):
            if self.finality is not None:
                for report in self.finality.get_reports(message.epoch):
                    self.send_to([src], EpochReportMsg(report=report))
        elif isinstance(message, GetFinalityTxs):
            self._on_get_finality_txs(src, message.txids)
        elif isinstance(message, HeartbeatMsg):
            for attested in message.heartbeats:
                self._on_heartbeat_msg(src, attested)
        elif isinstance(message, EvidenceMsg):
            self.add_evidence(message.evidence, gossip=False)
        elif isinstance(message, GetBlocks):
            self._send_blocks(src, message.from_height, message.count)
        elif isinstance(message, Blocks):
            self._on_sync_response(message)
        # Other messages (PEX, inventory, headers-first sync) are the p2p
        # layer's and the node's; the simulated network does not carry them.

    def _on_heartbeat_msg(self, src: int, attested: AttestedHeartbeat) -> None:
        """One heartbeat of a `HeartbeatMsg`: a masternode asking this witness
        to attest (no attestations yet), attestations of this node's own
        pending heartbeat coming back, or an attested heartbeat gossiped to
        the block builders."""
        heartbeat = attested.heartbeat
        pending = self._own_heartbeat
        if not attested.attestations:
            self._on_heartbeat(src, heartbeat)
        elif pending is not None and pending.heartbeat == heartbeat:
            for attestation in attested.attestations:
                self._on_attestation(heartbeat, attestation)
        else:
            self._on_attested(attested)

    def _on_report(self, message: EpochReportMsg) -> None:
        finality = self.finality
        if finality is None:
            return
        try:
            self._execute(finality.on_epoch_report(message.report))
        except InvalidVote:
            self.invalid_messages += 1

    def _is_eligible(self, height: int, round: int) -> bool:
        """Whether the machine stores a message of (height, round) now (so a
        conflicting pair of such messages must yield evidence)."""
        machine = self.machine
        return (
            machine is not None
            and machine.height == height
            and not machine.is_decided
            and round <= machine.round + MAX_ROUNDS_AHEAD
        )

    def _on_vote(self, src: int, vote: Vote) -> None:
        self._note_peer_height(src, vote.height)
        machine = self.machine
        if machine is None:
            return
        eligible = self._is_eligible(vote.height, vote.round)
        try:
            effects = machine.on_vote(vote, self.local_now_ms())
        except InvalidVote:
            self.invalid_messages += 1
            return
        self.sim.recorder.on_delivered(self, vote, eligible)
        if eligible:
            self._keep_prevote(vote)
        self._execute(effects)

    def _on_proposal(self, src: int, proposal: Proposal, block: Block) -> None:
        """A proposal: held while proofs of its transactions are fetched from
        the sender (a validator prevotes only for final transactions), then
        given to the machine."""
        self._note_peer_height(src, proposal.height)
        machine = self.machine
        if machine is None:
            return
        if proposal.height >= machine.height and not machine.is_decided:
            missing = self.missing_proofs(block)
            plausible = proposal.height != self.state.height + 1 or self.is_valid_child(
                block, require_final=False
            )
            if missing and plausible and len(self._held) < MAX_HELD_PROPOSALS:
                self._held[(proposal.height, proposal.round, proposal.block_hash)] = (
                    src,
                    proposal,
                    block,
                )
                self.request_finality_txs([src], missing)
                return
        self._give_proposal(src, proposal, block)

    def _release_held(self) -> None:
        """Give the machine the held proposals whose proofs are all here now."""
        if not self._held or self.machine is None:
            return
        ready = [key for key, (_, _, block) in self._held.items() if not self.missing_proofs(block)]
        for key in ready:
            held = self._held.pop(key, None)
            if held is not None and self.up:
                self._give_proposal(*held)

    def _request_held_proofs(self) -> None:
        """Ask again for the proofs held proposals wait for (requests get lost)."""
        for src, _, block in list(self._held.values()):
            missing = self.missing_proofs(block)
            if missing:
                self.request_finality_txs([src, self._random_member()], missing)

    def _give_proposal(self, src: int, proposal: Proposal, block: Block) -> None:
        machine = self.machine
        if machine is None:
            return
        eligible = self._is_eligible(proposal.height, proposal.round)
        try:
            effects = machine.on_proposal(proposal, block, self.local_now_ms())
        except InvalidVote:
            self.invalid_messages += 1
            return
        self.sim.recorder.on_delivered(self, proposal, eligible)
        self._execute(effects)

    # ---------------------------------------------------------------- sync

    def _note_peer_height(self, src: int, height: int) -> None:
        """Catch up from a peer deciding a higher height; help a lagging one."""
        own = self.state.height + 1
        if height > own:
            self.request_sync(src)
        elif height < own and self.disk.get_block(height) is not None:
            now_ms = self.sim.queue.now_ms
            if self._helped_until_ms.get(src, -1) <= now_ms:
                self._helped_until_ms[src] = now_ms + HELP_INTERVAL_MS
                self._send_blocks(src, height, MAX_BLOCKS_PER_MSG)

    def request_sync(self, peer: int) -> None:
        """Ask `peer` for the committed blocks after the tip (rate-limited)."""
        now_ms = self.sim.queue.now_ms
        if now_ms < self._sync_wait_until_ms or peer == self.node_id:
            return
        self._sync_wait_until_ms = now_ms + SYNC_RETRY_MS
        request = GetBlocks(from_height=self.state.height + 1, count=MAX_BLOCKS_PER_MSG)
        self.sim.send(self.node_id, peer, encode_message(request))

    def _send_blocks(self, dst: int, from_height: int, count: int) -> None:
        blocks = [
            CommittedBlock(block=block, certificate=certificate)
            for block, certificate in self.disk.blocks[from_height - 1 : from_height - 1 + count]
        ]
        if blocks and from_height >= 1:
            self.sim.send(self.node_id, dst, encode_message(Blocks(blocks=blocks)))

    def _on_sync_response(self, response: Blocks) -> None:
        for committed in response.blocks:
            if not self.up or self.halted:
                return
            height = committed.block.header.height
            if height <= self.state.height:
                continue
            if height != self.state.height + 1:
                return
            if not self._commit_synced(committed.block, committed.certificate):
                return

    def _commit_synced(self, block: Block, certificate: Certificate) -> bool:
        """Commit a block obtained by sync: through the machine's
        `on_certificate` when it decides that height, else after checking
        the certificate against the voting set of the height."""
        height = block.header.height
        machine = self.machine
        if machine is not None and machine.height == height and not machine.is_decided:
            try:
                effects = machine.on_certificate(certificate, block, self.local_now_ms())
            except InvalidVote:
                self.sync_rejects += 1
                return False
            self._execute(effects)
            return self.state.height >= height
        try:
            self.sim.verify_certificate(
                self.state, certificate, height, compute_block_hash(block.header)
            )
        except InvalidVote:
            self.sync_rejects += 1
            return False
        return self.commit(block, certificate, decided=False)

    # --------------------------------------------------------- maintenance

    def _maintenance_callback(self, incarnation: int) -> Callable[[], None]:
        def run() -> None:
            if not self.up or incarnation != self.incarnation:
                return
            self._maintain()
            self.sim.queue.schedule_in(MAINTENANCE_INTERVAL_MS, run)

        return run

    def _gossip_again(self, machine: ConsensusMachine) -> None:
        """Re-send this node's messages of a round that does not move: those of
        the current round (`get_own_messages`) and its votes of the rounds
        before, which peers still in those rounds need (messages lost before
        the network healed are never delivered otherwise)."""
        messages = machine.get_own_messages()
        lowest = machine.round - REGOSSIP_ROUNDS
        messages.extend(
            Broadcast(vote)
            for (round, _), vote in self._signed_votes.items()
            if lowest <= round < machine.round
        )
        for message in messages:
            if self.strategy is None or not self.strategy.on_broadcast(self, message):
                self.broadcast(message)

    def _maintain(self) -> None:
        """Re-gossip own messages of a stuck round; sync when no block came."""
        if self.halted:
            return
        sim = self.sim
        machine = self.machine
        if machine is not None:
            marker = (machine.height, machine.round, int(machine.step))
            if marker == self._last_marker:
                self._gossip_again(machine)
            self._last_marker = marker
        stalled = self._last_maintenance_height == self.state.height
        if stalled:
            self._gossip_reports()
        self._last_maintenance_height = self.state.height
        if machine is None or stalled:
            peers = self._current_members() if machine is None else []
            if not peers:
                peers = list(range(sim.node_count))
            self.request_sync(sim.rng.choice(peers))
        self._request_held_proofs()
        if self.strategy is not None:
            self.strategy.on_maintenance(self)

    def _gossip_reports(self) -> None:
        """While the next height is its epoch's last and does not commit, send
        this node's own report again (the proposer needs reports of more than
        2/3 of the weight; the original may have been lost)."""
        finality = self.finality
        height = self.state.height + 1
        epoch = self.params.epoch_of(height)
        if finality is None or self.params.epoch_of(height + 1) == epoch:
            return
        own = [r for r in finality.get_reports(epoch) if r.voter == self.public_key]
        if own:
            self.send_to(self._current_members(), EpochReportMsg(report=own[0]))

    # ----------------------------------------------------------- heartbeats

    def _heartbeat_callback(self, incarnation: int) -> Callable[[], None]:
        def run() -> None:
            if not self.up or incarnation != self.incarnation:
                return
            self._send_heartbeat()
            self.sim.queue.schedule_in(self.params.heartbeat_interval_ms, run)

        return run

    def masternode_id(self) -> bytes | None:
        """The id of this node's live masternode entry (by operator key), or None."""
        for entry in self.state.registry.entries:
            if entry.operator_key == self.public_key and entry.deregistered_from_epoch is None:
                return entry.masternode_id
        return None

    def _send_heartbeat(self) -> None:
        """Sign a heartbeat (sequence: the local clock) and send it to the
        witnesses of the next block's reward window."""
        if self.halted:
            return
        masternode_id = self.masternode_id()
        if masternode_id is None:
            return
        sim = self.sim
        window, _seed, witnesses = get_next_block_witnesses(self.state, masternode_id)
        now_ms = self.local_now_ms()
        heartbeat = sign_heartbeat(
            self.key, self.params.chain_id, masternode_id, max(now_ms, 0), max(now_ms, 0)
        )
        keys = {w.operator_key for w in witnesses}
        self._own_heartbeat = _PendingHeartbeat(
            heartbeat, window, keys, compute_required_attestations(len(witnesses)), {}
        )
        if not witnesses:
            self._complete_heartbeat()
            return
        targets = [
            node for node in (sim.node_of_key(key) for key in sorted(keys)) if node is not None
        ]
        self.send_to(targets, HeartbeatMsg(heartbeats=[AttestedHeartbeat(heartbeat, [])]))

    def _on_heartbeat(self, src: int, heartbeat: Heartbeat) -> None:
        """As a witness: check the heartbeat and send back an attestation."""
        entry = get_entry(self.state.registry, heartbeat.masternode_id)
        if entry is None:
            return
        window, seed, witnesses = get_next_block_witnesses(self.state, heartbeat.masternode_id)
        if all(w.operator_key != self.public_key for w in witnesses):
            return
        try:
            verify_heartbeat_signature(
                heartbeat, entry.operator_key, self.params.chain_id, self.sim.verifier
            )
        except InvalidVote:
            self.invalid_messages += 1
            return
        attestation = sign_attestation(self.key, self.params.chain_id, heartbeat, window, seed)
        self.send_to([src], HeartbeatMsg(heartbeats=[AttestedHeartbeat(heartbeat, [attestation])]))

    def _on_attestation(self, heartbeat: Heartbeat, attestation: WitnessSignature) -> None:
        pending = self._own_heartbeat
        if pending is None or pending.heartbeat != heartbeat:
            return
        if attestation.witness not in pending.witnesses:
            return
        pending.attestations[attestation.witness] = attestation
        if len(pending.attestations) >= pending.required:
            self._complete_heartbeat()

    def _complete_heartbeat(self) -> None:
        """Enough attestations: assemble, check, keep and gossip the attested heartbeat."""
        pending = self._own_heartbeat
        if pending is None:
            return
        self._own_heartbeat = None
        attested = AttestedHeartbeat(
            heartbeat=pending.heartbeat,
            attestations=[pending.attestations[key] for key in sorted(pending.attestations)],
        )
        if self._on_attested(attested):
            self.send_to(self._current_members(), HeartbeatMsg(heartbeats=[attested]))

    def _on_attested(self, attested: AttestedHeartbeat) -> bool:
        """Keep an attested heartbeat the next block may carry; False when it may not."""
        try:
            verify_next_block_heartbeat(attested, self.state, verifier=self.sim.verifier)
        except InvalidVote:
            return False
        masternode_id = attested.heartbeat.masternode_id
        current = self.heartbeats.get(masternode_id)
        if current is not None and current[1].heartbeat.sequence >= attested.heartbeat.sequence:
            return False
        window = compute_reward_window(self.state.height + 1, self.params)
        self.heartbeats[masternode_id] = (window, attested)
        return True

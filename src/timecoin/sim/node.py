"""One simulated node: consensus machine, chain state, UTXO set, pools and disk.

A node is the same composition a real node makes, with the network, the
disk and the clock replaced: it decodes every received message through
`timecoin.encoding`, feeds the consensus machine, executes the machine's
effects strictly in order (a `PersistWal` reaches the simulated disk before
the effect after it), validates and applies committed blocks with
`timecoin.chain.validate_block`, and builds proposals with
`timecoin.chain.select_block_transactions` and `build_block`.

A node runs a `ConsensusMachine` only while its operator key is in the
voting set of the height it is deciding; otherwise it follows, applying
committed blocks fetched by sync. Its clock is the virtual time plus its
skew.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from timecoin.chain import ChainState, build_block, select_block_transactions, voting_set_at
from timecoin.chain.evidence import get_evidence_height, get_evidence_signer
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
from timecoin.consensus.limits import MAX_ROUNDS_AHEAD
from timecoin.crypto import SigningKey
from timecoin.encoding import DecodeError, decode, encode
from timecoin.ledger import MemoryUtxoSet
from timecoin.masternode import get_entry
from timecoin.sim.disk import SimDisk
from timecoin.sim.messages import (
    MAX_SYNC_BLOCKS,
    CommittedBlock,
    EvidenceMessage,
    ProposalMessage,
    SimMessage,
    SyncRequest,
    SyncResponse,
    TxMessage,
    VoteMessage,
    decode_message,
    encode_message,
)
from timecoin.types import (
    ZERO_HASH,
    Block,
    Certificate,
    Evidence,
    InvalidBlock,
    InvalidVote,
    Proposal,
    Transaction,
    Vote,
    VoteType,
    VotingSet,
    compute_block_hash,
    compute_txid,
)

if TYPE_CHECKING:
    from timecoin.sim.byzantine import ByzantineStrategy
    from timecoin.sim.simulator import Simulation

MAINTENANCE_INTERVAL_MS: Final = 200
"""Period of a node's maintenance: re-gossip of its own messages when its
round has not moved, and sync when it has not committed."""

SYNC_RETRY_MS: Final = 100
"""Least time between two sync requests of one node."""

HELP_INTERVAL_MS: Final = 100
"""Least time between two unsolicited sync responses to one lagging peer."""

MAX_POOL_TRANSACTIONS: Final = 2_000
"""Bound of a node's transaction pool (the oldest are dropped first)."""

MAX_POOL_EVIDENCE: Final = 64
"""Bound of a node's evidence pool."""

MAX_RELAY_VOTES: Final = 4_096
"""Most received votes of one height a node keeps to relay as proofs of lock."""

REGOSSIP_ROUNDS: Final = 16
"""A stuck node re-sends its own votes of this many rounds below its current one."""

MAX_BLOCK_TRANSACTIONS: Final = 200
"""Most non-coinbase transactions a simulated proposer puts in a block."""


def compute_proposer_seed(voting_set: VotingSet) -> bytes:
    """The proposer seed of a height: the hash of its voting set, fixed for the
    whole epoch (docs/spec/consensus.md, HeightContext)."""
    return voting_set.compute_hash()


class SimBlockApp:
    """The `BlockApp` of a node: blocks are `timecoin.types.Block` values,
    built and validated by the chain layer against the node's state."""

    def __init__(self, node: SimNode) -> None:
        """The application of `node`."""
        self._node = node

    def build_proposal(self, height: int, round: int, timestamp_ms: int) -> object | None:
        """A new block from the node's pools, or None when the node is not at `height - 1`."""
        node = self._node
        if node.state.height != height - 1:
            return None
        return node.build_block(timestamp_ms)

    def validate_proposal(self, height: int, block_value: object, timestamp_ms: int) -> bool:
        """`validate_block` against the node's state, and the proposal's timestamp."""
        if not isinstance(block_value, Block):
            return False
        header = block_value.header
        if header.height != height or header.timestamp_ms != timestamp_ms:
            return False
        return self._node.is_valid_child(block_value)

    def block_hash(self, block_value: object) -> bytes:
        """The header hash."""
        return compute_block_hash(_as_block(block_value).header)

    def encode_block(self, block_value: object) -> bytes:
        """The canonical block bytes."""
        return encode(_as_block(block_value))

    def decode_block(self, data: bytes) -> object:
        """The block of `data`; raises DecodeError."""
        return decode(data, Block, self._node.params.sizes.max_block_bytes)


def _as_block(block_value: object) -> Block:
    if not isinstance(block_value, Block):
        raise TypeError(f"expected a Block, got {type(block_value).__name__}")
    return block_value


class SimNode:
    """A simulated masternode (or follower) driven by the `Simulation`."""

    def __init__(
        self,
        sim: Simulation,
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
        self.app = SimBlockApp(self)
        self.disk = SimDisk()
        self.up = False
        self.halted = False
        self.incarnation = 0
        self.crash_armed = False
        self.machine: ConsensusMachine | None = None
        self.machine_generation = 0
        self.state: ChainState = sim.genesis_state
        self.utxo = MemoryUtxoSet()
        self.pool: dict[bytes, Transaction] = {}
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
        self.state = sim.genesis_state
        self.utxo = MemoryUtxoSet(sim.genesis_coins)
        for block, _ in self.disk.blocks:
            applied = sim.validate(self.state, self.utxo, block)
            self.utxo.apply_delta(applied.delta)
            self.state = applied.state_after
        self.pool = {}
        self.evidence_pool = {}
        self.machine = None
        self._last_marker = None
        self.last_commit_ms = sim.queue.now_ms
        self._sync_wait_until_ms = 0
        self._helped_until_ms = {}
        self._enter_next_height(restore=True)
        offset = sim.rng.randint(1, MAINTENANCE_INTERVAL_MS)
        sim.queue.schedule_in(offset, self._maintenance_callback(self.incarnation))

    def crash(self) -> None:
        """Stop at once: everything not on the disk is lost."""
        self.up = False
        self.machine = None
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

    def _execute(self, effects: list[Effect]) -> None:
        """Execute `effects` in order; a crash stops the rest."""
        for effect in effects:
            if not self.up:
                return
            if isinstance(effect, PersistWal):
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
                block = _as_block(effect.block_value)
                self.commit(block, effect.certificate, decided=True)
            elif isinstance(effect, RecordEvidence):
                self.sim.recorder.on_evidence(self, effect.evidence)
                self.add_evidence(effect.evidence, gossip=True)

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
            block = _as_block(effect.block_value)
            self.sim.recorder.on_proposal_sent(message, self.sim.queue.now_ms)
            self.send_to(targets, ProposalMessage(proposal=message, block=block))
            if message.pol_round >= 0:
                key = (message.height, message.pol_round, message.block_hash)
                for vote in list(self._prevotes.get(key, {}).values()):
                    self.send_to(targets, VoteMessage(vote=vote))
            return
        self._keep_prevote(message)
        self.send_to(targets, VoteMessage(vote=message))

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

    def send_to(self, targets: list[int], message: SimMessage) -> None:
        """Encode `message` once and send it to every node of `targets` but this one."""
        data = encode_message(message)
        for target in targets:
            if target != self.node_id:
                self.sim.send(self.node_id, target, data)

    # -------------------------------------------------------------- blocks

    def build_block(self, timestamp_ms: int) -> Block | None:
        """A valid block after the tip with the pool's transactions and evidence,
        timestamp `timestamp_ms` (None if the chain layer refuses every try)."""
        sim = self.sim
        state = self.state
        transactions = select_block_transactions(
            list(self.pool.values()),
            state,
            self.utxo,
            max_count=MAX_BLOCK_TRANSACTIONS,
            sig_cache=sim.sig_cache,
        )
        previous = self.disk.get_block(state.height)
        prev_certificate = None if previous is None else previous[1]
        for evidence in (self._includable_evidence(), []):
            try:
                applied = build_block(
                    state,
                    self.utxo,
                    transactions,
                    timestamp_ms=timestamp_ms,
                    proposer=self.public_key,
                    prev_certificate=prev_certificate,
                    evidence=evidence,
                    verifier=sim.verifier,
                    sig_cache=sim.sig_cache,
                )
            except InvalidBlock as exc:
                sim.recorder.on_build_failure(self, exc)
                continue
            sim.remember(state, applied)
            return applied.block
        return None

    def is_valid_child(self, block: Block) -> bool:
        """Whether `block` passes `validate_block` as the child of the tip."""
        try:
            self.sim.validate(self.state, self.utxo, block)
        except InvalidBlock:
            return False
        return True

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
        if self.up:
            self._enter_next_height()
        return True

    def _prune_pools(self, block: Block) -> None:
        for tx in block.transactions:
            self.pool.pop(compute_txid(tx), None)
        utxo = self.utxo
        stale = [
            txid
            for txid, tx in self.pool.items()
            if any(utxo.get_coin(txin.prevout) is None for txin in tx.inputs)
        ]
        for txid in stale:
            del self.pool[txid]
        included = {encode(evidence) for evidence in block.evidence}
        for key in list(self.evidence_pool):
            if key in included or not self._is_evidence_current(self.evidence_pool[key]):
                del self.evidence_pool[key]

    def _offender_id(self, evidence: Evidence) -> bytes | None:
        voting_set = voting_set_at(self.state, get_evidence_height(evidence))
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
            if get_evidence_height(evidence) > self.state.height:
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
        """A transaction from a user: pool it and gossip it to the members."""
        if not self.up:
            return
        if self.add_transaction(tx):
            self.send_to(self._current_members(), TxMessage(transaction=tx))

    def add_transaction(self, tx: Transaction) -> bool:
        """Pool `tx`; False when it was already pooled."""
        txid = compute_txid(tx)
        if txid in self.pool:
            return False
        if len(self.pool) >= MAX_POOL_TRANSACTIONS:
            del self.pool[next(iter(self.pool))]
        self.pool[txid] = tx
        return True

    def add_evidence(self, evidence: Evidence, *, gossip: bool) -> None:
        """Pool `evidence` (bounded) and, when `gossip`, send it to the members."""
        key = encode(evidence)
        if key in self.evidence_pool or len(self.evidence_pool) >= MAX_POOL_EVIDENCE:
            return
        if not self._is_evidence_current(evidence):
            return
        self.evidence_pool[key] = evidence
        if gossip:
            self.send_to(self._current_members(), EvidenceMessage(evidence=evidence))

    def _current_members(self) -> list[int]:
        voting_set = voting_set_at(self.state, self.state.height + 1)
        return [] if voting_set is None else self.sim.members_of(voting_set)

    # ------------------------------------------------------------- receive

    def deliver(self, src: int, data: bytes) -> None:
        """Receive bytes from node `src`: decode, then handle the message.

        Bytes that do not decode are counted and dropped (DecodeError); a
        message the consensus machine refuses is counted and dropped
        (InvalidVote). Nothing a peer sends can stop the node.
        """
        if not self.up:
            return
        try:
            message = decode_message(data)
        except DecodeError:
            self.decode_rejects += 1
            return
        if isinstance(message, VoteMessage):
            self._on_vote(src, message.vote)
        elif isinstance(message, ProposalMessage):
            self._on_proposal(src, message.proposal, message.block)
        elif isinstance(message, TxMessage):
            self.add_transaction(message.transaction)
        elif isinstance(message, EvidenceMessage):
            self.add_evidence(message.evidence, gossip=False)
        elif isinstance(message, SyncRequest):
            self._on_sync_request(src, message)
        else:
            self._on_sync_response(message)

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
        self._note_peer_height(src, proposal.height)
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
                self._send_blocks(src, height, MAX_SYNC_BLOCKS)

    def request_sync(self, peer: int) -> None:
        """Ask `peer` for the committed blocks after the tip (rate-limited)."""
        now_ms = self.sim.queue.now_ms
        if now_ms < self._sync_wait_until_ms or peer == self.node_id:
            return
        self._sync_wait_until_ms = now_ms + SYNC_RETRY_MS
        request = SyncRequest(from_height=self.state.height + 1, max_blocks=MAX_SYNC_BLOCKS)
        self.sim.send(self.node_id, peer, encode_message(request))

    def _on_sync_request(self, src: int, request: SyncRequest) -> None:
        self._send_blocks(src, request.from_height, min(request.max_blocks, MAX_SYNC_BLOCKS))

    def _send_blocks(self, dst: int, from_height: int, count: int) -> None:
        blocks = [
            CommittedBlock(block=block, certificate=certificate)
            for block, certificate in self.disk.blocks[from_height - 1 : from_height - 1 + count]
        ]
        if blocks and from_height >= 1:
            self.sim.send(self.node_id, dst, encode_message(SyncResponse(blocks=blocks)))

    def _on_sync_response(self, response: SyncResponse) -> None:
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
        self._last_maintenance_height = self.state.height
        if machine is None or stalled:
            peers = self._current_members() if machine is None else []
            if not peers:
                peers = list(range(sim.node_count))
            self.request_sync(sim.rng.choice(peers))
        if self.strategy is not None:
            self.strategy.on_maintenance(self)

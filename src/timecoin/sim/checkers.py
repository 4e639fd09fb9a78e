"""Checkers: what must hold on every honest node, during and after a run.

The `Recorder` receives the honest nodes' events (commits, signed messages,
delivered messages, evidence) as they happen and records a `Violation` for
each broken property:

- agreement: never two different committed blocks at one height;
- validity: a block an honest machine decided passes `validate_block`
  (and, after the run, the whole chain of one node replays on a fresh state
  without caches);
- utxo-commitment: every honest node's MuHash3072 digest at a height equals
  the header's, hence the other nodes' (and, after the run, the digest
  recomputed from the node's whole UTXO set);
- double-spend: no outpoint is spent twice in the committed chain;
- supply: exact accounting, block by block and after the run:
  `value(UTXO set after h) = value(after h - 1) + coinbase outputs(h) - fees(h)`,
  with `fees(h)` recomputed from the spent coins, equal to the chain's, and
  `coinbase outputs(h) <= subsidy + fees(h)`; so the final UTXO value is
  genesis value + sum of coinbases - sum of fees;
- certificate: each committed block's certificate verifies against the
  voting set of its height;
- honest-equivocation: an honest node never signs two different votes or
  proposals for one (height, round, type), across restarts included;
- evidence: when an honest machine was given two conflicting signed
  messages of one signer that it would both store, it recorded evidence;
- liveness (checked by the simulator): after the last fault heals, every
  honest node reaches the target height within a bounded virtual time;
- conflicting-final: never two conflicting transactions final, anywhere,
  ever, across epochs: a transaction is final when an honest node holds its
  proof or when the vote batches sent by anyone (Byzantine nodes included)
  give it a quorum of its epoch's voting set;
- honest-tx-equivocation: an honest node never logs locks of one outpoint
  to two transactions in one epoch, across restarts;
- not-final: a committed block holds only transactions final before it;
- final-not-in-block: every final transaction is in a block within
  `FINAL_INCLUSION_HEIGHTS` heights of the later of its finality and the
  heal;
- payment-not-final: an honest wallet's payment is final within
  `PAYMENT_FINALITY_BUDGET_MS` of the later of its submission and the heal.

Byzantine nodes are not checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from timecoin.chain import AppliedBlock, ChainState, chain_state_from_genesis, validate_block
from timecoin.chain.certificate import verify_vote_signature
from timecoin.chain.finality import encode_lock_element
from timecoin.consensus import WalProposal, WalRecord, WalVote
from timecoin.consensus.finality_wal import FinalityWalRecord, WalTxLocks
from timecoin.crypto import MuHash3072, verify
from timecoin.ledger import MemoryUtxoSet, encode_utxo_element
from timecoin.sim.view import CheckedNode, CheckedRun
from timecoin.types import (
    Block,
    Certificate,
    DuplicateProposalEvidence,
    DuplicateVoteEvidence,
    Evidence,
    FinalityProof,
    InvalidBlock,
    InvalidVote,
    OutPoint,
    Proposal,
    TimecoinError,
    Transaction,
    TxVoteBatch,
    Vote,
    VoteLeaf,
    VotingSet,
    compute_block_hash,
    compute_txid,
    is_quorum,
)

PROPOSAL_SLOT = 0
"""Slot type of proposals in signature keys (votes use their vote type)."""

FULL_UTXO_CHECK_NODES = 16
"""Most honest nodes whose UTXO commitment is recomputed in full after a run."""

FINAL_INCLUSION_HEIGHTS = 3
"""A final transaction is in a block at most this many heights after the
later of the height at its finality and the height at the heal."""

PAYMENT_FINALITY_BUDGET_MS = 2_000
"""Virtual time within which an honest wallet's payment must be final after
the later of its submission and the heal."""


@dataclass(slots=True)
class _Final:
    """The first time a transaction was seen final: epoch, chain height, time."""

    epoch: int
    height: int
    time_ms: int


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken property: its kind, the node and height concerned, and what happened."""

    kind: str
    node: int | None
    height: int | None
    message: str

    def describe(self) -> str:
        """One line for reports."""
        where = []
        if self.node is not None:
            where.append(f"node {self.node}")
        if self.height is not None:
            where.append(f"height {self.height}")
        location = f" ({', '.join(where)})" if where else ""
        return f"{self.kind}{location}: {self.message}"


@dataclass(slots=True)
class _CanonicalHeight:
    """The first honest commit of a height."""

    block_hash: bytes
    node: int
    utxo_digest: bytes
    supply_after: int


@dataclass(slots=True)
class Recorder:
    """Collects events of honest nodes and the violations they show."""

    sim: CheckedRun
    genesis_supply: int
    violations: list[Violation] = field(default_factory=list)
    canonical: dict[int, _CanonicalHeight] = field(default_factory=dict)
    spent: dict[OutPoint, int] = field(default_factory=dict)
    signed: dict[tuple[int, int, int, int], bytes] = field(default_factory=dict)
    delivered: dict[tuple[int, int, bytes, int, int, int], bytes] = field(default_factory=dict)
    required_evidence: set[tuple[int, int, bytes, int, int, int]] = field(default_factory=set)
    recorded_evidence: set[tuple[int, int, bytes, int, int, int]] = field(default_factory=set)
    proposal_sent_ms: dict[tuple[int, int, bytes], int] = field(default_factory=dict)
    commit_latencies_ms: list[int] = field(default_factory=list)
    build_failures: int = 0
    evidence_events: int = 0
    bodies: dict[bytes, Transaction] = field(default_factory=dict)
    payments: dict[bytes, int] = field(default_factory=dict)
    finals: dict[bytes, _Final] = field(default_factory=dict)
    final_spender: dict[OutPoint, bytes] = field(default_factory=dict)
    conflicted: set[bytes] = field(default_factory=set)
    included: dict[bytes, int] = field(default_factory=dict)
    tallies: dict[tuple[int, bytes, bytes], dict[bytes, int]] = field(default_factory=dict)
    honest_locks: dict[tuple[int, int, OutPoint], bytes] = field(default_factory=dict)
    heal_height: int = 0

    def add(self, kind: str, node: int | None, height: int | None, message: str) -> None:
        """Record a violation."""
        self.violations.append(Violation(kind, node, height, message))

    # ------------------------------------------------------------- commits

    def on_commit(
        self,
        node: CheckedNode,
        state_before: ChainState,
        applied: AppliedBlock,
        certificate: Certificate,
        *,
        decided: bool,
    ) -> None:
        """Check a block an honest node has just applied."""
        if not node.is_honest:
            return
        block = applied.block
        height = block.header.height
        now_ms = self.sim.queue.now_ms
        if decided:
            sent = self.proposal_sent_ms.get((height, certificate.round, applied.block_hash))
            if sent is not None:
                self.commit_latencies_ms.append(now_ms - sent)
        self._check_certificate(node, state_before, applied, certificate)
        digest = applied.state_after.utxo_state.digest()
        if digest != block.header.utxo_commitment:
            self.add(
                "utxo-commitment",
                node.node_id,
                height,
                f"state digest {digest.hex()} differs from the header's",
            )
        canonical = self.canonical.get(height)
        if canonical is None:
            supply_before = (
                self.genesis_supply if height == 1 else self.canonical[height - 1].supply_after
            )
            supply_after = self._check_block_accounting(node, applied, supply_before)
            self.canonical[height] = _CanonicalHeight(
                applied.block_hash, node.node_id, digest, supply_after
            )
            self._check_double_spends(node, block)
            self._check_final_only(node, block)
            self.sim.on_first_commit(applied)
            return
        if canonical.block_hash != applied.block_hash:
            self.add(
                "agreement",
                node.node_id,
                height,
                f"committed {applied.block_hash.hex()[:16]}, node {canonical.node} committed "
                f"{canonical.block_hash.hex()[:16]}",
            )
        elif canonical.utxo_digest != digest:
            self.add(
                "utxo-commitment",
                node.node_id,
                height,
                f"digest differs from node {canonical.node}'s for the same block",
            )

    def _check_certificate(
        self,
        node: CheckedNode,
        state_before: ChainState,
        applied: AppliedBlock,
        certificate: Certificate,
    ) -> None:
        height = applied.block.header.height
        try:
            self.sim.verify_certificate(state_before, certificate, height, applied.block_hash)
        except InvalidVote as exc:
            self.add("certificate", node.node_id, height, str(exc))

    def _check_block_accounting(
        self, node: CheckedNode, applied: AppliedBlock, supply_before: int
    ) -> int:
        """Recompute the fees from the spent coins; check the coinbase and return
        the supply after the block."""
        block = applied.block
        height = block.header.height
        params = node.params
        values: dict[OutPoint, int] = {s.outpoint: s.coin.amount for s in applied.undo.spent}
        fees = 0
        coinbase_total = 0
        for tx in block.transactions:
            txid = compute_txid(tx)
            outputs = sum(txout.amount for txout in tx.outputs)
            if tx.is_coinbase:
                coinbase_total += outputs
            else:
                fees += sum(values.pop(txin.prevout, 0) for txin in tx.inputs) - outputs
            for index, txout in enumerate(tx.outputs):
                values[OutPoint(txid=txid, index=index)] = txout.amount
        if fees != applied.fees:
            self.add("supply", node.node_id, height, f"fees {fees}, chain says {applied.fees}")
        if coinbase_total > params.block_subsidy + fees:
            self.add(
                "supply",
                node.node_id,
                height,
                f"coinbase {coinbase_total} above subsidy {params.block_subsidy} + fees {fees}",
            )
        delta = applied.delta
        created = sum(coin.amount for coin in delta.created.values())
        spent = sum(s.coin.amount for s in applied.undo.spent)
        supply_after = supply_before + coinbase_total - fees
        if supply_before + created - spent != supply_after:
            self.add(
                "supply",
                node.node_id,
                height,
                f"UTXO value moved by {created - spent}, expected coinbase {coinbase_total} "
                f"minus fees {fees}",
            )
        return supply_after

    def _check_double_spends(self, node: CheckedNode, block: Block) -> None:
        height = block.header.height
        for tx in block.transactions:
            for txin in tx.inputs:
                first = self.spent.get(txin.prevout)
                if first is not None:
                    self.add(
                        "double-spend",
                        node.node_id,
                        height,
                        f"{txin.prevout.txid.hex()[:16]}:{txin.prevout.index} already spent "
                        f"at height {first}",
                    )
                self.spent[txin.prevout] = height

    def _check_final_only(self, node: CheckedNode, block: Block) -> None:
        """Every non-coinbase transaction of the block was final before it."""
        height = block.header.height
        for tx in block.transactions[1:]:
            txid = compute_txid(tx)
            self.included.setdefault(txid, height)
            if txid not in self.finals:
                self.add(
                    "not-final",
                    node.node_id,
                    height,
                    f"block holds {txid.hex()[:16]}, final nowhere before it",
                )

    # ------------------------------------------------------------ finality

    def on_submitted(self, tx: Transaction, *, payment: bool) -> None:
        """A wallet submitted `tx` (`payment`: an honest wallet's, which must become final)."""
        txid = compute_txid(tx)
        self.bodies.setdefault(txid, tx)
        if payment:
            self.payments.setdefault(txid, self.sim.queue.now_ms)

    def on_final(
        self, node: CheckedNode, txid: bytes, tx: Transaction, proof: FinalityProof
    ) -> None:
        """An honest node holds the finality proof of `tx`."""
        if not node.is_honest:
            return
        self.bodies.setdefault(txid, tx)
        self._note_final(txid, tx, proof.epoch, f"node {node.node_id}")

    def on_tx_votes_sent(
        self, node: CheckedNode, voting_set: VotingSet, batch: TxVoteBatch, leaves: list[VoteLeaf]
    ) -> None:
        """A vote batch left a node (honest or not): tally it; a quorum makes
        the transaction final, wherever the votes may be assembled."""
        index = voting_set.index_of(batch.voter)
        if index is None or batch.epoch != voting_set.epoch:
            return
        weight = voting_set.voters[index].weight
        for leaf in leaves:
            key = (batch.epoch, leaf.txid, leaf.inputs_root)
            tally = self.tallies.setdefault(key, {})
            if batch.voter in tally:
                continue
            tally[batch.voter] = weight
            tx = self.bodies.get(leaf.txid)
            if tx is None or not is_quorum(sum(tally.values()), voting_set.total_weight):
                continue
            self._note_final(leaf.txid, tx, batch.epoch, f"votes of epoch {batch.epoch}")

    def _note_final(self, txid: bytes, tx: Transaction, epoch: int, where: str) -> None:
        if txid in self.finals:
            return
        height = max(self.canonical, default=0)
        self.finals[txid] = _Final(epoch, height, self.sim.queue.now_ms)
        for txin in tx.inputs:
            other = self.final_spender.setdefault(txin.prevout, txid)
            if other == txid:
                continue
            self.conflicted.update((txid, other))
            self.add(
                "conflicting-final",
                None,
                height,
                f"{txid.hex()[:16]} (epoch {epoch}, {where}) and {other.hex()[:16]} "
                f"(epoch {self.finals[other].epoch}) both final, both spend "
                f"{txin.prevout.txid.hex()[:16]}:{txin.prevout.index}",
            )

    def on_finality_persist(self, node: CheckedNode, record: FinalityWalRecord) -> None:
        """An honest node never locks one outpoint to two transactions in one epoch."""
        if not node.is_honest or not isinstance(record, WalTxLocks):
            return
        for entry in record.entries:
            key = (node.node_id, record.epoch, entry.outpoint)
            previous = self.honest_locks.setdefault(key, entry.txid)
            if previous != entry.txid:
                self.add(
                    "honest-tx-equivocation",
                    node.node_id,
                    None,
                    f"locked {entry.outpoint.txid.hex()[:16]}:{entry.outpoint.index} to "
                    f"{previous.hex()[:16]} and {entry.txid.hex()[:16]} in epoch {record.epoch}",
                )

    def _check_finality_liveness(self) -> None:
        """Final transactions reach blocks; honest payments become final."""
        top = max(self.canonical, default=0)
        for txid, final in self.finals.items():
            if txid in self.conflicted:
                continue
            due = max(final.height, self.heal_height) + FINAL_INCLUSION_HEIGHTS
            included = self.included.get(txid)
            if (included is None and top >= due) or (included is not None and included > due):
                self.add(
                    "final-not-in-block",
                    None,
                    due,
                    f"{txid.hex()[:16]} final at height {final.height} (epoch {final.epoch}), "
                    f"{'in block ' + str(included) if included else 'in no block'}, "
                    f"heal at height {self.heal_height}",
                )
        now_ms = self.sim.queue.now_ms
        heal_ms = self.sim.heal_ms
        for txid, submitted_ms in self.payments.items():
            due_ms = max(submitted_ms, heal_ms) + PAYMENT_FINALITY_BUDGET_MS
            if due_ms <= now_ms and txid not in self.finals and txid not in self.included:
                self.add(
                    "payment-not-final",
                    None,
                    None,
                    f"honest payment {txid.hex()[:16]} submitted at {submitted_ms} ms "
                    f"not final at {now_ms} ms",
                )

    def on_invalid_decision(self, node: CheckedNode, block: Block, exc: InvalidBlock) -> None:
        """An honest machine decided a block that does not validate."""
        if node.is_honest:
            self.add("validity", node.node_id, block.header.height, f"decided block: {exc}")

    def on_build_failure(self, node: CheckedNode, exc: InvalidBlock) -> None:
        """`build_block` refused the node's inputs (counted; evidence is retried without)."""
        self.build_failures += 1

    # --------------------------------------------------- signed messages

    def on_persist(self, node: CheckedNode, record: WalRecord) -> None:
        """Check that an honest node never signs two messages for one slot."""
        if not node.is_honest:
            return
        if isinstance(record, WalVote):
            vote = record.vote
            self._check_signed(node, vote.height, vote.round, vote.vote_type, vote.block_hash)
        elif isinstance(record, WalProposal):
            p = record.proposal
            content = p.block_hash + p.pol_round.to_bytes(8, "big", signed=True)
            self._check_signed(node, p.height, p.round, PROPOSAL_SLOT, content)

    def _check_signed(
        self, node: CheckedNode, height: int, round: int, slot: int, content: bytes
    ) -> None:
        key = (node.node_id, height, round, slot)
        previous = self.signed.setdefault(key, content)
        if previous != content:
            self.add(
                "honest-equivocation",
                node.node_id,
                height,
                f"signed two different messages of type {slot} in round {round}",
            )

    def on_proposal_sent(self, proposal: Proposal, now_ms: int) -> None:
        """Remember when a proposal was first sent (commit latency)."""
        key = (proposal.height, proposal.round, proposal.block_hash)
        self.proposal_sent_ms.setdefault(key, now_ms)

    # ------------------------------------------------------------ evidence

    def on_delivered(self, node: CheckedNode, message: Vote | Proposal, eligible: bool) -> None:
        """Note a Byzantine signer's message given to an honest machine that
        stores it; two different ones for one slot require evidence."""
        if not node.is_honest or not eligible:
            return
        sim = self.sim
        if isinstance(message, Vote):
            signer, slot = message.voter, message.vote_type
            content = message.block_hash
            if not sim.is_byzantine_key(signer) or not self._vote_signature_ok(node, message):
                return
        else:
            signer, slot = message.proposer, PROPOSAL_SLOT
            content = message.block_hash + message.timestamp_ms.to_bytes(8, "big")
            if not sim.is_byzantine_key(signer):
                return
        key = (node.node_id, node.incarnation, signer, message.height, message.round, slot)
        previous = self.delivered.setdefault(key, content)
        if previous != content:
            self.required_evidence.add(key)

    def _vote_signature_ok(self, node: CheckedNode, vote: Vote) -> bool:
        try:
            verify_vote_signature(vote, node.params.chain_id, self.sim.verifier)
        except InvalidVote:
            return False
        return True

    def on_evidence(self, node: CheckedNode, evidence: Evidence) -> None:
        """An honest machine recorded evidence."""
        self.evidence_events += 1
        if isinstance(evidence, DuplicateVoteEvidence):
            vote = evidence.vote_a
            key = (node.node_id, node.incarnation, vote.voter, vote.height, vote.round)
            self.recorded_evidence.add((*key, vote.vote_type))
        elif isinstance(evidence, DuplicateProposalEvidence):
            p = evidence.proposal_a
            key = (node.node_id, node.incarnation, p.proposer, p.height, p.round)
            self.recorded_evidence.add((*key, PROPOSAL_SLOT))

    # --------------------------------------------------------------- final

    def finish(self) -> None:
        """The checks that run after the run: evidence, replay, UTXO sets, supply."""
        missing = self.required_evidence - self.recorded_evidence
        for node_id, _, signer, height, round, slot in sorted(missing):
            self.add(
                "evidence",
                node_id,
                height,
                f"saw conflicting messages of {signer.hex()[:16]} (round {round}, type {slot}) "
                "but recorded no evidence",
            )
        self._check_finality_liveness()
        honest = [n for n in self.sim.nodes if n.is_honest]
        if not honest:
            return
        self._replay_fresh(max(honest, key=lambda n: (n.height, -n.node_id)))
        for index, node in enumerate(honest):
            self._check_final_utxo(node, full=index < FULL_UTXO_CHECK_NODES)

    def _replay_fresh(self, node: CheckedNode) -> None:
        """Replay `node`'s committed chain on a fresh state, without caches."""
        sim = self.sim
        try:
            state, delta = chain_state_from_genesis(sim.genesis_block, sim.params)
        except TimecoinError as exc:
            self.add("validity", node.node_id, 0, f"genesis: {exc}")
            return
        utxo = MemoryUtxoSet(delta.created)
        for block, _ in node.disk.blocks:
            try:
                applied = validate_block(block, state, utxo, verifier=verify)
            except InvalidBlock as exc:
                self.add("validity", node.node_id, block.header.height, f"replay: {exc}")
                return
            if applied.block_hash != compute_block_hash(block.header):
                self.add("validity", node.node_id, block.header.height, "replay hash differs")
            utxo.apply_delta(applied.delta)
            state = applied.state_after

    def _check_final_utxo(self, node: CheckedNode, *, full: bool) -> None:
        height = node.height
        if height == 0:
            return
        value = sum(coin.amount for coin in node.utxo.coins.values())
        canonical = self.canonical.get(height)
        if canonical is not None and value != canonical.supply_after:
            self.add(
                "supply",
                node.node_id,
                height,
                f"UTXO set holds {value}, expected genesis {self.genesis_supply} plus coinbases "
                f"minus fees = {canonical.supply_after}",
            )
        if full and _recompute_commitment(node) != node.state.utxo_state.digest():
            self.add("utxo-commitment", node.node_id, height, "recomputed UTXO set digest differs")


def _recompute_commitment(node: CheckedNode) -> bytes:
    """The UTXO commitment recomputed from scratch: every coin of the node's
    set and every reported lock of its chain state (ADR 0004)."""
    state = MuHash3072()
    state.insert_many(encode_utxo_element(op, coin) for op, coin in node.utxo.coins.items())
    state.insert_many(
        encode_lock_element(outpoint, txid) for outpoint, txid in node.state.reported_locks.items()
    )
    return state.digest()

"""Instant transaction finality as a sans-I/O state machine
(docs/spec/finality.md).

One `FinalityMachine` per node. Committee members vote for the first valid
transaction they see spending each input and are bound by that lock for the
epoch; votes are signed in batches; a transaction with votes of more than
2/3 of the epoch's weight is final and gets a `FinalityProof` that verifies
offline. At an epoch's end each member reports its unblocked votes and stops
voting in that epoch.

Inputs are method calls; outputs are effects the driver executes **in list
order**, each `PersistFinalityWal` durable before the next effect (locks
reach disk before the votes they back leave the node). Time arrives as an
argument; nothing here reads a clock, a disk or a socket.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from timecoin.chain.errors import (
    REJECT_BAD_BRANCH,
    REJECT_UNKNOWN_VOTER,
    REJECT_WRONG_EPOCH,
)
from timecoin.chain.finality import (
    compute_inputs_root,
    compute_vote_leaf,
    verify_epoch_report,
    verify_finality_proof,
    verify_tx_vote,
    verify_tx_vote_batch_signature,
)
from timecoin.consensus.app import Signer, Verifier
from timecoin.consensus.effects import RecordEvidence
from timecoin.consensus.finality_votes import (
    compute_merkle_branches,
    make_tx_vote,
    make_tx_vote_equivocation_evidence,
    sign_epoch_report,
    sign_tx_vote_batch,
)
from timecoin.consensus.finality_wal import (
    FinalityWalRecord,
    WalEpochReport,
    WalTxLocks,
    WalVotedTxs,
    recover_finality_wal,
)
from timecoin.crypto import merkle_root
from timecoin.ledger import compute_tx_size
from timecoin.params import ChainParams
from timecoin.types import (
    MAX_TXVOTE_BATCH_TXIDS,
    Block,
    EpochReport,
    FinalityProof,
    InvalidVote,
    OutPoint,
    ProofVote,
    ReportEntry,
    Transaction,
    TxVote,
    TxVoteBatch,
    VoteLeaf,
    VotingSet,
    compute_txid,
    is_quorum,
)

__all__ = [
    "BroadcastReport",
    "BroadcastVotes",
    "FinalityConfig",
    "FinalityEffect",
    "FinalityMachine",
    "PersistFinalityWal",
    "Reannounce",
    "RequestProof",
    "RequestReports",
    "RequestTransaction",
    "ScheduleTick",
    "TransactionFinal",
    "TxStatus",
]


# ----------------------------------------------------------------- effects


@dataclass(frozen=True, slots=True)
class PersistFinalityWal:
    """Append `record` to the finality WAL, durably, before the next effect."""

    record: FinalityWalRecord


@dataclass(frozen=True, slots=True)
class BroadcastVotes:
    """Send a signed vote batch with its leaves (in batch order) to every peer."""

    batch: TxVoteBatch
    leaves: tuple[VoteLeaf, ...]


@dataclass(frozen=True, slots=True)
class TransactionFinal:
    """`tx` is final: store it with `proof` durably (the final-but-unblocked
    pool) before reporting it final; its outputs are spendable at once."""

    txid: bytes
    tx: Transaction
    proof: FinalityProof


@dataclass(frozen=True, slots=True)
class RequestProof:
    """Fetch the finality proof of `txid` (preferably from the peer that sent the
    proposal or child transaction needing it); give it to `on_finality_proof`."""

    txid: bytes


@dataclass(frozen=True, slots=True)
class RequestTransaction:
    """Fetch transaction `txid` (votes for it are held, its body is not)."""

    txid: bytes


@dataclass(frozen=True, slots=True)
class BroadcastReport:
    """Send this node's signed epoch report to every peer."""

    report: EpochReport


@dataclass(frozen=True, slots=True)
class RequestReports:
    """Ask the peers for every report of `epoch` they hold (this node waits
    for the epoch's last block and its reports are not a quorum yet: a
    report sent while a peer was down or unreachable is never pushed again)."""

    epoch: int


@dataclass(frozen=True, slots=True)
class Reannounce:
    """Re-announce a transaction not yet in a block: with its proof once final,
    else with the votes held for it."""

    tx: Transaction
    proof: FinalityProof | None
    votes: tuple[TxVote, ...]


@dataclass(frozen=True, slots=True)
class ScheduleTick:
    """Call `on_tick(now_ms)` once `now_ms >= at_ms` (a batch or re-announce is due)."""

    at_ms: int


FinalityEffect = (
    PersistFinalityWal
    | BroadcastVotes
    | TransactionFinal
    | RequestProof
    | RequestTransaction
    | RecordEvidence
    | BroadcastReport
    | RequestReports
    | Reannounce
    | ScheduleTick
)
"""Every effect of the finality machine."""


# ------------------------------------------------------------------ config


@dataclass(frozen=True, slots=True)
class FinalityConfig:
    """Local knobs of the machine (none of them changes what it votes for).

    - `batch_interval_ms`, `max_batch_txids`: a batch is signed when its
      first vote has waited this long or it holds this many txids;
    - `reannounce_interval_ms`, `max_reannounce_per_tick`: how often, and
      how many per tick, unblocked transactions are re-announced;
    - `max_tracked_txs`: transactions kept; beyond it new transactions are
      not taken (the caller offers them again later: delayed, never
      refused); votes for known transactions are always counted;
    - `max_unknown_vote_txids`: tallies kept for txids whose body is not
      known yet (a faulty voter cannot crowd out votes for known ones);
    - `backlog_txs`, `backlog_bytes`: one block's capacity; while the
      final-but-unblocked backlog exceeds either, new votes are deferred.
      None: the chain's block limits (`max_block_transactions - 1`,
      `max_block_bytes`);
    - `report_request_interval_ms`: while this member waits for the epoch's
      last block (it reported) and the reports it holds are not a quorum,
      it asks its peers for them (`RequestReports`) this often, first this
      long after it reported (the pushes normally arrive by then);
    - `max_future_vote_batches`: vote batches of the next epoch kept (not
      yet verifiable) until this node enters that epoch;
    - `report_on_commit`: True, the member reports (`on_last_height_due`)
      as soon as the block before its epoch's last height is committed;
      False, the driver calls `on_last_height_due` itself when that
      height's proposal is due (the node: votes go on through the block
      interval instead of pausing for all of it).
    """

    batch_interval_ms: int = 25
    max_batch_txids: int = 1_024
    reannounce_interval_ms: int = 2_000
    max_reannounce_per_tick: int = 256
    max_tracked_txs: int = 200_000
    max_unknown_vote_txids: int = 50_000
    backlog_txs: int | None = None
    backlog_bytes: int | None = None
    report_request_interval_ms: int = 500
    max_future_vote_batches: int = 4_096
    report_on_commit: bool = True


class TxStatus:
    """The UTXO-side state of a transaction as this node sees it."""

    PENDING = "pending"
    """Known, not voted by this node (waiting for parents, deferred, or conflicting)."""
    VOTED = "voted"
    """This node voted for it (its inputs are locked to it)."""
    FINAL = "final"
    """A finality proof is held; not yet in a block."""


@dataclass(slots=True)
class _Tally:
    """Votes of the current epoch for one vote leaf (txid, inputs root).

    Tallies are keyed by the whole leaf: a faulty voter signing a txid with
    a wrong inputs root only fills a tally that never matches the body."""

    inputs_root: bytes
    votes: dict[int, ProofVote] = field(default_factory=dict)
    weight: int = 0
    requested: bool = False


@dataclass(slots=True)
class _TxEntry:
    tx: Transaction
    txid: bytes
    inputs_root: bytes
    size_bytes: int
    announced_ms: int = -1


# ----------------------------------------------------------------- machine


class FinalityMachine:
    """Per-node instant-finality state machine (sans I/O).

    Construct with the voting set of the current epoch (`voting_set.epoch`)
    and, for a committee member, its operator key as `signer`; a node
    without a signer or outside the committee tracks votes and proofs but
    never votes.
    """

    def __init__(
        self,
        *,
        params: ChainParams,
        voting_set: VotingSet,
        verifier: Verifier,
        signer: Signer | None = None,
        config: FinalityConfig | None = None,
        previous_voting_set: VotingSet | None = None,
        reported_locks: Mapping[OutPoint, bytes | None] | None = None,
    ) -> None:
        """A machine for epoch `voting_set.epoch`.

        `previous_voting_set` lets it check proofs of the epoch before;
        `reported_locks` are the chain's reported inputs (outpoint -> the
        only txid that may be voted for it, None: none may).
        """
        self.params = params
        self.config = config or FinalityConfig()
        if not 1 <= self.config.max_batch_txids <= MAX_TXVOTE_BATCH_TXIDS:
            raise ValueError(f"max_batch_txids must be in 1..{MAX_TXVOTE_BATCH_TXIDS}")
        self._verifier = verifier
        self._signer = signer
        self._voting_set = voting_set
        self._total_weight = voting_set.total_weight
        self._previous_voting_set = previous_voting_set
        self._own_index = self._index_of_signer(voting_set)
        self._reported_locks: dict[OutPoint, bytes | None] = dict(reported_locks or {})
        # Transactions known and not in a block (final or not).
        self._txs: dict[bytes, _TxEntry] = {}
        self._spenders: dict[OutPoint, set[bytes]] = {}
        # This node's votes of the epoch: outpoint -> txid (the WAL's locks).
        self._locks: dict[OutPoint, bytes] = {}
        self._voted: set[bytes] = set()
        self._batch: list[VoteLeaf] = []
        self._batch_started_ms = 0
        self._waiting: OrderedDict[bytes, None] = OrderedDict()
        self._tallies: dict[tuple[bytes, bytes], _Tally] = {}
        # Transactions of this epoch dropped because a block spent one of
        # their inputs: their remaining locks stay (a new vote would look like
        # equivocation) but are not reported.
        self._dead: set[bytes] = set()
        # Tallies of leaves whose body is not known (capped separately).
        self._unknown_tallies: set[tuple[bytes, bytes]] = set()
        # outpoint -> voter index -> txid voted, for equivocation detection.
        self._spends_by_outpoint: dict[OutPoint, dict[int, bytes]] = {}
        self._evidenced: set[int] = set()
        self._final: OrderedDict[bytes, FinalityProof] = OrderedDict()
        self._final_bytes = 0
        self._reported = False
        self._own_report: EpochReport | None = None
        self._reports: dict[int, dict[bytes, EpochReport]] = {}
        self._next_reannounce_ms = 0
        self._next_report_request_ms = 0
        self._logged_transactions: list[Transaction] = []
        self._future_batches: list[tuple[TxVoteBatch, tuple[VoteLeaf, ...]]] = []
        self.invalid_future_batches = 0
        """Kept next-epoch batches found invalid once their epoch began."""
        # Entries this member's report would list now: its locks of the
        # epoch whose transaction is not dead (never above max_report_entries).
        self._report_entries = 0

    # ------------------------------------------------------------- restore

    @classmethod
    def restore(
        cls,
        records: Iterable[FinalityWalRecord],
        *,
        params: ChainParams,
        voting_set: VotingSet,
        verifier: Verifier,
        signer: Signer | None = None,
        config: FinalityConfig | None = None,
        previous_voting_set: VotingSet | None = None,
        reported_locks: Mapping[OutPoint, bytes | None] | None = None,
        final: Iterable[tuple[Transaction, FinalityProof]] = (),
    ) -> tuple[FinalityMachine, list[FinalityEffect]]:
        """Rebuild a machine after a restart from its WAL `records` and the
        stored final-but-unblocked transactions `final`.

        The locks of `voting_set.epoch` are restored, so the node never votes
        for a transaction conflicting with one it voted for before the crash;
        a logged report means it never votes again in that epoch (the report
        is sent again: the returned effects). Raises InvalidWal (wal-conflict,
        wal-foreign-signer).
        """
        machine = cls(
            params=params,
            voting_set=voting_set,
            verifier=verifier,
            signer=signer,
            config=config,
            previous_voting_set=previous_voting_set,
            reported_locks=reported_locks,
        )
        own_key = signer.public_key if signer is not None else None
        recovery = recover_finality_wal(records, voting_set.epoch, own_key)
        machine._locks.update(recovery.locks)
        machine._logged_transactions = [
            tx for txid, tx in recovery.transactions.items() if txid in recovery.locks.values()
        ]
        machine._report_entries = len(machine._locks)
        for tx, proof in final:
            machine._add_final(compute_txid(tx), tx, proof)
        effects: list[FinalityEffect] = []
        if recovery.report is not None:
            machine._reported = True
            machine._own_report = recovery.report
            # Held like a received one: a restarted proposer counts its own.
            machine._reports.setdefault(voting_set.epoch, {})[recovery.report.voter] = (
                recovery.report
            )
            effects.append(BroadcastReport(recovery.report))
            effects.append(ScheduleTick(0))  # ask for the others' reports (on_tick)
        return machine, effects

    # ---------------------------------------------------------------- reads

    @property
    def epoch(self) -> int:
        """The current epoch (of the voting set votes are counted against)."""
        return self._voting_set.epoch

    @property
    def voting_set(self) -> VotingSet:
        """The voting set of the current epoch."""
        return self._voting_set

    @property
    def is_member(self) -> bool:
        """Whether this node votes in the current epoch."""
        return self._own_index is not None

    @property
    def has_reported(self) -> bool:
        """Whether this node sent its report of the current epoch (it votes no more)."""
        return self._reported

    @property
    def backlog_count(self) -> int:
        """Final transactions not yet in a block."""
        return len(self._final)

    @property
    def report_entry_count(self) -> int:
        """Entries this member's epoch report would list now: its votes of the
        epoch (one entry per input) whose transaction is not in a block or
        conflicted by one."""
        return self._report_entries

    def is_deferring(self) -> bool:
        """Whether new votes are deferred: the final-but-unblocked backlog
        exceeds one block, or this member's report is full (its votes not
        yet in a block list `params.sizes.max_report_entries` entries; a
        vote adds one per input of its transaction, and one that would
        exceed the bound waits too). Both clear as blocks include the
        transactions: votes are delayed, never refused."""
        return (
            len(self._final) > self._backlog_limit_txs()
            or self._final_bytes > self._backlog_limit_bytes()
            or self._report_entries >= self.params.sizes.max_report_entries
        )

    def get_status(self, txid: bytes) -> str | None:
        """`TxStatus` of `txid`, or None when it is unknown or already in a block."""
        if txid in self._final:
            return TxStatus.FINAL
        if txid in self._voted:
            return TxStatus.VOTED
        if txid in self._txs:
            return TxStatus.PENDING
        return None

    def get_lock(self, outpoint: OutPoint) -> bytes | None:
        """The txid this node voted for `outpoint` in the current epoch, or None."""
        return self._locks.get(outpoint)

    def has_proof(self, txid: bytes) -> bool:
        """Whether a finality proof of `txid` is held (it is final, not yet in a block)."""
        return txid in self._final

    def get_proof(self, txid: bytes) -> FinalityProof | None:
        """The finality proof of `txid`, or None."""
        return self._final.get(txid)

    def get_final_transactions(self) -> list[Transaction]:
        """Final transactions not yet in a block, in the order they became final:
        the candidates a proposer passes to `select_block_transactions`."""
        return [self._txs[txid].tx for txid in self._final]

    def get_final_txids(self) -> set[bytes]:
        """The txids of `get_final_transactions` (`select_block_transactions`'s
        `final_txids`, and `validate_block`'s `has_finality_proof` via `has_proof`)."""
        return set(self._final)

    def _tally_of(self, txid: bytes) -> _Tally | None:
        entry = self._txs.get(txid)
        if entry is None:
            return None
        return self._tallies.get((txid, entry.inputs_root))

    def get_vote_weight(self, txid: bytes) -> int:
        """The weight of the current epoch's votes counted for known transaction `txid`."""
        tally = self._tally_of(txid)
        return 0 if tally is None else tally.weight

    def get_votes(self, txid: bytes) -> list[TxVote]:
        """The current epoch's votes held for known transaction `txid`, as `TxVote`s."""
        tally = self._tally_of(txid)
        if tally is None:
            return []
        voters = self._voting_set.voters
        return [
            make_tx_vote(voters[i].operator_key, self.epoch, vote, txid, tally.inputs_root)
            for i, vote in sorted(tally.votes.items())
        ]

    def get_logged_transactions(self) -> list[Transaction]:
        """The transactions this member voted for in the current epoch before
        its restart, read back from its WAL (`restore`): the host offers them
        again like received ones, so this node can vote on, serve their
        bodies and put them in the epoch's last block."""
        return list(self._logged_transactions)

    def get_reports(self, epoch: int) -> list[EpochReport]:
        """The verified reports of `epoch` received (and this node's own)."""
        return list(self._reports.get(epoch, {}).values())

    def get_reports_weight(self, epoch: int) -> tuple[int, int]:
        """(voting weight of the verified reports of `epoch` held, total weight
        of that epoch's voting set); (0, 0) for an epoch other than the
        current or the previous one."""
        if epoch == self.epoch:
            voting_set = self._voting_set
        elif self._previous_voting_set is not None and epoch == self._previous_voting_set.epoch:
            voting_set = self._previous_voting_set
        else:
            return 0, 0
        keys = self._reports.get(epoch, {})
        weight = sum(v.weight for v in voting_set.voters if v.operator_key in keys)
        return weight, voting_set.total_weight

    def is_awaiting_reports(self) -> bool:
        """Whether this member waits for the current epoch's last block (it
        reported) while the reports it holds do not exceed 2/3 of the epoch's
        weight. Only members propose, so only they need the reports; other
        nodes get them in the block."""
        if not self._reported or self._own_index is None:
            return False
        weight, total = self.get_reports_weight(self.epoch)
        return not is_quorum(weight, total)

    def missing_proofs(self, txids: Iterable[bytes]) -> list[RequestProof]:
        """`RequestProof` effects for each txid whose proof is not held (a
        validator runs this on a proposal's transactions before prevoting)."""
        return [RequestProof(txid) for txid in txids if txid not in self._final]

    # --------------------------------------------------------------- inputs

    def on_transaction(
        self, tx: Transaction, now_ms: int, *, txid: bytes | None = None
    ) -> list[FinalityEffect]:
        """A transaction that passed `check_transaction` and `validate_transaction`
        against the tip's UTXO set plus the outputs of final-but-unblocked
        transactions (the caller's job: this machine reads no state).

        It is voted for at once (into the current batch) when this node is a
        member that has not reported, none of its inputs is locked to another
        transaction (this epoch's locks, or the chain's reported locks), every
        input comes from a block or from a transaction whose proof is held,
        and the backlog allows; otherwise it waits and is retried on later
        inputs (delay, never refuse). Coinbases are ignored.
        """
        if tx.is_coinbase:
            return []
        if txid is None:
            txid = compute_txid(tx)
        effects: list[FinalityEffect] = []
        if txid not in self._txs:
            if len(self._txs) >= self.config.max_tracked_txs:
                return []
            entry = _TxEntry(
                tx=tx,
                txid=txid,
                inputs_root=compute_inputs_root(tx),
                size_bytes=compute_tx_size(tx),
                # It is relayed as it arrives: re-announced one interval later.
                announced_ms=now_ms,
            )
            self._txs[txid] = entry
            for txin in tx.inputs:
                self._spenders.setdefault(txin.prevout, set()).add(txid)
            effects.extend(self._on_body_known(entry))
        if txid not in self._voted and txid not in self._final:
            effects.extend(self._try_vote(txid, now_ms))
        effects.extend(self._maybe_flush(now_ms))
        return self._after_final(effects, now_ms)

    def on_tx_votes(
        self, batch: TxVoteBatch, leaves: Sequence[VoteLeaf], now_ms: int
    ) -> list[FinalityEffect]:
        """A vote batch with its leaves, from a peer (or this node's own, echoed).

        A batch of the next epoch (this node has not committed the current
        epoch's last block yet) is kept, at most
        `config.max_future_vote_batches`, and counted on entering that epoch,
        as consensus votes of the next height are; batches of other epochs
        are ignored (`[]`). Raises InvalidVote
        (unknown-voter, bad-branch when the leaves do not make the signed
        root and count, bad-signature) for a batch no correct node sends.
        """
        if batch.epoch == self.epoch + 1:
            if len(self._future_batches) < self.config.max_future_vote_batches:
                self._future_batches.append((batch, tuple(leaves)))
            return []
        if batch.epoch != self.epoch:
            return []
        voter_index = self._voting_set.index_of(batch.voter)
        if voter_index is None:
            raise InvalidVote(
                REJECT_UNKNOWN_VOTER, f"tx vote batch signer {batch.voter.hex()} is no voter"
            )
        if len(leaves) != batch.count:
            raise InvalidVote(
                REJECT_BAD_BRANCH, f"tx vote batch of {batch.count} leaves came with {len(leaves)}"
            )
        hashes = [compute_vote_leaf(leaf.txid, leaf.inputs_root) for leaf in leaves]
        if merkle_root(hashes) != batch.root:
            raise InvalidVote(REJECT_BAD_BRANCH, "tx vote batch leaves do not make its root")
        verify_tx_vote_batch_signature(batch, self.params.chain_id, self._verifier)
        _, branches = compute_merkle_branches(hashes)
        effects: list[FinalityEffect] = []
        for index, leaf in enumerate(leaves):
            vote = ProofVote(
                voter_index=voter_index,
                root=batch.root,
                count=batch.count,
                index=index,
                branch=list(branches[index]),
                signature=batch.signature,
            )
            effects.extend(self._count_vote(leaf.txid, leaf.inputs_root, vote))
        return self._after_final(effects, now_ms)

    def on_tx_vote(self, vote: TxVote, now_ms: int) -> list[FinalityEffect]:
        """One standalone vote (re-announced with its transaction).

        Votes of other epochs are ignored. Raises InvalidVote (unknown-voter,
        bad-branch, bad-signature).
        """
        if vote.epoch != self.epoch:
            return []
        voter_index = self._voting_set.index_of(vote.voter)
        if voter_index is None:
            raise InvalidVote(
                REJECT_UNKNOWN_VOTER, f"tx vote signer {vote.voter.hex()} is no voter"
            )
        verify_tx_vote(vote, self.params.chain_id, self._verifier)
        proof_vote = ProofVote(
            voter_index=voter_index,
            root=vote.root,
            count=vote.count,
            index=vote.index,
            branch=list(vote.branch),
            signature=vote.signature,
        )
        return self._after_final(self._count_vote(vote.txid, vote.inputs_root, proof_vote), now_ms)

    def on_finality_proof(
        self,
        proof: FinalityProof,
        tx: Transaction,
        now_ms: int,
        *,
        voting_set: VotingSet | None = None,
    ) -> list[FinalityEffect]:
        """A finality proof with its transaction (fetched, or re-announced).

        Checked against `voting_set` when given (the stored set of
        `proof.epoch`), else this or the previous epoch's set. The caller must
        have validated `tx` as for `on_transaction`. Raises InvalidVote
        (wrong-epoch when no set of the proof's epoch is known, or a code of
        `verify_finality_proof`).
        """
        txid = compute_txid(tx)
        if txid in self._final:
            return []
        if voting_set is None:
            if proof.epoch == self.epoch:
                voting_set = self._voting_set
            elif (
                self._previous_voting_set is not None
                and proof.epoch == self._previous_voting_set.epoch
            ):
                voting_set = self._previous_voting_set
            else:
                raise InvalidVote(
                    REJECT_WRONG_EPOCH, f"no voting set of epoch {proof.epoch} to check the proof"
                )
        verify_finality_proof(proof, tx, voting_set, self.params.chain_id, self._verifier)
        effects = self._become_final(txid, tx, proof)
        return self._after_final(effects, now_ms)

    def on_epoch_report(self, report: EpochReport) -> list[FinalityEffect]:
        """A member's epoch report: verified against the voting set of its epoch
        (current or previous) and kept for the epoch's last block. Reports of
        other epochs are ignored. Raises InvalidVote (codes of
        `verify_epoch_report`, oversized-report past `max_report_entries`)."""
        if report.epoch == self.epoch:
            voting_set = self._voting_set
        elif (
            self._previous_voting_set is not None
            and report.epoch == self._previous_voting_set.epoch
        ):
            voting_set = self._previous_voting_set
        else:
            return []
        if self._reports.get(report.epoch, {}).get(report.voter) == report:
            return []  # held already (answers to `RequestReports` repeat them)
        verify_epoch_report(
            report,
            voting_set,
            self.params.chain_id,
            self._verifier,
            max_entries=self.params.sizes.max_report_entries,
        )
        self._reports.setdefault(report.epoch, {}).setdefault(report.voter, report)
        return []

    def on_tick(self, now_ms: int) -> list[FinalityEffect]:
        """Time passes: retry waiting transactions, sign a due batch, re-announce."""
        effects = self._retry_waiting(now_ms)
        effects.extend(self._maybe_flush(now_ms))
        effects.extend(self._reannounce(now_ms))
        effects.extend(self._request_reports(now_ms))
        return effects

    def _count_future_batches(self, now_ms: int) -> list[FinalityEffect]:
        """Count the batches of this (new) epoch kept before entering it; a
        batch no correct node sends is dropped like a received one."""
        pending, self._future_batches = self._future_batches, []
        effects: list[FinalityEffect] = []
        for batch, leaves in pending:
            if batch.epoch != self.epoch:
                continue
            try:
                effects.extend(self.on_tx_votes(batch, leaves, now_ms))
            except InvalidVote:
                self.invalid_future_batches += 1
        return effects

    def _request_reports(self, now_ms: int) -> list[FinalityEffect]:
        """Ask the peers for the epoch's reports while they are not a quorum,
        every `report_request_interval_ms`: nothing a height needs may depend
        on a push that a restart or a partition lost for good."""
        if not self.is_awaiting_reports() or now_ms < self._next_report_request_ms:
            return []
        first = self._next_report_request_ms == 0
        self._next_report_request_ms = now_ms + self.config.report_request_interval_ms
        schedule = ScheduleTick(self._next_report_request_ms)
        if first:
            # The pushes normally arrive within this interval: ask only then.
            return [schedule]
        return [RequestReports(self.epoch), schedule]

    def on_block_committed(
        self,
        block: Block,
        block_hash: bytes,
        now_ms: int,
        *,
        next_voting_set: VotingSet | None = None,
        reported_locks: Mapping[OutPoint, bytes | None] | None = None,
    ) -> list[FinalityEffect]:
        """A block was committed (durably) at `block.header.height`.

        Its transactions leave every pool; locks on the outpoints it spends
        are released and transactions conflicting with it are dropped. When
        the next block is the last of the epoch, this node (a member)
        flushes its batch, logs and sends its report, and votes no more in
        the epoch. When the block ends the epoch, pass the new epoch's
        `next_voting_set` and the chain's `reported_locks`: the machine moves
        to the new epoch and retries the waiting transactions.
        """
        effects: list[FinalityEffect] = []
        spent: set[OutPoint] = set()
        for tx in block.transactions:
            txid = compute_txid(tx)
            self._forget(txid)
            for txin in tx.inputs:
                spent.add(txin.prevout)
        for outpoint in spent:
            self._locks.pop(outpoint, None)
            self._spends_by_outpoint.pop(outpoint, None)
            self._reported_locks.pop(outpoint, None)
            for other in list(self._spenders.get(outpoint, ())):
                self._forget(other)  # conflicted: its input is spent by the block
                self._dead.add(other)
        self._report_entries = sum(1 for txid in self._locks.values() if txid not in self._dead)
        if next_voting_set is not None and next_voting_set.epoch != self.epoch:
            self._enter_epoch(next_voting_set, reported_locks)
            effects.extend(self._count_future_batches(now_ms))
        params = self.params
        next_height = block.header.height + 1
        if (
            self.config.report_on_commit
            and params.epoch_of(next_height) == self.epoch
            and params.epoch_of(next_height + 1) != self.epoch
        ):
            effects.extend(self.on_last_height_due(block_hash))
        effects.extend(self._retry_waiting(now_ms))
        effects.extend(self._maybe_flush(now_ms))
        return effects

    def on_last_height_due(self, prev_hash: bytes) -> list[FinalityEffect]:
        """The proposal of the current epoch's last height is due; `prev_hash`
        is the hash of the block it follows (the tip).

        `on_block_committed` calls this itself unless
        `config.report_on_commit` is False, in which case the driver calls
        it when the proposal is due. A driver also calls it after a
        restart whose tip is the block before the epoch's last height, when
        the restored machine has not reported (`has_reported`). A member
        flushes its batch, logs and sends its report, and votes no more in
        the epoch; calling it again does nothing.
        """
        if self._reported:
            return []
        # The first tick asks for the reports this node does not hold.
        return [*self._report(prev_hash), ScheduleTick(0)]

    # ------------------------------------------------------------ internals

    def _index_of_signer(self, voting_set: VotingSet) -> int | None:
        if self._signer is None:
            return None
        return voting_set.index_of(self._signer.public_key)

    def _backlog_limit_txs(self) -> int:
        limit = self.config.backlog_txs
        return self.params.sizes.max_block_transactions - 1 if limit is None else limit

    def _backlog_limit_bytes(self) -> int:
        limit = self.config.backlog_bytes
        return self.params.sizes.max_block_bytes if limit is None else limit

    def _can_vote_now(self) -> bool:
        return self._own_index is not None and not self._reported and not self.is_deferring()

    def _blocked_by_lock(self, entry: _TxEntry) -> bool:
        """Whether an input is locked to another txid (own vote or chain report)."""
        for txin in entry.tx.inputs:
            outpoint = txin.prevout
            locked = self._locks.get(outpoint)
            if locked is not None and locked != entry.txid:
                return True
            if outpoint in self._reported_locks and self._reported_locks[outpoint] != entry.txid:
                return True
        return False

    def _parents_ready(self, entry: _TxEntry) -> bool:
        """Every input is in a block or from a transaction whose proof is held.

        A parent this machine tracks and does not hold a proof of is not in
        a block (tracked transactions leave when their block commits); an
        untracked parent passed the caller's validation against the tip, so
        it is in a block.
        """
        for txin in entry.tx.inputs:
            parent = txin.prevout.txid
            if parent in self._txs and parent not in self._final:
                return False
        return True

    def _try_vote(self, txid: bytes, now_ms: int) -> list[FinalityEffect]:
        entry = self._txs.get(txid)
        if entry is None or txid in self._voted or txid in self._final:
            return []
        if self._own_index is None or self._reported:
            return []
        if self._blocked_by_lock(entry):
            return []  # a conflicting vote binds this node: never vote
        if not self._parents_ready(entry) or self.is_deferring() or not self._fits_report(entry):
            self._waiting[txid] = None
            return []
        self._waiting.pop(txid, None)
        for txin in entry.tx.inputs:
            if txin.prevout not in self._locks:
                self._report_entries += 1
            self._locks[txin.prevout] = txid
        self._voted.add(txid)
        if not self._batch:
            self._batch_started_ms = now_ms
        self._batch.append(VoteLeaf(txid=txid, inputs_root=entry.inputs_root))
        return []

    def _fits_report(self, entry: _TxEntry) -> bool:
        """Whether voting for `entry` keeps this member's report within
        `max_report_entries` (one entry per input not already locked)."""
        added = sum(1 for txin in entry.tx.inputs if txin.prevout not in self._locks)
        return self._report_entries + added <= self.params.sizes.max_report_entries

    def _retry_waiting(self, now_ms: int) -> list[FinalityEffect]:
        effects: list[FinalityEffect] = []
        if not self._can_vote_now():
            return effects
        for txid in list(self._waiting):
            if self.is_deferring():
                break
            entry = self._txs.get(txid)
            if entry is not None and not self._fits_report(entry) and self._parents_ready(entry):
                break  # the first in line waits for room; later ones do not overtake it
            self._waiting.pop(txid, None)
            effects.extend(self._try_vote(txid, now_ms))
        return effects

    def _maybe_flush(self, now_ms: int) -> list[FinalityEffect]:
        if not self._batch:
            return []
        due = (
            len(self._batch) >= self.config.max_batch_txids
            or now_ms >= self._batch_started_ms + self.config.batch_interval_ms
        )
        if not due:
            return [ScheduleTick(self._batch_started_ms + self.config.batch_interval_ms)]
        return self._flush()

    def _flush(self) -> list[FinalityEffect]:
        """Sign the pending batch: log its locks, then broadcast, then count it."""
        effects: list[FinalityEffect] = []
        while self._batch:
            leaves = self._batch[: self.config.max_batch_txids]
            del self._batch[: self.config.max_batch_txids]
            signer = self._signer
            own_index = self._own_index
            if signer is None or own_index is None:
                raise AssertionError("a batch was filled by a node that does not vote")
            entries = [
                ReportEntry(outpoint=txin.prevout, txid=leaf.txid)
                for leaf in leaves
                for txin in self._txs[leaf.txid].tx.inputs
            ]
            bodies = [self._txs[leaf.txid].tx for leaf in leaves]
            effects.append(PersistFinalityWal(WalVotedTxs(epoch=self.epoch, transactions=bodies)))
            effects.append(PersistFinalityWal(WalTxLocks(epoch=self.epoch, entries=entries)))
            batch, branches = sign_tx_vote_batch(signer, self.params.chain_id, self.epoch, leaves)
            effects.append(BroadcastVotes(batch=batch, leaves=tuple(leaves)))
            for index, leaf in enumerate(leaves):
                vote = ProofVote(
                    voter_index=own_index,
                    root=batch.root,
                    count=batch.count,
                    index=index,
                    branch=list(branches[index]),
                    signature=batch.signature,
                )
                effects.extend(self._count_vote(leaf.txid, leaf.inputs_root, vote))
        return effects

    def _count_vote(self, txid: bytes, inputs_root: bytes, vote: ProofVote) -> list[FinalityEffect]:
        if txid in self._final:
            return []
        key = (txid, inputs_root)
        tally = self._tallies.get(key)
        if tally is None:
            if txid not in self._txs:
                if len(self._unknown_tallies) >= self.config.max_unknown_vote_txids:
                    return []
                self._unknown_tallies.add(key)
            tally = self._tallies[key] = _Tally(inputs_root=inputs_root)
        if vote.voter_index in tally.votes:
            return []
        tally.votes[vote.voter_index] = vote
        tally.weight += self._voting_set.voters[vote.voter_index].weight
        effects: list[FinalityEffect] = []
        entry = self._txs.get(txid)
        if entry is not None and entry.inputs_root != inputs_root:
            return effects  # a leaf that is not this body: never final
        if entry is not None:
            effects.extend(self._check_equivocation(entry, vote.voter_index))
        if is_quorum(tally.weight, self._total_weight):
            if entry is None:
                if not tally.requested:
                    tally.requested = True
                    effects.append(RequestTransaction(txid))
            else:
                effects.extend(self._become_final(txid, entry.tx, self._make_proof(txid, tally)))
        return effects

    def _make_proof(self, txid: bytes, tally: _Tally) -> FinalityProof:
        return FinalityProof(
            txid=txid,
            inputs_root=tally.inputs_root,
            epoch=self.epoch,
            votes=[tally.votes[i] for i in sorted(tally.votes)],
        )

    def _on_body_known(self, entry: _TxEntry) -> list[FinalityEffect]:
        """A transaction's body arrived: check held votes for equivocation and finality."""
        key = (entry.txid, entry.inputs_root)
        self._unknown_tallies.discard(key)
        tally = self._tallies.get(key)
        if tally is None:
            return []
        effects: list[FinalityEffect] = []
        for voter_index in list(tally.votes):
            effects.extend(self._check_equivocation(entry, voter_index))
        if is_quorum(tally.weight, self._total_weight):
            effects.extend(
                self._become_final(entry.txid, entry.tx, self._make_proof(entry.txid, tally))
            )
        return effects

    def _check_equivocation(self, entry: _TxEntry, voter_index: int) -> list[FinalityEffect]:
        if voter_index in self._evidenced:
            return []
        for txin in entry.tx.inputs:
            by_voter = self._spends_by_outpoint.setdefault(txin.prevout, {})
            other_txid = by_voter.setdefault(voter_index, entry.txid)
            if other_txid == entry.txid:
                continue
            other = self._txs.get(other_txid)
            if other is None:
                continue
            tally = self._tallies.get((entry.txid, entry.inputs_root))
            other_tally = self._tallies.get((other_txid, other.inputs_root))
            if tally is None or other_tally is None:
                continue
            own_vote = tally.votes.get(voter_index)
            other_vote = other_tally.votes.get(voter_index)
            if own_vote is None or other_vote is None:
                continue
            voter_key = self._voting_set.voters[voter_index].operator_key
            vote_a = make_tx_vote(voter_key, self.epoch, own_vote, entry.txid, entry.inputs_root)
            vote_b = make_tx_vote(voter_key, self.epoch, other_vote, other_txid, other.inputs_root)
            evidence = make_tx_vote_equivocation_evidence(
                txin.prevout, vote_a, entry.tx, vote_b, other.tx
            )
            self._evidenced.add(voter_index)
            return [RecordEvidence(evidence)]
        return []

    def _after_final(self, effects: list[FinalityEffect], now_ms: int) -> list[FinalityEffect]:
        """After transactions became final, vote for children that waited for them."""
        if any(isinstance(effect, TransactionFinal) for effect in effects) and self._waiting:
            effects.extend(self._retry_waiting(now_ms))
            effects.extend(self._maybe_flush(now_ms))
        return effects

    def _add_final(self, txid: bytes, tx: Transaction, proof: FinalityProof) -> None:
        entry = self._txs.get(txid)
        if entry is None:
            entry = _TxEntry(
                tx=tx,
                txid=txid,
                inputs_root=compute_inputs_root(tx),
                size_bytes=compute_tx_size(tx),
            )
            self._txs[txid] = entry
            for txin in tx.inputs:
                self._spenders.setdefault(txin.prevout, set()).add(txid)
        if txid not in self._final:
            self._final[txid] = proof
            self._final_bytes += entry.size_bytes
        self._waiting.pop(txid, None)

    def _become_final(
        self, txid: bytes, tx: Transaction, proof: FinalityProof
    ) -> list[FinalityEffect]:
        if txid in self._final:
            return []
        self._add_final(txid, tx, proof)
        effects: list[FinalityEffect] = [TransactionFinal(txid=txid, tx=tx, proof=proof)]
        # Children waiting for this parent may now be voted for.
        for index in range(len(tx.outputs)):
            for child in self._spenders.get(OutPoint(txid=txid, index=index), ()):
                if child in self._waiting:
                    self._waiting.move_to_end(child, last=False)
        return effects

    def _forget(self, txid: bytes) -> None:
        """Drop a transaction that is in a block or conflicted."""
        entry = self._txs.pop(txid, None)
        proof = self._final.pop(txid, None)
        if proof is not None and entry is not None:
            self._final_bytes -= entry.size_bytes
        if entry is not None:
            self._tallies.pop((txid, entry.inputs_root), None)
        self._waiting.pop(txid, None)
        self._voted.discard(txid)
        if entry is not None:
            for txin in entry.tx.inputs:
                spenders = self._spenders.get(txin.prevout)
                if spenders is not None:
                    spenders.discard(txid)
                    if not spenders:
                        del self._spenders[txin.prevout]
        self._batch = [leaf for leaf in self._batch if leaf.txid != txid]

    def _report(self, prev_hash: bytes) -> list[FinalityEffect]:
        """End of the epoch for this member: flush, log the report, send it."""
        if self._signer is None or self._own_index is None:
            self._reported = True
            return []
        effects = self._flush()
        entries = [
            ReportEntry(outpoint=outpoint, txid=txid)
            for outpoint, txid in self._locks.items()
            if txid not in self._dead
        ]
        report = sign_epoch_report(
            self._signer, self.params.chain_id, self.epoch, prev_hash, entries
        )
        effects.append(PersistFinalityWal(WalEpochReport(report)))
        self._reported = True
        self._own_report = report
        self._reports.setdefault(self.epoch, {})[report.voter] = report
        effects.append(BroadcastReport(report))
        return effects

    def _enter_epoch(
        self, voting_set: VotingSet, reported_locks: Mapping[OutPoint, bytes | None] | None
    ) -> None:
        """Move to the next epoch: fresh locks and tallies, the chain's reported locks."""
        old_epoch = self.epoch
        self._previous_voting_set = self._voting_set
        self._voting_set = voting_set
        self._total_weight = voting_set.total_weight
        self._own_index = self._index_of_signer(voting_set)
        self._locks.clear()
        self._report_entries = 0
        self._voted.clear()
        self._batch.clear()
        self._tallies.clear()
        self._spends_by_outpoint.clear()
        self._unknown_tallies.clear()
        self._evidenced.clear()
        self._dead.clear()
        self._reported = False
        self._own_report = None
        self._next_report_request_ms = 0
        self._logged_transactions = []
        if reported_locks is not None:
            self._reported_locks = dict(reported_locks)
        for epoch in [e for e in self._reports if e < old_epoch]:
            del self._reports[epoch]
        for txid in self._txs:
            if txid not in self._final:
                self._waiting[txid] = None

    def _reannounce(self, now_ms: int) -> list[FinalityEffect]:
        if now_ms < self._next_reannounce_ms:
            return []
        self._next_reannounce_ms = now_ms + self.config.reannounce_interval_ms
        effects: list[FinalityEffect] = []
        budget = self.config.max_reannounce_per_tick
        for txid, entry in self._txs.items():
            if budget <= 0:
                break
            if txid not in self._final and txid not in self._voted:
                continue
            if entry.announced_ms >= 0 and (
                now_ms < entry.announced_ms + self.config.reannounce_interval_ms
            ):
                continue
            entry.announced_ms = now_ms
            proof = self._final.get(txid)
            votes = () if proof is not None else tuple(self.get_votes(txid))
            effects.append(Reannounce(tx=entry.tx, proof=proof, votes=votes))
            budget -= 1
        effects.append(ScheduleTick(self._next_reannounce_ms))
        return effects

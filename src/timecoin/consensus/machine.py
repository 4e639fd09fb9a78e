"""The block consensus state machine: Tendermint, Algorithm 1 of "The latest
gossip on BFT consensus" (Buchman, Kwon, Milosevic, 2018), without I/O.

`ConsensusMachine` holds the state of one node for the height being decided.
Inputs are method calls (`on_start`, `on_tick`, `on_proposal`, `on_vote`,
`on_certificate`, `on_new_height`); each returns the effects to execute, in
order (see `timecoin.consensus.effects`). Time is an input (`now_ms`); the
machine reads no clock, draws no randomness and does no I/O.

Comments cite the line numbers of Algorithm 1. Deviations from the paper,
all documented in docs/spec/consensus.md:

- quorums are weighted: "2f + 1" means more than 2/3 of the voting weight
  (`is_quorum`), "f + 1" more than 1/3 (`is_one_third_plus`);
- `valid(v)` is `BlockApp.validate_proposal` and the block-interval rule on
  the proposal timestamp; a new proposal (line 22) is also prevoted only if
  its timestamp is at most `max_timestamp_drift_ms` ahead of its arrival;
- the proposer waits for the block interval before proposing, and others
  start their propose timeout from that moment;
- at lines 36 and 49 the value `v` is any block of this height whose hash is
  `id(v)`, whichever round's proposal carried it;
- line 55 counts, per voter, the highest round of its messages (so that
  messages far ahead need not be stored);
- signed votes and proposals are logged before they are sent, and a vote
  already signed for a (round, type) is sent again rather than re-signed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from timecoin.consensus.app import BlockApp, Signer, Verifier
from timecoin.consensus.effects import (
    Broadcast,
    CommitBlock,
    Effect,
    PersistWal,
    RecordEvidence,
    ScheduleTimeout,
)
from timecoin.consensus.evidence import (
    make_duplicate_proposal_evidence,
    make_duplicate_vote_evidence,
)
from timecoin.consensus.limits import (
    MAX_BUFFERED_PROPOSALS,
    MAX_BUFFERED_VOTES,
    MAX_PROPOSALS_PER_ROUND,
    MAX_ROUNDS_AHEAD,
    MAX_RULE_PASSES,
)
from timecoin.consensus.proposer import select_proposer
from timecoin.consensus.rejects import (
    REJECT_BAD_POL_ROUND,
    REJECT_BLOCK_MISMATCH,
    REJECT_NIL_BLOCK,
    REJECT_UNKNOWN_VOTER,
    REJECT_WAL_BLOCK,
    REJECT_WRONG_PROPOSER,
)
from timecoin.consensus.signing import (
    build_certificate,
    check_vote_type,
    sign_proposal,
    sign_vote,
    verify_certificate,
    verify_proposal_signature,
    verify_vote_signature,
)
from timecoin.consensus.state import HeightContext, Step, TimeoutStep
from timecoin.consensus.timing import (
    compute_earliest_proposal_ms,
    compute_proposal_timestamp_ms,
    compute_timeout_ms,
    is_timestamp_timely,
    is_timestamp_valid,
)
from timecoin.consensus.votes import VoteKeeper
from timecoin.consensus.wal import (
    InvalidWal,
    WalProposal,
    WalRecord,
    WalRecovery,
    WalRoundState,
    WalValue,
    WalVote,
    recover_wal,
)
from timecoin.encoding import DecodeError
from timecoin.params import ChainParams
from timecoin.types import (
    ZERO_HASH,
    Certificate,
    InvalidVote,
    Proposal,
    Vote,
    VoteType,
)

_PROPOSAL_SLOT = 0
"""Evidence key type for proposals (votes use their VoteType, 1 or 2)."""


@dataclass(frozen=True, slots=True)
class _Value:
    """A block of this height, by hash: its value, timestamp and validity."""

    block_value: object
    timestamp_ms: int
    valid: bool


@dataclass(frozen=True, slots=True)
class _ProposalEntry:
    """A verified proposal from the round's proposer, as received."""

    proposal: Proposal
    valid: bool
    timely: bool


@dataclass(frozen=True, slots=True, order=True)
class _Timeout:
    """A pending timeout of the current height."""

    at_ms: int
    round: int
    step: TimeoutStep


def _same_content(a: Proposal, b: Proposal) -> bool:
    return (a.proposer, a.height, a.round, a.pol_round, a.block_hash, a.timestamp_ms) == (
        b.proposer,
        b.height,
        b.round,
        b.pol_round,
        b.block_hash,
        b.timestamp_ms,
    )


class ConsensusMachine:
    """Tendermint consensus for one node, one height at a time.

    Construct it for the height to decide, call `on_start(now_ms)`, then feed
    it messages and time. After a `CommitBlock` effect the machine ignores
    messages of that height until `on_new_height` moves it to the next one.
    A node without a signer, or whose key is not in the voting set, follows
    the protocol and commits blocks without ever signing.
    """

    # Per-height state, reset by `_enter_height` (lines 2-9 of Algorithm 1).
    _ctx: HeightContext
    _index_by_key: dict[bytes, int]
    _own_index: int | None
    _round: int
    _step: Step
    _locked_round: int
    _locked_hash: bytes
    _valid_round: int
    _valid_hash: bytes
    _decided: bool
    _keeper: VoteKeeper
    _proposals: dict[int, list[_ProposalEntry]]
    _values: dict[bytes, _Value]
    _own_votes: dict[tuple[int, int], Vote]
    _own_proposals: dict[int, tuple[Proposal, object]]
    _prevote_timeout_rounds: set[int]
    _precommit_timeout_rounds: set[int]
    _line36_rounds: set[int]
    _evidence_seen: set[tuple[bytes, int, int]]
    _timeouts: list[_Timeout]
    _logged_values: set[bytes]
    _last_persisted: WalRoundState | None
    _proposer_cache: dict[int, int]
    _recovered: bool

    def __init__(
        self,
        *,
        params: ChainParams,
        app: BlockApp,
        verifier: Verifier,
        signer: Signer | None,
        context: HeightContext,
    ) -> None:
        """A machine at round 0 of `context.height`, not yet started.

        - `params`: chain parameters (timeouts, block interval, timestamp drift;
          `params.chain_id` is the chain id of every signing message);
        - `app`: builds, validates, hashes and encodes blocks;
        - `verifier`: the signature rule, ``verifier(public_key, message, signature)``;
        - `signer`: this node's operator key, or None for a non-voting node;
        - `context`: the height, its voting set, the previous block's timestamp
          and the proposer seed.

        Raises ValueError when the voting set is empty or has no weight.
        """
        self._params = params
        self._chain_id = params.chain_id
        self._app = app
        self._verifier = verifier
        self._signer = signer
        self._started = False
        self._recovered = False
        self._buffered_votes: list[Vote] = []
        self._buffered_proposals: list[tuple[Proposal, object]] = []
        self._last_commit: CommitBlock | None = None
        self._enter_height(context)

    @classmethod
    def restore(
        cls,
        records: Iterable[WalRecord],
        *,
        params: ChainParams,
        app: BlockApp,
        verifier: Verifier,
        signer: Signer | None,
        context: HeightContext,
    ) -> ConsensusMachine:
        """A machine rebuilt from its write-ahead log after a restart.

        `records` is the log in append order; records of heights other than
        `context.height` are skipped. The machine resumes the logged round
        and step, its lock and valid value, and knows every vote and proposal
        it signed: it never signs a different one for the same slot, and
        `on_start` sends the ones of the current round again. Other
        arguments are those of the constructor.
        Raises InvalidWal when the log holds messages signed by another key,
        conflicting signed messages, or undecodable blocks; ValueError as
        the constructor.
        """
        machine = cls(params=params, app=app, verifier=verifier, signer=signer, context=context)
        own_key = None if signer is None else signer.public_key
        machine._apply_recovery(recover_wal(records, context.height, own_key))
        return machine

    # ------------------------------------------------------------------ state

    @property
    def context(self) -> HeightContext:
        """The context of the current height."""
        return self._ctx

    @property
    def height(self) -> int:
        """The height being decided (`h_p`)."""
        return self._ctx.height

    @property
    def round(self) -> int:
        """The current round (`round_p`)."""
        return self._round

    @property
    def step(self) -> Step:
        """The current step (`step_p`)."""
        return self._step

    @property
    def locked_round(self) -> int:
        """`lockedRound_p`: the round of the lock, or -1."""
        return self._locked_round

    @property
    def locked_hash(self) -> bytes:
        """The hash of `lockedValue_p`, or ZERO_HASH."""
        return self._locked_hash

    @property
    def valid_round(self) -> int:
        """`validRound_p`: the round of the valid value, or -1."""
        return self._valid_round

    @property
    def valid_hash(self) -> bytes:
        """The hash of `validValue_p`, or ZERO_HASH."""
        return self._valid_hash

    @property
    def is_decided(self) -> bool:
        """Whether the current height is decided (`decision_p[h_p] != nil`)."""
        return self._decided

    @property
    def own_index(self) -> int | None:
        """This node's index in the voting set, or None when it does not vote."""
        return self._own_index

    def get_proposer_index(self, round: int) -> int:
        """The voter index of `proposer(h_p, round)`."""
        proposer = self._proposer_cache.get(round)
        if proposer is None:
            proposer = select_proposer(
                self._ctx.voting_set, self._ctx.height, round, self._ctx.proposer_seed
            )
            if round <= self._round + MAX_ROUNDS_AHEAD:
                self._proposer_cache[round] = proposer
        return proposer

    @property
    def last_commit(self) -> CommitBlock | None:
        """The latest decision of this machine (kept after `on_new_height`), which
        a driver may send to peers still deciding that height (`on_certificate`)."""
        return self._last_commit

    def get_own_messages(self) -> list[Broadcast]:
        """This node's signed proposal and votes of the current round, for a
        driver that gossips them again (messages may be lost before GST)."""
        if self._decided:
            return []
        messages: list[Broadcast] = []
        own_proposal = self._own_proposals.get(self._round)
        if own_proposal is not None:
            messages.append(Broadcast(own_proposal[0], own_proposal[1]))
        for vote_type in (VoteType.PREVOTE, VoteType.PRECOMMIT):
            vote = self._own_votes.get((self._round, vote_type))
            if vote is not None:
                messages.append(Broadcast(vote))
        return messages

    # ----------------------------------------------------------------- inputs

    def on_start(self, now_ms: int) -> list[Effect]:
        """Start the machine (line 10: StartRound(0)); a restored machine instead
        resumes its round and sends its signed messages of that round again.

        Calling it again does nothing.
        """
        if self._started:
            return []
        self._started = True
        out: list[Effect] = []
        if self._recovered:
            self._resume(now_ms, out)
        else:
            self._start_round(0, now_ms, out)
        self._settle(now_ms, out)
        self._persist_state(out)
        return out

    def on_tick(self, now_ms: int) -> list[Effect]:
        """Fire every timeout due at `now_ms`, earliest first (lines 57-67)."""
        out: list[Effect] = []
        if not self._started or self._decided:
            return out
        for _ in range(MAX_RULE_PASSES):
            due = [t for t in self._timeouts if t.at_ms <= now_ms]
            if not due or self._decided:
                break
            timeout = min(due)
            self._timeouts.remove(timeout)
            self._fire_timeout(timeout, now_ms, out)
            self._settle(now_ms, out)
        self._persist_state(out)
        return out

    def on_proposal(self, proposal: Proposal, block_value: object, now_ms: int) -> list[Effect]:
        """Receive `proposal` with its block `block_value` at `now_ms`.

        Proposals of other heights are dropped, except the next height's,
        which are buffered (up to MAX_BUFFERED_PROPOSALS) until `on_new_height`.
        Proposals too far ahead (MAX_ROUNDS_AHEAD) and repeated ones are
        dropped. A second, different proposal of the same proposer and round
        yields `RecordEvidence`.
        Raises InvalidVote (bad-pol-round, nil-block, wrong-proposer,
        block-mismatch, bad-signature) for a proposal no correct peer sends.
        """
        out: list[Effect] = []
        if self._buffer_proposal(proposal, block_value):
            return out
        self._handle_proposal(proposal, block_value, now_ms, out)
        self._persist_state(out)
        return out

    def on_vote(self, vote: Vote, now_ms: int) -> list[Effect]:
        """Receive a prevote or precommit at `now_ms`.

        Votes of other heights are dropped, except the next height's, which
        are buffered (up to MAX_BUFFERED_VOTES) until `on_new_height`. Votes too
        far ahead only record their voter's round (line 55). A second vote of
        one voter for another block in the same round yields `RecordEvidence`.
        Raises InvalidVote (bad-vote-type, unknown-voter, bad-signature).
        """
        check_vote_type(vote.vote_type)
        out: list[Effect] = []
        if self._buffer_vote(vote):
            return out
        self._handle_vote(vote, now_ms, out)
        self._persist_state(out)
        return out

    def on_certificate(
        self, certificate: Certificate, block_value: object, now_ms: int
    ) -> list[Effect]:
        """Decide the current height from a certificate obtained otherwise (for
        example by sync), when this node missed the precommits.

        Certificates of other heights, or after the decision, are ignored.
        Raises InvalidVote (as `verify_certificate`, and block-mismatch when
        `block_value` is not the certified block).
        """
        out: list[Effect] = []
        if certificate.height != self._ctx.height or self._decided or not self._started:
            return out
        verify_certificate(
            certificate,
            self._ctx.voting_set,
            self._chain_id,
            self._verifier,
            expected_height=self._ctx.height,
        )
        if self._app.block_hash(block_value) != certificate.block_hash:
            raise InvalidVote(REJECT_BLOCK_MISMATCH, "block value does not match the certificate")
        self._commit(CommitBlock(self._ctx.height, block_value, certificate), out)
        return out

    def on_new_height(self, context: HeightContext, now_ms: int) -> list[Effect]:
        """Move to `context.height` (normally the decided height + 1) and start
        its round 0 (lines 52-54), then replay the buffered messages of it.

        Raises ValueError when `context.height` is not above the current
        height, or its voting set is empty or weightless.
        """
        if context.height <= self._ctx.height:
            raise ValueError(
                f"new height {context.height} is not above the current height {self._ctx.height}"
            )
        self._enter_height(context)
        self._started = True
        out: list[Effect] = []
        self._start_round(0, now_ms, out)
        proposals, votes = self._buffered_proposals, self._buffered_votes
        self._buffered_proposals, self._buffered_votes = [], []
        for proposal, block_value in proposals:
            if proposal.height == context.height:
                try:
                    self._handle_proposal(proposal, block_value, now_ms, out)
                except InvalidVote:
                    continue
        for vote in votes:
            if vote.height == context.height:
                try:
                    self._handle_vote(vote, now_ms, out)
                except InvalidVote:
                    continue
        self._settle(now_ms, out)
        self._persist_state(out)
        return out

    # ------------------------------------------------------- height and round

    def _enter_height(self, context: HeightContext) -> None:
        """Reset every per-height variable (lines 2-9 and 53)."""
        voters = context.voting_set.voters
        if not voters or context.voting_set.total_weight <= 0:
            raise ValueError(f"height {context.height}: voting set is empty or has no weight")
        self._ctx = context
        self._index_by_key = {}
        for index, voter in enumerate(voters):
            self._index_by_key.setdefault(voter.operator_key, index)  # as VotingSet.index_of
        signer = self._signer
        self._own_index = None if signer is None else self._index_by_key.get(signer.public_key)
        self._round = 0
        self._step = Step.PROPOSE
        self._locked_round = -1
        self._locked_hash = ZERO_HASH
        self._valid_round = -1
        self._valid_hash = ZERO_HASH
        self._decided = False
        self._keeper = VoteKeeper(context.voting_set)
        self._proposals = {}
        self._values = {}
        self._own_votes = {}
        self._own_proposals = {}
        self._prevote_timeout_rounds = set()
        self._precommit_timeout_rounds = set()
        self._line36_rounds = set()
        self._evidence_seen = set()
        self._timeouts = []
        self._logged_values = set()
        self._last_persisted = None
        self._proposer_cache = {}
        self._recovered = False

    def _start_round(self, round: int, now_ms: int, out: list[Effect]) -> None:
        """StartRound(round), lines 11-21."""
        self._round = round  # line 12
        self._step = Step.PROPOSE  # line 13
        self._timeouts = [t for t in self._timeouts if t.round >= round]
        self._enter_propose_step(now_ms, out)

    def _is_own_proposer(self, round: int) -> bool:
        return self._own_index is not None and self.get_proposer_index(round) == self._own_index

    def _enter_propose_step(self, now_ms: int, out: list[Effect]) -> None:
        """Lines 14-21, with the block interval: the proposer proposes once
        `prev_block_timestamp_ms + block_interval_ms` is reached; the others
        time out `timeoutPropose(round)` after that moment."""
        round = self._round
        earliest_ms = compute_earliest_proposal_ms(self._params, self._ctx.prev_block_timestamp_ms)
        if self._is_own_proposer(round):  # line 14
            if round in self._own_proposals:
                return  # already proposed before a restart: it is sent again
            if now_ms < earliest_ms:
                self._schedule(TimeoutStep.BLOCK_INTERVAL, earliest_ms, out)
            else:
                self._propose(now_ms, out)
            return
        timeout_ms = compute_timeout_ms(self._params, TimeoutStep.PROPOSE, round)
        self._schedule(TimeoutStep.PROPOSE, max(now_ms, earliest_ms) + timeout_ms, out)  # line 21

    def _propose(self, now_ms: int, out: list[Effect]) -> None:
        """Lines 15-19: propose validValue_p if any, else a new block."""
        signer = self._signer
        if signer is None or self._own_index is None:
            raise AssertionError("only a voting proposer proposes")
        round = self._round
        valid = self._values.get(self._valid_hash) if self._valid_round >= 0 else None
        if valid is not None:  # lines 15-16
            block_value = valid.block_value
            block_hash = self._valid_hash
            timestamp_ms = valid.timestamp_ms
            pol_round = self._valid_round
        else:  # line 18
            timestamp_ms = compute_proposal_timestamp_ms(
                self._params, self._ctx.prev_block_timestamp_ms, now_ms
            )
            built = self._app.build_proposal(self._ctx.height, round, timestamp_ms)
            if built is None:
                timeout_ms = compute_timeout_ms(self._params, TimeoutStep.PROPOSE, round)
                self._schedule(TimeoutStep.PROPOSE, now_ms + timeout_ms, out)
                return
            block_value = built
            block_hash = self._app.block_hash(block_value)
            pol_round = -1
        if block_hash == ZERO_HASH:
            raise AssertionError("the application built a block with the nil hash")
        proposal = sign_proposal(
            signer, self._chain_id, self._ctx.height, round, pol_round, block_hash, timestamp_ms
        )
        out.append(PersistWal(WalProposal(proposal, self._app.encode_block(block_value))))
        out.append(Broadcast(proposal, block_value))  # line 19
        self._own_proposals[round] = (proposal, block_value)
        self._store_proposal(proposal, block_value, self._own_index, valid=True, timely=True)

    def _resume(self, now_ms: int, out: list[Effect]) -> None:
        """After a restart: send the signed messages of the current round again
        and re-enter its step."""
        for message in self.get_own_messages():
            out.append(message)
        if self._step == Step.PROPOSE:
            self._enter_propose_step(now_ms, out)

    def _schedule(self, step: TimeoutStep, at_ms: int, out: list[Effect]) -> None:
        self._timeouts.append(_Timeout(at_ms, self._round, step))
        out.append(ScheduleTimeout(self._ctx.height, self._round, step, at_ms))

    def _fire_timeout(self, timeout: _Timeout, now_ms: int, out: list[Effect]) -> None:
        """OnTimeoutPropose, OnTimeoutPrevote, OnTimeoutPrecommit (lines 57-67),
        and the proposer's block-interval wake-up."""
        if timeout.round != self._round:
            return
        if timeout.step == TimeoutStep.PROPOSE:
            if self._step == Step.PROPOSE:  # line 58
                self._cast_vote(VoteType.PREVOTE, ZERO_HASH, out)  # line 59
                self._step = Step.PREVOTE  # line 60
        elif timeout.step == TimeoutStep.PREVOTE:
            if self._step == Step.PREVOTE:  # line 62
                self._cast_vote(VoteType.PRECOMMIT, ZERO_HASH, out)  # line 63
                self._step = Step.PRECOMMIT  # line 64
        elif timeout.step == TimeoutStep.PRECOMMIT:
            self._start_round(self._round + 1, now_ms, out)  # lines 66-67
        elif (
            self._step == Step.PROPOSE
            and self._is_own_proposer(self._round)
            and self._round not in self._own_proposals
        ):
            self._propose(now_ms, out)

    def _commit(self, commit: CommitBlock, out: list[Effect]) -> None:
        """decision_p[h_p] = v (line 51); the driver then moves to h_p + 1 (lines 52-54)."""
        out.append(commit)
        self._decided = True
        self._last_commit = commit
        self._timeouts.clear()

    # --------------------------------------------------------------- messages

    def _buffer_proposal(self, proposal: Proposal, block_value: object) -> bool:
        """Keep a next-height proposal; True when the proposal was taken (or dropped)."""
        if proposal.height != self._ctx.height + 1:
            return False
        if len(self._buffered_proposals) < MAX_BUFFERED_PROPOSALS:
            self._buffered_proposals.append((proposal, block_value))
        return True

    def _buffer_vote(self, vote: Vote) -> bool:
        """Keep a next-height vote; True when the vote was taken (or dropped)."""
        if vote.height != self._ctx.height + 1:
            return False
        if len(self._buffered_votes) < MAX_BUFFERED_VOTES:
            self._buffered_votes.append(vote)
        return True

    def _handle_proposal(
        self, proposal: Proposal, block_value: object, now_ms: int, out: list[Effect]
    ) -> None:
        if proposal.height != self._ctx.height or self._decided or not self._started:
            return
        round = proposal.round
        if round > self._round + MAX_ROUNDS_AHEAD:
            return
        if not -1 <= proposal.pol_round < round:
            raise InvalidVote(
                REJECT_BAD_POL_ROUND,
                f"proposal pol_round {proposal.pol_round}, expected -1 <= pol_round < {round}",
            )
        if proposal.block_hash == ZERO_HASH:
            raise InvalidVote(REJECT_NIL_BLOCK, "proposal of the nil block hash")
        proposer_index = self.get_proposer_index(round)
        expected_key = self._ctx.voting_set.voters[proposer_index].operator_key
        if proposal.proposer != expected_key:
            raise InvalidVote(
                REJECT_WRONG_PROPOSER,
                f"proposal h={proposal.height} r={round} by {proposal.proposer.hex()}, "
                f"expected {expected_key.hex()}",
            )
        entries = self._proposals.get(round, [])
        if any(_same_content(entry.proposal, proposal) for entry in entries):
            return
        if self._app.block_hash(block_value) != proposal.block_hash:
            raise InvalidVote(
                REJECT_BLOCK_MISMATCH,
                f"block value hash differs from proposal block {proposal.block_hash.hex()}",
            )
        verify_proposal_signature(proposal, self._chain_id, self._verifier)
        if entries:
            key = (proposal.proposer, round, _PROPOSAL_SLOT)
            if key not in self._evidence_seen:
                self._evidence_seen.add(key)
                evidence = make_duplicate_proposal_evidence(entries[0].proposal, proposal)
                out.append(RecordEvidence(evidence))
            if len(entries) >= MAX_PROPOSALS_PER_ROUND:
                return
        valid = is_timestamp_valid(
            self._params, self._ctx.prev_block_timestamp_ms, proposal.timestamp_ms
        ) and self._app.validate_proposal(self._ctx.height, block_value, proposal.timestamp_ms)
        timely = is_timestamp_timely(self._params, proposal.timestamp_ms, now_ms)
        self._store_proposal(proposal, block_value, proposer_index, valid=valid, timely=timely)
        self._settle(now_ms, out)

    def _store_proposal(
        self,
        proposal: Proposal,
        block_value: object,
        proposer_index: int,
        *,
        valid: bool,
        timely: bool,
    ) -> None:
        self._proposals.setdefault(proposal.round, []).append(
            _ProposalEntry(proposal, valid=valid, timely=timely)
        )
        known = self._values.get(proposal.block_hash)
        if known is None or (valid and not known.valid):
            self._values[proposal.block_hash] = _Value(block_value, proposal.timestamp_ms, valid)
        self._keeper.note_round(proposer_index, proposal.round)

    def _handle_vote(self, vote: Vote, now_ms: int, out: list[Effect]) -> None:
        if vote.height != self._ctx.height or self._decided or not self._started:
            return
        voter_index = self._index_by_key.get(vote.voter)
        if voter_index is None:
            raise InvalidVote(
                REJECT_UNKNOWN_VOTER,
                f"vote by {vote.voter.hex()}, not in the voting set of height {vote.height}",
            )
        if vote.round > self._round + MAX_ROUNDS_AHEAD:
            if self._keeper.get_highest_round(voter_index) >= vote.round:
                return
            verify_vote_signature(vote, self._chain_id, self._verifier)
            self._keeper.note_round(voter_index, vote.round)
            self._settle(now_ms, out)
            return
        existing = self._keeper.get_vote(vote.round, vote.vote_type, voter_index)
        if existing is not None and existing.block_hash == vote.block_hash:
            return
        verify_vote_signature(vote, self._chain_id, self._verifier)
        result = self._keeper.add_vote(voter_index, vote)
        if result.conflicting is not None:
            key = (vote.voter, vote.round, vote.vote_type)
            if key not in self._evidence_seen:
                self._evidence_seen.add(key)
                out.append(RecordEvidence(make_duplicate_vote_evidence(result.conflicting, vote)))
        if result.added:
            self._settle(now_ms, out)

    def _cast_vote(self, vote_type: VoteType, block_hash: bytes, out: list[Effect]) -> None:
        """Broadcast this node's vote of `vote_type` in the current round.

        A vote already signed for this (round, type), before a restart
        included, is sent again unchanged: the node never signs two votes
        for one slot. The signed vote is logged before it is sent.
        """
        slot = (self._round, int(vote_type))
        existing = self._own_votes.get(slot)
        if existing is not None:
            out.append(Broadcast(existing))
            return
        signer = self._signer
        if signer is None or self._own_index is None:
            return
        vote = sign_vote(
            signer, self._chain_id, vote_type, self._ctx.height, self._round, block_hash
        )
        self._own_votes[slot] = vote
        out.append(PersistWal(WalVote(vote)))
        out.append(Broadcast(vote))
        self._keeper.add_vote(self._own_index, vote)

    # ------------------------------------------------------------------ rules

    def _settle(self, now_ms: int, out: list[Effect]) -> None:
        """Apply the `upon` rules until none fires (each fires at most once per
        state change, so this ends well within MAX_RULE_PASSES)."""
        for _ in range(MAX_RULE_PASSES):
            if self._decided or not self._apply_one_rule(now_ms, out):
                return
        raise AssertionError("consensus rules did not settle")

    def _apply_one_rule(self, now_ms: int, out: list[Effect]) -> bool:
        return (
            self._upon_line_49(out)
            or self._upon_line_55(now_ms, out)
            or self._upon_line_22_or_28(out)
            or self._upon_line_34(now_ms, out)
            or self._upon_line_36(out)
            or self._upon_line_44(out)
            or self._upon_line_47(now_ms, out)
        )

    def _upon_line_49(self, out: list[Effect]) -> bool:
        """Lines 49-54: a valid value with precommits of a quorum in any round is decided."""
        for round, block_hash in self._keeper.iter_precommit_quorums():
            if block_hash == ZERO_HASH:
                continue
            value = self._values.get(block_hash)
            if value is None or not value.valid:  # line 50
                continue
            certificate = build_certificate(
                self._ctx.height,
                round,
                block_hash,
                self._keeper.get_votes_for(round, VoteType.PRECOMMIT, block_hash),
                self._ctx.voting_set,
            )
            self._commit(CommitBlock(self._ctx.height, value.block_value, certificate), out)
            return True
        return False

    def _upon_line_55(self, now_ms: int, out: list[Effect]) -> bool:
        """Lines 55-56: messages of more than 1/3 of the weight from a higher round."""
        if self._keeper.highest_round <= self._round:
            return False
        target = self._keeper.compute_jump_round()
        if target <= self._round:
            return False
        self._start_round(target, now_ms, out)
        return True

    def _upon_line_22_or_28(self, out: list[Effect]) -> bool:
        """Lines 22-33: prevote on the round's proposal while in the propose step."""
        if self._step != Step.PROPOSE:
            return False
        for entry in self._proposals.get(self._round, []):
            proposal = entry.proposal
            block_hash = proposal.block_hash
            pol_round = proposal.pol_round
            if pol_round == -1:  # line 22
                ok = (
                    entry.valid
                    and entry.timely
                    and (self._locked_round == -1 or self._locked_hash == block_hash)
                )  # line 23
            elif self._keeper.is_quorum_for(pol_round, VoteType.PREVOTE, block_hash):  # line 28
                ok = entry.valid and (
                    self._locked_round <= pol_round or self._locked_hash == block_hash
                )  # line 29
            else:
                continue
            self._cast_vote(VoteType.PREVOTE, block_hash if ok else ZERO_HASH, out)  # 24-26, 30-32
            self._step = Step.PREVOTE  # lines 27, 33
            return True
        return False

    def _upon_line_34(self, now_ms: int, out: list[Effect]) -> bool:
        """Lines 34-35: prevotes of a quorum, any value: schedule timeoutPrevote."""
        round = self._round
        if (
            self._step != Step.PREVOTE
            or round in self._prevote_timeout_rounds
            or not self._keeper.is_quorum_any(round, VoteType.PREVOTE)
        ):
            return False
        self._prevote_timeout_rounds.add(round)
        timeout_ms = compute_timeout_ms(self._params, TimeoutStep.PREVOTE, round)
        self._schedule(TimeoutStep.PREVOTE, now_ms + timeout_ms, out)
        return True

    def _upon_line_36(self, out: list[Effect]) -> bool:
        """Lines 36-43: prevotes of a quorum for a valid value: lock and precommit
        it (in the prevote step), and make it the valid value."""
        round = self._round
        if self._step < Step.PREVOTE or round in self._line36_rounds:
            return False
        for block_hash in self._keeper.get_quorum_hashes(round, VoteType.PREVOTE):
            if block_hash == ZERO_HASH:
                continue
            value = self._values.get(block_hash)
            if value is None or not value.valid:
                continue
            self._line36_rounds.add(round)
            self._valid_round = round  # line 43
            self._valid_hash = block_hash  # line 42
            self._log_value(block_hash, value, out)
            if self._step == Step.PREVOTE:  # line 37
                self._locked_round = round  # line 39
                self._locked_hash = block_hash  # line 38
                self._cast_vote(VoteType.PRECOMMIT, block_hash, out)  # line 40
                self._step = Step.PRECOMMIT  # line 41
            return True
        return False

    def _upon_line_44(self, out: list[Effect]) -> bool:
        """Lines 44-46: prevotes of a quorum for nil: precommit nil."""
        if self._step != Step.PREVOTE or not self._keeper.is_quorum_for(
            self._round, VoteType.PREVOTE, ZERO_HASH
        ):
            return False
        self._cast_vote(VoteType.PRECOMMIT, ZERO_HASH, out)  # line 45
        self._step = Step.PRECOMMIT  # line 46
        return True

    def _upon_line_47(self, now_ms: int, out: list[Effect]) -> bool:
        """Lines 47-48: precommits of a quorum, any value: schedule timeoutPrecommit."""
        round = self._round
        if round in self._precommit_timeout_rounds or not self._keeper.is_quorum_any(
            round, VoteType.PRECOMMIT
        ):
            return False
        self._precommit_timeout_rounds.add(round)
        timeout_ms = compute_timeout_ms(self._params, TimeoutStep.PRECOMMIT, round)
        self._schedule(TimeoutStep.PRECOMMIT, now_ms + timeout_ms, out)
        return True

    # -------------------------------------------------------------------- WAL

    def _log_value(self, block_hash: bytes, value: _Value, out: list[Effect]) -> None:
        """Log the body of a locked or valid value once per height."""
        if block_hash in self._logged_values:
            return
        self._logged_values.add(block_hash)
        data = self._app.encode_block(value.block_value)
        out.append(PersistWal(WalValue(self._ctx.height, block_hash, value.timestamp_ms, data)))

    def _persist_state(self, out: list[Effect]) -> None:
        """Log the round state when it changed since the last record."""
        if self._decided or not self._started:
            return
        state = WalRoundState(
            height=self._ctx.height,
            round=self._round,
            step=int(self._step),
            locked_round=self._locked_round,
            locked_hash=self._locked_hash,
            valid_round=self._valid_round,
            valid_hash=self._valid_hash,
        )
        if state != self._last_persisted:
            self._last_persisted = state
            out.append(PersistWal(state))

    def _decode_logged_block(self, data: bytes, block_hash: bytes) -> object:
        try:
            block_value = self._app.decode_block(data)
        except DecodeError as exc:
            raise InvalidWal(REJECT_WAL_BLOCK, f"logged block does not decode: {exc}") from None
        if self._app.block_hash(block_value) != block_hash:
            raise InvalidWal(REJECT_WAL_BLOCK, f"logged block is not block {block_hash.hex()}")
        return block_value

    def _apply_recovery(self, recovery: WalRecovery) -> None:
        """Load what the log says: signed messages, values, then the round state.

        The round is at least that of every signed message, the step at least
        the one implied by this round's signed votes, and the lock at least
        the one implied by this node's non-nil precommits (a precommit for v
        in round r is a lock on v in round r, line 36-40).
        """
        for wal_value in recovery.values.values():
            block_value = self._decode_logged_block(wal_value.block, wal_value.block_hash)
            self._values[wal_value.block_hash] = _Value(block_value, wal_value.timestamp_ms, True)
            self._logged_values.add(wal_value.block_hash)
        for round, wal_proposal in recovery.proposals.items():
            proposal = wal_proposal.proposal
            block_value = self._decode_logged_block(wal_proposal.block, proposal.block_hash)
            self._own_proposals[round] = (proposal, block_value)
            proposer_index = self._index_by_key.get(proposal.proposer)
            if proposer_index is not None:
                self._store_proposal(proposal, block_value, proposer_index, valid=True, timely=True)
        for slot, vote in recovery.votes.items():
            self._own_votes[slot] = vote
            if self._own_index is not None:
                self._keeper.add_vote(self._own_index, vote)
        state = recovery.round_state
        if state is not None:
            self._round = state.round
            self._step = Step(state.step)
            self._locked_round, self._locked_hash = state.locked_round, state.locked_hash
            self._valid_round, self._valid_hash = state.valid_round, state.valid_hash
        signed_rounds = [round for round, _ in self._own_votes] + list(self._own_proposals)
        highest = max(signed_rounds, default=-1)
        if highest > self._round:
            self._round, self._step = highest, Step.PROPOSE
        if (self._round, VoteType.PRECOMMIT) in self._own_votes:
            self._step = Step.PRECOMMIT
        elif (self._round, VoteType.PREVOTE) in self._own_votes:
            self._step = max(self._step, Step.PREVOTE)
        for (round, vote_type), vote in self._own_votes.items():
            if (
                vote_type == VoteType.PRECOMMIT
                and vote.block_hash != ZERO_HASH
                and round > self._locked_round
            ):
                self._locked_round, self._locked_hash = round, vote.block_hash
        if self._locked_round > self._valid_round:
            self._valid_round, self._valid_hash = self._locked_round, self._locked_hash
        if self._valid_round >= 0 and self._valid_hash not in self._values:
            self._valid_round, self._valid_hash = -1, ZERO_HASH
        self._recovered = bool(
            state is not None or recovery.votes or recovery.proposals or recovery.values
        )

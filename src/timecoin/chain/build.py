"""Assembling blocks: which transactions go in, and the complete block.

`select_block_transactions` is the one function that admits transactions
into blocks: whatever the source of the candidates (mempool, final
transactions), a block contains only what it keeps. `build_block` adds the
coinbase and computes every header field, running the same state transition
as `validate_block`, so a block it returns is valid by construction.
`assemble_block` is what a proposer calls: epoch reports first, then the
transactions within the space the rest of the block leaves, then
`build_block`.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence

from msgspec.structs import replace

from timecoin.chain import errors
from timecoin.chain.certificate import Verifier
from timecoin.chain.finality import (
    pack_epoch_reports,
    select_epoch_reports,
    select_report_quorum,
)
from timecoin.chain.state import ChainState, voting_set_at
from timecoin.chain.validate import (
    AppliedBlock,
    FinalityProofLookup,
    VotingSetLookup,
    _applied_block,
    _are_reports_due,
    _check_block,
    _check_lock_proof,
    _process_block,
)
from timecoin.crypto import address_from_public_key, merkle_root
from timecoin.encoding import encode
from timecoin.ledger import (
    BatchVerify,
    CachedUtxoView,
    SignatureCache,
    UtxoView,
    check_transaction,
    compute_tx_size,
    validate_transaction,
)
from timecoin.masternode import (
    compute_max_reward_outputs,
    compute_reward_outputs,
    get_entry,
    get_proposer_reward_address,
    next_voting_set_hash,
    process_block_registry,
)
from timecoin.params import MAX_MONEY, ChainParams
from timecoin.types import (
    BLOCK_VERSION,
    MAX_TXVOTE_BATCH_TXIDS,
    TX_VERSION,
    ZERO_HASH,
    AttestedHeartbeat,
    Block,
    BlockHeader,
    Certificate,
    Coin,
    CommitSignature,
    DuplicateProposalEvidence,
    EpochReport,
    Evidence,
    InputProof,
    InvalidBlock,
    InvalidTransaction,
    OutPoint,
    PackedReport,
    Proposal,
    ReportEntry,
    Transaction,
    TxOutput,
    TxVote,
    TxVoteEquivocationEvidence,
    compute_attestations_hash,
    compute_certificate_hash,
    compute_evidence_hash,
    compute_reports_hash,
    compute_txid,
    compute_witness_hash,
    is_quorum,
)
from timecoin.types.finality import MAX_INPUT_BRANCH, MAX_TXVOTE_BRANCH

__all__ = [
    "assemble_block",
    "build_block",
    "compute_block_overhead_bytes",
    "measure_block_overhead_bytes",
    "select_block_transactions",
]

_MAX_U32 = 0xFFFF_FFFF
_MAX_U64 = 2**63 - 1


def compute_block_overhead_bytes(params: ChainParams) -> int:
    """An upper bound on the encoded size of a block without its non-coinbase
    transactions, attestations and epoch reports: header, coinbase, a
    certificate signed by `max_voters` voters and `max_block_evidence`
    evidence items of the largest kind.

    `select_block_transactions` keeps the encoded size of the transactions
    it selects within `max_block_bytes` minus this bound unless told
    otherwise (`reserved_bytes`); `assemble_block` measures the actual
    parts instead (`measure_block_overhead_bytes`), attestations and
    reports included.
    """
    hash32 = b"\xff" * 32
    key = b"\xff" * 32
    signature = b"\xff" * 64
    certificate = Certificate(
        height=_MAX_U64,
        round=_MAX_U32,
        block_hash=hash32,
        signatures=[
            CommitSignature(voter_index=0xFFFF, signature=signature)
            for _ in range(params.max_voters)
        ],
    )
    proposal = Proposal(
        height=_MAX_U64,
        round=_MAX_U32,
        pol_round=_MAX_U32,
        block_hash=hash32,
        timestamp_ms=_MAX_U64,
        proposer=key,
        signature=signature,
    )
    tx_vote = TxVote(
        voter=key,
        epoch=_MAX_U64,
        root=hash32,
        count=MAX_TXVOTE_BATCH_TXIDS,
        signature=signature,
        txid=hash32,
        inputs_root=hash32,
        index=_MAX_U32,
        branch=[hash32] * MAX_TXVOTE_BRANCH,
    )
    input_proof = InputProof(index=_MAX_U32, count=_MAX_U32, branch=[hash32] * MAX_INPUT_BRANCH)
    kinds: tuple[Evidence, ...] = (
        DuplicateProposalEvidence(proposal_a=proposal, proposal_b=proposal),
        TxVoteEquivocationEvidence(
            outpoint=OutPoint(txid=hash32, index=_MAX_U32),
            vote_a=tx_vote,
            input_a=input_proof,
            vote_b=tx_vote,
            input_b=input_proof,
        ),
    )
    largest = max(kinds, key=lambda item: len(encode(item)))
    evidence: list[Evidence] = [largest] * params.sizes.max_block_evidence
    return measure_block_overhead_bytes(params, prev_certificate=certificate, evidence=evidence)


def measure_block_overhead_bytes(
    params: ChainParams,
    *,
    prev_certificate: Certificate | None,
    evidence: Sequence[Evidence] = (),
    attestations: Sequence[AttestedHeartbeat] = (),
    report_entries: Sequence[ReportEntry] = (),
    reports: Sequence[PackedReport] = (),
    reported_transactions: Sequence[Transaction] = (),
) -> int:
    """An upper bound on the encoded size of a block with exactly these
    parts and no non-coinbase transactions: they are encoded as given; the
    header and the coinbase at their largest (every integer at its widest,
    `compute_max_reward_outputs` outputs of the widest amount); the
    transaction list's own array header at its largest (5 bytes), so each
    transaction then adds exactly its own encoded size.

    Pass it as `select_block_transactions(..., reserved_bytes=)`: the block
    `build_block` assembles from the selected transactions and these parts
    is never oversized.
    """
    hash32 = b"\xff" * 32
    key = b"\xff" * 32
    header = BlockHeader(
        version=BLOCK_VERSION,
        chain_id=_MAX_U32,
        height=_MAX_U64,
        epoch=_MAX_U64,
        prev_hash=hash32,
        timestamp_ms=_MAX_U64,
        proposer=key,
        tx_root=hash32,
        witness_root=hash32,
        prev_certificate_hash=hash32,
        evidence_hash=hash32,
        attestations_hash=hash32,
        utxo_commitment=hash32,
        next_voting_set_hash=hash32,
    )
    widest_output = TxOutput(amount=MAX_MONEY, address=b"\xff" * 20)
    coinbase = _coinbase(_MAX_U64, [widest_output] * compute_max_reward_outputs(params))
    # The transaction list's own array header is counted here at its largest
    # (5 bytes); each selected transaction then adds exactly its own size.
    empty = Block(
        header=header,
        transactions=[coinbase],
        prev_certificate=prev_certificate,
        evidence=list(evidence),
        attestations=list(attestations),
        report_entries=list(report_entries),
        reports=list(reports),
        reported_transactions=list(reported_transactions),
    )
    return len(encode(empty)) + 4


def select_block_transactions(
    candidates: Iterable[Transaction],
    state: ChainState,
    view: UtxoView,
    *,
    max_count: int | None = None,
    sig_cache: SignatureCache | None = None,
    final_txids: Container[bytes] | None = None,
    finality_proof_of: FinalityProofLookup | None = None,
    voting_set_of_epoch: VotingSetLookup | None = None,
    verifier: Verifier | None = None,
    reserved_bytes: int | None = None,
) -> list[Transaction]:
    """The candidates, in their order, that a block after `state`'s tip may contain.

    A candidate is kept when it passes `check_transaction` and
    `validate_transaction` against the UTXO set as changed by the candidates
    kept before it (so no two kept transactions conflict and none spends a
    coin twice), its registry changes are valid after theirs, and it fits:
    at most `max_block_transactions - 1` transactions (one place is the
    coinbase's) and at most `max_count`, and their encoded sizes within
    `max_block_bytes - reserved_bytes` (by default
    `compute_block_overhead_bytes(params)`, which leaves no room for
    attestations or reports: `assemble_block` measures them). Every other
    candidate is skipped (a coinbase, a repeat, an invalid or conflicting
    transaction, one that does not fit, one spending an outpoint
    reported-locked to another txid, one spending an outpoint
    reported-locked to none without a finality proof held); selection
    goes on with the next.

    A transaction spending a reported-locked outpoint is kept as
    `validate_block` admits it (ADR 0004): it must be the locked txid, or
    the lock must be *none* (conflicting reports); with
    `finality_proof_of`, its finality proof must be held and valid
    against its epoch's voting set. A none-locked outpoint is never
    spendable without `finality_proof_of` (no proof can be checked).

    Parameters:
        candidates: the transactions on offer, in order of preference.
        state: the chain state the block will follow.
        view: the UTXO set of that state (read only).
        max_count: an optional lower cap on the number kept.
        sig_cache: signatures found in it are not verified again; verified
            ones are added (pass the same cache to `build_block` to verify
            each signature once).
        final_txids: when given, only candidates whose txid it contains are
            kept: blocks admit only final transactions (the node passes the
            txids whose finality proofs it holds; docs/spec/finality.md).
        finality_proof_of, voting_set_of_epoch: as for `validate_block`: the
            finality proofs held, checked for transactions spending
            reported-locked outpoints (the only way to spend a none lock).
        verifier: the signature rule the proofs are checked with; without
            it a held proof is trusted (the caller verified it on receipt)
            and `build_block` checks it again.
        reserved_bytes: the encoded size of the block without its
            non-coinbase transactions (`measure_block_overhead_bytes`);
            default `compute_block_overhead_bytes(params)`.

    Returns:
        The kept transactions, in candidate order.

    Cost: one validation per candidate; a candidate with a masternode
    payload or spending a masternode collateral also re-runs the registry
    rules over the registry transactions kept before it.
    """
    params = state.params
    height = state.height + 1
    limit = params.sizes.max_block_transactions - 1
    if max_count is not None:
        limit = min(limit, max_count)
    if reserved_bytes is None:
        reserved_bytes = compute_block_overhead_bytes(params)
    budget_bytes = params.sizes.max_block_bytes - reserved_bytes
    overlay = CachedUtxoView(view)
    kept: list[Transaction] = []
    kept_txids: set[bytes] = set()
    registry_txs: list[Transaction] = []
    registry_txids: list[bytes] = []
    registered_here: set[bytes] = set()
    locks = state.reported_locks
    for tx in candidates:
        if len(kept) >= limit:
            break
        if tx.is_coinbase:
            continue
        size_bytes = compute_tx_size(tx)
        if size_bytes > budget_bytes:
            continue
        txid = compute_txid(tx)
        if txid in kept_txids or (final_txids is not None and txid not in final_txids):
            continue
        if locks and not _may_spend_locks(
            tx, txid, state, verifier, finality_proof_of, voting_set_of_epoch
        ):
            continue
        try:
            check_transaction(tx, params, size_bytes=size_bytes)
            validate_transaction(
                tx, txid, overlay, params, height, sig_cache=sig_cache, size_bytes=size_bytes
            )
        except InvalidTransaction:
            continue
        if _touches_registry(tx, state, registered_here):
            try:
                process_block_registry(
                    state.registry,
                    height,
                    state.block_hash,
                    [*registry_txs, tx],
                    [*registry_txids, txid],
                    (),
                    params,
                )
            except InvalidTransaction:
                continue
            registry_txs.append(tx)
            registry_txids.append(txid)
            if tx.payload is not None:
                registered_here.add(txid)
        for txin in tx.inputs:
            overlay.spend_coin(txin.prevout)
        for index, txout in enumerate(tx.outputs):
            overlay.add_coin(
                OutPoint(txid=txid, index=index),
                Coin(amount=txout.amount, address=txout.address, height=height),
            )
        kept.append(tx)
        kept_txids.add(txid)
        budget_bytes -= size_bytes
    return kept


def assemble_block(
    state: ChainState,
    view: UtxoView,
    candidates: Iterable[Transaction],
    *,
    timestamp_ms: int,
    proposer: bytes,
    prev_certificate: Certificate | None,
    verifier: Verifier,
    evidence: Sequence[Evidence] = (),
    attestations: Sequence[AttestedHeartbeat] = (),
    reports: Iterable[EpochReport] = (),
    reported_transactions: Iterable[Transaction] = (),
    max_count: int | None = None,
    final_txids: Container[bytes] | None = None,
    finality_proof_of: FinalityProofLookup | None = None,
    voting_set_of_epoch: VotingSetLookup | None = None,
    verify_batch: BatchVerify | None = None,
    sig_cache: SignatureCache | None = None,
) -> AppliedBlock:
    """A proposer's block after `state`'s tip: everything but the
    transactions first, then as many candidates as the remaining space
    holds, then `build_block`. The one way the node and the simulator
    propose.

    1. At an epoch's last height (rule active): the valid ones among
       `reports` (`select_epoch_reports` against `view`, the tip's UTXO
       set), of which the cheapest quorum (`select_report_quorum`), and the
       bodies they need from `reported_transactions`. Selected against the
       tip, the bodies are a superset of those the block will carry: its
       own transactions can only make entries dead.
    2. The encoded size of the block without its transactions, with these
       reports packed, `evidence`, `attestations` and `prev_certificate`
       as given (`measure_block_overhead_bytes`), is taken off
       `max_block_bytes`.
    3. `select_block_transactions(candidates, ..., reserved_bytes=)` with
       `max_count`, `final_txids`, `finality_proof_of` and
       `voting_set_of_epoch` (held proofs are trusted there and checked by
       `build_block`).
    4. `build_block` with those transactions and the chosen reports and
       bodies: it is never oversized.

    Parameters:
        state, view: the chain state the block follows and its UTXO set
            (read only).
        candidates: transactions on offer, in order of preference (the
            final transactions not yet in a block).
        timestamp_ms, proposer, prev_certificate, verifier, evidence,
            attestations, verify_batch, sig_cache, finality_proof_of,
            voting_set_of_epoch: as for `build_block`.
        reports: the epoch reports received (any order; used only at an
            epoch's last height).
        reported_transactions: bodies the proposer holds for them.
        max_count, final_txids: as for `select_block_transactions`.

    Returns:
        The `AppliedBlock` of the new block.

    Raises:
        InvalidBlock: insufficient-reports at an epoch's last height while
            the valid reports do not hold more than 2/3 of the outgoing
            weight (checked first, before any transaction is selected);
            oversized-block when the given parts alone exceed
            `max_block_bytes` (retry with fewer attestations or evidence);
            any code of `build_block`.
    """
    params = state.params
    height = state.height + 1
    chosen: list[EpochReport] = []
    bodies: list[Transaction] = []
    if _are_reports_due(height, params):
        voting_set = voting_set_at(state, height)
        if voting_set is None:
            raise AssertionError(f"chain state at {state.height} holds no voting set for {height}")
        held = list(reported_transactions)

        outgoing = voting_set

        def select(offered: Iterable[EpochReport]) -> tuple[list[EpochReport], list[Transaction]]:
            return select_epoch_reports(
                offered,
                held,
                outgoing,
                state.block_hash,
                view,
                params,
                height,
                verifier,
                sig_cache=sig_cache,
            )

        valid, _ = select(reports)
        quorum = select_report_quorum(valid, voting_set)
        weight = sum(
            voter.weight
            for voter in voting_set.voters
            if voter.operator_key in {report.voter for report in quorum}
        )
        if not is_quorum(weight, voting_set.total_weight):
            raise InvalidBlock(
                errors.REJECT_INSUFFICIENT_REPORTS,
                f"valid reports of weight {weight} of {voting_set.total_weight}, expected "
                "more than 2/3",
            )
        chosen, bodies = select(quorum)
    report_entries, packed_reports = pack_epoch_reports(chosen)
    reserved_bytes = measure_block_overhead_bytes(
        params,
        prev_certificate=prev_certificate,
        evidence=evidence,
        attestations=attestations,
        report_entries=report_entries,
        reports=packed_reports,
        reported_transactions=bodies,
    )
    if reserved_bytes > params.sizes.max_block_bytes:
        raise InvalidBlock(
            errors.REJECT_OVERSIZED_BLOCK,
            f"block without transactions: expected at most {params.sizes.max_block_bytes} "
            f"bytes, got {reserved_bytes} ({len(attestations)} attestations, "
            f"{len(evidence)} evidence, {len(chosen)} reports of {len(report_entries)} "
            f"entries, {len(bodies)} reported transactions)",
        )
    transactions = select_block_transactions(
        candidates,
        state,
        view,
        max_count=max_count,
        sig_cache=sig_cache,
        final_txids=final_txids,
        finality_proof_of=finality_proof_of,
        voting_set_of_epoch=voting_set_of_epoch,
        reserved_bytes=reserved_bytes,
    )
    return build_block(
        state,
        view,
        transactions,
        timestamp_ms=timestamp_ms,
        proposer=proposer,
        prev_certificate=prev_certificate,
        evidence=evidence,
        attestations=attestations,
        verifier=verifier,
        verify_batch=verify_batch,
        sig_cache=sig_cache,
        reports=chosen,
        reported_transactions=bodies,
        finality_proof_of=finality_proof_of,
        voting_set_of_epoch=voting_set_of_epoch,
    )


def build_block(
    state: ChainState,
    view: UtxoView,
    transactions: Sequence[Transaction],
    *,
    timestamp_ms: int,
    proposer: bytes,
    prev_certificate: Certificate | None,
    evidence: Sequence[Evidence] = (),
    attestations: Sequence[AttestedHeartbeat] = (),
    verifier: Verifier,
    verify_batch: BatchVerify | None = None,
    sig_cache: SignatureCache | None = None,
    reports: Iterable[EpochReport] = (),
    reported_transactions: Iterable[Transaction] = (),
    finality_proof_of: FinalityProofLookup | None = None,
    voting_set_of_epoch: VotingSetLookup | None = None,
) -> AppliedBlock:
    """Assemble the block after `state`'s tip, complete and valid, and apply it.

    The block holds a coinbase (`lock_time` = height) paying the subsidy
    plus the fees of `transactions` exactly as `compute_reward_outputs`
    says (masternodes drawn by reward weight among the eligible ones; the
    proposer's masternode when none is eligible; docs/spec/rewards.md), then
    `transactions`. Every header field is computed: height, epoch, previous
    hash, roots and hashes of the body, and the UTXO and next voting set
    commitments from the same state transition `validate_block` runs, which
    also checks every rule. At an epoch's last height the block carries the
    valid ones among `reports` and the bodies they need from
    `reported_transactions` (`select_epoch_reports`: an invalid report does
    not count); their weight must exceed 2/3 of the outgoing voting set's.

    Parameters:
        state: the chain state the block follows.
        view: the UTXO set of that state (read only).
        transactions: the non-coinbase transactions, in order; normally the
            result of `select_block_transactions`.
        timestamp_ms: the header timestamp.
        proposer: the proposer's operator key.
        prev_certificate: the certificate of the tip (None at height 1).
        evidence: evidence to include.
        attestations: attested heartbeats, sorted by masternode id and
            valid (`select_next_block_heartbeats` returns such).
        verifier: the consensus signature rule (certificate, evidence,
            heartbeats).
        verify_batch, sig_cache: as for `validate_block`.
        reports: the epoch reports received (used only at an epoch's last
            height; any order, invalid ones are left out).
        reported_transactions: bodies the proposer holds for them (final,
            voted or pooled transactions; only the needed ones are carried).
        finality_proof_of, voting_set_of_epoch: as for `validate_block`
            (transactions spending reported-locked outpoints).

    Returns:
        The `AppliedBlock` of the new block.

    Raises:
        InvalidBlock: the inputs do not make a valid block (the code of the
            broken rule, as `validate_block` reports it), e.g.
            insufficient-reports at an epoch's last height when the valid
            reports offered do not hold more than 2/3 of the weight.
    """
    params = state.params
    height = state.height + 1
    fees = _compute_fees(transactions, view)
    reward_outputs = compute_reward_outputs(
        state.registry, height, state.block_hash, fees, _reward_address(state, proposer), params
    )
    coinbase = _coinbase(height, reward_outputs)
    body = [coinbase, *transactions]
    header = BlockHeader(
        version=BLOCK_VERSION,
        chain_id=params.chain_id,
        height=height,
        epoch=params.epoch_of(height),
        prev_hash=state.block_hash,
        timestamp_ms=timestamp_ms,
        proposer=proposer,
        tx_root=merkle_root([compute_txid(tx) for tx in body]),
        witness_root=merkle_root([compute_witness_hash(tx) for tx in body]),
        prev_certificate_hash=compute_certificate_hash(prev_certificate),
        evidence_hash=compute_evidence_hash(evidence),
        attestations_hash=compute_attestations_hash(attestations),
        # Filled in below from the state transition; the transition does not
        # read these two fields.
        utxo_commitment=ZERO_HASH,
        next_voting_set_hash=ZERO_HASH,
    )
    draft = Block(
        header=header,
        transactions=body,
        prev_certificate=prev_certificate,
        evidence=list(evidence),
        attestations=list(attestations),
    )
    txids = _check_block(draft, params)
    transition = _process_block(
        draft,
        state,
        view,
        txids,
        verifier=verifier,
        verify_batch=verify_batch,
        sig_cache=sig_cache,
        finality_proof_of=finality_proof_of,
        voting_set_of_epoch=voting_set_of_epoch,
        offered_reports=(reports, reported_transactions),
    )
    report_entries, packed_reports = pack_epoch_reports(transition.reports)
    final_header = replace(
        header,
        utxo_commitment=transition.utxo_state.digest(),
        next_voting_set_hash=next_voting_set_hash(transition.registry),
        reports_hash=compute_reports_hash(
            report_entries, packed_reports, transition.reported_transactions
        ),
    )
    block = Block(
        header=final_header,
        transactions=body,
        prev_certificate=prev_certificate,
        evidence=list(evidence),
        attestations=list(attestations),
        report_entries=report_entries,
        reports=packed_reports,
        reported_transactions=transition.reported_transactions,
    )
    if transition.reports:
        _check_block(block, params)  # the carried reports count towards the size limit
    return _applied_block(block, state, transition)


def _coinbase(height: int, outputs: Sequence[TxOutput]) -> Transaction:
    return Transaction(
        version=TX_VERSION,
        inputs=[],
        outputs=list(outputs),
        lock_time=height,
        payload=None,
        signatures=[],
        owner_signature=None,
    )


def _may_spend_locks(
    tx: Transaction,
    txid: bytes,
    state: ChainState,
    verifier: Verifier | None,
    finality_proof_of: FinalityProofLookup | None,
    voting_set_of_epoch: VotingSetLookup | None,
) -> bool:
    """Whether `tx` may spend the reported-locked outpoints among its inputs
    (ADR 0004, the rule `validate_block` applies): none locked to another
    txid and, when one is locked, a valid finality proof held; a none lock
    is spendable only with a proof."""
    locks = state.reported_locks
    spends_locked = False
    locked_to_none = False
    for txin in tx.inputs:
        outpoint = txin.prevout
        if outpoint not in locks:
            continue
        spends_locked = True
        locked_txid = locks[outpoint]
        if locked_txid is None:
            locked_to_none = True
        elif locked_txid != txid:
            return False
    if not spends_locked:
        return True
    if finality_proof_of is None:
        return not locked_to_none
    if verifier is None:
        return finality_proof_of(txid) is not None
    try:
        _check_lock_proof(0, tx, txid, state, verifier, finality_proof_of, voting_set_of_epoch)
    except InvalidBlock:
        return False
    return True


def _touches_registry(tx: Transaction, state: ChainState, registered_here: set[bytes]) -> bool:
    """Whether `tx` has a payload or may spend a masternode's collateral (an
    output of a registration, whose txid is the masternode id)."""
    if tx.payload is not None:
        return True
    for txin in tx.inputs:
        masternode_id = txin.prevout.txid
        if masternode_id in registered_here or get_entry(state.registry, masternode_id) is not None:
            return True
    return False


def _reward_address(state: ChainState, proposer: bytes) -> bytes:
    """The fallback reward address: that of the proposer's masternode."""
    voting_set = voting_set_at(state, state.height + 1)
    if voting_set is None:
        return address_from_public_key(proposer)
    return get_proposer_reward_address(state.registry, voting_set, proposer)


def _compute_fees(transactions: Sequence[Transaction], view: UtxoView) -> int:
    """Sum of inputs minus sum of outputs over `transactions`, applied in order.

    Only the coinbase amount depends on it; the transactions' validity is
    checked by the state transition, which recomputes the fees.
    """
    overlay = CachedUtxoView(view)
    fees = 0
    for tx in transactions:
        txid = compute_txid(tx)
        for txin in tx.inputs:
            coin = overlay.spend_coin(txin.prevout)
            if coin is not None:
                fees += coin.amount
        for index, txout in enumerate(tx.outputs):
            fees -= txout.amount
            overlay.add_coin(
                OutPoint(txid=txid, index=index),
                Coin(amount=txout.amount, address=txout.address, height=0),
            )
    return max(fees, 0)

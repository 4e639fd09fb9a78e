"""Whole-block validation: stateless sanity first, then the contextual rules
and the state transition.

`check_block` needs only the block and the parameters and is cheap: run it
before anything that reads state. `validate_block` runs it, then checks the
block against the chain state and the UTXO set (header context, the
previous block's certificate, evidence, transactions, registry, coinbase)
and finally the header's two state commitments. It returns the
`AppliedBlock`: the new state and everything storage needs to write and to
undo the block. Nothing passed in is changed. docs/spec/chain.md lists every
rule in order.

`build_block` (timecoin.chain.build) runs the same state transition
(`_process_block`) to fill in the commitments of a block it assembles, so a
built block passes `validate_block` by construction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import replace as replace_dataclass

from msgspec.structs import replace as replace_struct

from timecoin.chain import errors
from timecoin.chain.certificate import Verifier, verify_certificate
from timecoin.chain.evidence import get_evidence_height, verify_evidence
from timecoin.chain.finality import (
    compute_reported_locks,
    encode_lock_element,
    select_epoch_reports,
    unpack_epoch_reports,
    verify_finality_proof,
)
from timecoin.chain.state import ChainState, voting_set_at
from timecoin.crypto import MuHash3072, merkle_root
from timecoin.encoding import encode
from timecoin.ledger import BatchVerify, SignatureCache, UtxoDelta, UtxoView, connect_block
from timecoin.ledger import errors as ledger_errors
from timecoin.masternode import (
    RegistryState,
    RegistryUndo,
    check_block_heartbeats,
    compute_reward_outputs,
    get_entry,
    get_proposer_reward_address,
    is_last_height_of_epoch,
    next_voting_set_hash,
    process_block_registry,
)
from timecoin.params import ChainParams
from timecoin.types import (
    BLOCK_VERSION,
    Block,
    BlockUndo,
    Coin,
    EpochReport,
    FinalityProof,
    InvalidBlock,
    InvalidTransaction,
    InvalidVote,
    OutPoint,
    ReportedLock,
    Transaction,
    TxOutput,
    TxVoteEquivocationEvidence,
    VotingSet,
    compute_attestations_hash,
    compute_block_hash,
    compute_certificate_hash,
    compute_evidence_hash,
    compute_reports_hash,
    compute_txid,
    compute_witness_hash,
    encode_outpoint_key,
)

__all__ = [
    "AppliedBlock",
    "FinalityProofLookup",
    "VotingSetLookup",
    "check_block",
    "validate_block",
]

FinalityProofLookup = Callable[[bytes], FinalityProof | None]
"""A txid -> the finality proof the caller holds for it, or None."""
VotingSetLookup = Callable[[int], VotingSet | None]
"""An epoch -> its voting set, or None when the caller does not hold it."""


@dataclass(frozen=True, slots=True)
class AppliedBlock:
    """A valid block and the result of applying it to the chain state.

    - `block`, `block_hash`: the block and its hash;
    - `state_after`: the chain state with this block as the tip;
    - `undo`: the ledger's undo record (spent coins, UTXO state before);
    - `delta`: the UTXO change storage writes in one atomic batch;
    - `registry_undo`: the registry's undo record;
    - `fees`: the sum of the fees of the block's non-coinbase transactions.
    """

    block: Block
    block_hash: bytes
    state_after: ChainState
    undo: BlockUndo
    delta: UtxoDelta
    registry_undo: RegistryUndo
    fees: int


@dataclass(frozen=True, slots=True)
class _Transition:
    """What the contextual rules produce, before the header commitments are checked."""

    utxo_state: MuHash3072
    undo: BlockUndo
    delta: UtxoDelta
    fees: int
    registry: RegistryState
    registry_undo: RegistryUndo
    reported_locks: Mapping[OutPoint, bytes | None]
    reports: list[EpochReport]
    reported_transactions: list[Transaction]


def check_block(block: Block, params: ChainParams) -> None:
    """Check the rules of a block (after genesis) that need no state.

    Cheap; run it first. In order: version, chain id, counts and encoded
    size within `params.sizes`, the coinbase (first, only
    first, `lock_time` equal to the height), a previous certificate exactly
    from height 2 on, and the header's commitments to the body (tx and
    witness roots, certificate, evidence and attestations hashes). The
    transactions' own rules are checked by `validate_block`.

    Parameters:
        block: the block, as decoded.
        params: the chain parameters.

    Raises:
        InvalidBlock: bad-block-version, wrong-chain-id,
            too-many-transactions, too-many-evidence, too-many-attestations,
            oversized-block, missing-coinbase,
            coinbase-lock-time, coinbase-position, unexpected-certificate,
            missing-certificate, bad-tx-root, bad-witness-root,
            bad-certificate-hash, bad-evidence-hash, bad-attestations-hash,
            bad-reports-hash (the last six mean the body does not match the
            header: `errors.BODY_MISMATCH_CODES`).
    """
    _check_block(block, params)


def validate_block(
    block: Block,
    state: ChainState,
    view: UtxoView,
    *,
    verifier: Verifier,
    verify_batch: BatchVerify | None = None,
    sig_cache: SignatureCache | None = None,
    has_finality_proof: Callable[[bytes], bool] | None = None,
    finality_proof_of: FinalityProofLookup | None = None,
    voting_set_of_epoch: VotingSetLookup | None = None,
) -> AppliedBlock:
    """Validate `block` as the child of `state`'s tip and return the result of applying it.

    Runs `check_block`, then, in order: the header's height, previous hash,
    epoch and timestamp; that the proposer is a member of the voting set of
    the block's height; the previous block's certificate (from height 2 on)
    against the voting set of height - 1; the evidence; the attested
    heartbeats (`check_block_heartbeats`); the spends of reported-locked
    outpoints (only by the locked txid; with `finality_proof_of`, each
    spending transaction's proof); every transaction (the ledger's
    `connect_block`); the coinbase outputs (exactly
    `compute_reward_outputs`); the registry changes
    (`process_block_registry`, which records the heartbeats); the reported
    locks: those the block spends are released, and at an epoch's last
    height the block's reports (`compute_reported_locks`) create new ones,
    while any other block carries no reports; finally the header's
    `utxo_commitment` (coins and locks) and `next_voting_set_hash` against
    the resulting state. Neither `view` nor `state` is changed.

    Parameters:
        block: the block, as decoded.
        state: the chain state after the block's parent.
        view: the UTXO set after the parent (read only).
        verifier: the consensus signature rule, for the certificate and the
            evidence (`timecoin.crypto.verify` or a caching wrapper).
        verify_batch: when given, all transaction signatures of the block are
            verified in one call of it (e.g. `BatchVerifier.verify_all`).
        sig_cache: transaction signatures found in it are not verified again;
            verified ones are added.
        has_finality_proof: when given (a validator deciding its prevote),
            every non-coinbase transaction's txid must satisfy it: blocks
            admit only final transactions (docs/spec/finality.md), checked
            right after `check_block` (`not-final`). A certified block (sync,
            catch-up) needs no such check: its certificate is the proof.
        finality_proof_of: when given (a validator deciding its prevote), a
            transaction spending a reported-locked outpoint must have a
            proof here, from any epoch, that verifies
            (`verify_finality_proof`) against that epoch's voting set
            (`not-final` without one, the proof's code when it fails). A
            certified block needs no such check.
        voting_set_of_epoch: the voting sets of epochs before the previous
            one, for those proofs (the state's registry holds the current
            and previous epochs'; the node keeps older ones by epoch).

    Returns:
        The `AppliedBlock`.

    Raises:
        InvalidBlock: the reject code of the first broken rule: those of
            `check_block`; bad-height, bad-prev-hash, bad-epoch,
            timestamp-too-early, unknown-proposer; a certificate code
            (wrong-height, wrong-block, nil-block, unknown-voter,
            duplicate-voter, unordered-signatures, insufficient-weight,
            bad-signature); future-evidence, stale-evidence,
            duplicate-evidence or an evidence code (bad-vote-type,
            evidence-mismatch, not-conflicting, non-canonical-evidence,
            unknown-voter, bad-signature); a heartbeat code
            (unordered-heartbeats, heartbeat-unknown-masternode,
            heartbeat-inactive-masternode, duplicate-heartbeat,
            stale-heartbeat, unexpected-witness, unordered-attestations,
            too-few-attestations, bad-heartbeat-signature,
            bad-attestation-signature); any transaction code of the
            ledger or the registry; bad-coinbase; bad-utxo-commitment;
            bad-next-voting-set-hash; not-final (with `has_finality_proof`
            or `finality_proof_of`); locked-outpoint (a locked outpoint
            spent by another txid); unexpected-reports (reports before an
            epoch's last height); at the last height non-canonical-report,
            bad-report-selection, unused-report-entry (the packed reports,
            `unpack_epoch_reports`), bad-report, unreported-transaction,
            insufficient-reports.
    """
    txids = _check_block(block, state.params)
    if has_finality_proof is not None:
        for index in range(1, len(txids)):
            if not has_finality_proof(txids[index]):
                raise InvalidBlock(
                    errors.REJECT_NOT_FINAL,
                    f"transaction {index} ({txids[index].hex()}): expected a final "
                    "transaction (a finality proof held), none is held",
                )
    transition = _process_block(
        block,
        state,
        view,
        txids,
        verifier=verifier,
        verify_batch=verify_batch,
        sig_cache=sig_cache,
        finality_proof_of=finality_proof_of,
        voting_set_of_epoch=voting_set_of_epoch,
    )
    header = block.header
    utxo_commitment = transition.utxo_state.digest()
    if header.utxo_commitment != utxo_commitment:
        raise InvalidBlock(
            errors.REJECT_BAD_UTXO_COMMITMENT,
            f"utxo commitment: expected {utxo_commitment.hex()}, "
            f"got {header.utxo_commitment.hex()}",
        )
    voting_set_hash = next_voting_set_hash(transition.registry)
    if header.next_voting_set_hash != voting_set_hash:
        raise InvalidBlock(
            errors.REJECT_BAD_NEXT_VOTING_SET_HASH,
            f"next voting set hash: expected {voting_set_hash.hex()}, "
            f"got {header.next_voting_set_hash.hex()}",
        )
    return _applied_block(block, state, transition)


def _applied_block(block: Block, state: ChainState, transition: _Transition) -> AppliedBlock:
    """The AppliedBlock of a block whose header carries the transition's commitments."""
    header = block.header
    block_hash = compute_block_hash(header)
    state_after = ChainState(
        params=state.params,
        height=header.height,
        block_hash=block_hash,
        header=header,
        registry=transition.registry,
        utxo_state=transition.utxo_state,
        reported_locks=transition.reported_locks,
    )
    return AppliedBlock(
        block=block,
        block_hash=block_hash,
        state_after=state_after,
        undo=transition.undo,
        delta=transition.delta,
        registry_undo=transition.registry_undo,
        fees=transition.fees,
    )


def _check_block(block: Block, params: ChainParams) -> list[bytes]:
    """`check_block`; returns the txids it computed, for the contextual rules."""
    header = block.header
    sizes = params.sizes
    if header.version != BLOCK_VERSION:
        raise InvalidBlock(
            errors.REJECT_BAD_BLOCK_VERSION,
            f"block version: expected {BLOCK_VERSION}, got {header.version}",
        )
    if header.chain_id != params.chain_id:
        raise InvalidBlock(
            errors.REJECT_WRONG_CHAIN_ID,
            f"chain id: expected {params.chain_id:#x}, got {header.chain_id:#x}",
        )
    _check_count(
        ledger_errors.REJECT_TOO_MANY_TRANSACTIONS,
        "transactions",
        len(block.transactions),
        sizes.max_block_transactions,
    )
    _check_count(
        errors.REJECT_TOO_MANY_EVIDENCE, "evidence", len(block.evidence), sizes.max_block_evidence
    )
    _check_count(
        errors.REJECT_TOO_MANY_ATTESTATIONS,
        "attestations",
        len(block.attestations),
        sizes.max_block_attestations,
    )
    size_bytes = len(encode(block))
    if size_bytes > sizes.max_block_bytes:
        raise InvalidBlock(
            errors.REJECT_OVERSIZED_BLOCK,
            f"block size: expected at most {sizes.max_block_bytes} bytes, got {size_bytes}",
        )
    _check_coinbase_shape(block)
    _check_certificate_presence(block)
    return _check_body_commitments(block)


def _check_count(code: str, what: str, count: int, limit: int) -> None:
    if count > limit:
        raise InvalidBlock(code, f"{what}: expected at most {limit}, got {count}")


def _check_coinbase_shape(block: Block) -> None:
    transactions = block.transactions
    height = block.header.height
    if not transactions or not transactions[0].is_coinbase:
        raise InvalidBlock(
            errors.REJECT_MISSING_COINBASE,
            "transaction 0: expected a coinbase (no inputs), "
            + ("the block has no transactions" if not transactions else "got one with inputs"),
        )
    if transactions[0].lock_time != height:
        raise InvalidBlock(
            ledger_errors.REJECT_COINBASE_LOCK_TIME,
            f"coinbase lock time: expected the height {height}, got {transactions[0].lock_time}",
        )
    for index in range(1, len(transactions)):
        if transactions[index].is_coinbase:
            raise InvalidBlock(
                ledger_errors.REJECT_COINBASE_POSITION,
                f"transaction {index}: expected inputs (only the first may be a coinbase), "
                "got none",
            )


def _check_certificate_presence(block: Block) -> None:
    height = block.header.height
    if height <= 1 and block.prev_certificate is not None:
        raise InvalidBlock(
            errors.REJECT_UNEXPECTED_CERTIFICATE,
            f"previous certificate: expected none at height {height} (genesis is not "
            "certified), got one",
        )
    if height >= 2 and block.prev_certificate is None:
        raise InvalidBlock(
            errors.REJECT_MISSING_CERTIFICATE,
            f"previous certificate: expected the certificate of block {height - 1}, got none",
        )


def _check_body_commitments(block: Block) -> list[bytes]:
    header = block.header
    txids = [compute_txid(tx) for tx in block.transactions]
    _require_commitment(errors.REJECT_BAD_TX_ROOT, "tx root", merkle_root(txids), header.tx_root)
    witness_root = merkle_root([compute_witness_hash(tx) for tx in block.transactions])
    _require_commitment(
        errors.REJECT_BAD_WITNESS_ROOT, "witness root", witness_root, header.witness_root
    )
    _require_commitment(
        errors.REJECT_BAD_CERTIFICATE_HASH,
        "previous certificate hash",
        compute_certificate_hash(block.prev_certificate),
        header.prev_certificate_hash,
    )
    _require_commitment(
        errors.REJECT_BAD_EVIDENCE_HASH,
        "evidence hash",
        compute_evidence_hash(block.evidence),
        header.evidence_hash,
    )
    _require_commitment(
        errors.REJECT_BAD_ATTESTATIONS_HASH,
        "attestations hash",
        compute_attestations_hash(block.attestations),
        header.attestations_hash,
    )
    _require_commitment(
        errors.REJECT_BAD_REPORTS_HASH,
        "reports hash",
        compute_reports_hash(block.report_entries, block.reports, block.reported_transactions),
        header.reports_hash,
    )
    return txids


def _require_commitment(code: str, what: str, expected: bytes, got: bytes) -> None:
    if got != expected:
        raise InvalidBlock(code, f"{what}: expected {expected.hex()}, got {got.hex()}")


def _process_block(
    block: Block,
    state: ChainState,
    view: UtxoView,
    txids: list[bytes],
    *,
    verifier: Verifier,
    verify_batch: BatchVerify | None,
    sig_cache: SignatureCache | None,
    finality_proof_of: FinalityProofLookup | None = None,
    voting_set_of_epoch: VotingSetLookup | None = None,
    offered_reports: tuple[Iterable[EpochReport], Iterable[Transaction]] | None = None,
) -> _Transition:
    """Every contextual rule except the header's two state commitments, and
    the resulting state: the one state transition of `validate_block` and
    `build_block`. Assumes `_check_block` passed; `txids` are its result.

    With `offered_reports` (a builder: reports received and bodies held),
    the block's own reports are ignored and the valid offered ones are
    selected (`select_epoch_reports`); the transition returns what it
    used."""
    params = state.params
    header = block.header
    height = state.height + 1
    voting_set = _require_voting_set(state, height)
    _check_header_context(block, state, voting_set)
    _check_prev_certificate(block, state, verifier)
    offenders = _check_evidence(block, state, verifier)
    heartbeats = check_block_heartbeats(
        block.attestations,
        state.registry,
        voting_set,
        height,
        header.prev_hash,
        params.chain_id,
        verifier,
        params,
    )
    _check_locked_spends(block, txids, state, verifier, finality_proof_of, voting_set_of_epoch)
    utxo_state = state.utxo_state.copy()
    connected = connect_block(
        block.transactions,
        height,
        view,
        utxo_state,
        params,
        verify_batch=verify_batch,
        sig_cache=sig_cache,
        txids=txids,
    )
    _check_coinbase_outputs(block, state, voting_set, connected.fees)
    try:
        registry, registry_undo = process_block_registry(
            state.registry,
            height,
            header.prev_hash,
            block.transactions,
            txids,
            offenders,
            params,
            heartbeats=heartbeats,
        )
    except InvalidTransaction as exc:
        raise InvalidBlock(exc.reject_code, f"masternode registry: {exc.message}") from exc
    reports: list[EpochReport] = []
    reported_transactions: list[Transaction] = []
    if not _are_reports_due(height, params):
        if offered_reports is None:
            _check_no_reports(block, voting_set)
    elif offered_reports is None:
        reports = unpack_epoch_reports(
            block.report_entries, block.reports, header.epoch, header.prev_hash
        )
        reported_transactions = block.reported_transactions
    else:
        reports, reported_transactions = select_epoch_reports(
            offered_reports[0],
            offered_reports[1],
            voting_set,
            header.prev_hash,
            _DeltaView(view, connected.delta),
            params,
            height,
            verifier,
            sig_cache=sig_cache,
        )
    released, created, locks = _process_locks(
        state,
        view,
        block,
        connected.delta,
        voting_set,
        reports,
        reported_transactions,
        verifier=verifier,
        sig_cache=sig_cache,
    )
    utxo_state.remove_many(encode_lock_element(lock.outpoint, lock.txid) for lock in released)
    utxo_state.insert_many(encode_lock_element(op, created[op]) for op in created)
    utxo_state.normalize()
    undo = replace_struct(connected.undo, released_locks=released, created_locks=list(created))
    delta = replace_dataclass(
        connected.delta,
        locks_created=created,
        locks_released=[lock.outpoint for lock in released],
    )
    return _Transition(
        utxo_state=utxo_state,
        undo=undo,
        delta=delta,
        fees=connected.fees,
        registry=registry,
        registry_undo=registry_undo,
        reported_locks=locks,
        reports=reports,
        reported_transactions=list(reported_transactions),
    )


def _check_no_reports(block: Block, voting_set: VotingSet) -> None:
    """A block that is not an epoch's last (or before the rule's activation)
    carries no reports."""
    if block.report_entries or block.reports or block.reported_transactions:
        raise InvalidBlock(
            errors.REJECT_UNEXPECTED_REPORTS,
            f"reports: expected none (not the last height of epoch {voting_set.epoch}, or the "
            f"rule not active), got {len(block.reports)} reports, "
            f"{len(block.report_entries)} report entries and "
            f"{len(block.reported_transactions)} transactions",
        )


class _DeltaView:
    """The UTXO set after a block: `base` changed by the block's `delta`."""

    __slots__ = ("_base", "_delta", "_spent")

    def __init__(self, base: UtxoView, delta: UtxoDelta) -> None:
        self._base = base
        self._delta = delta
        self._spent = set(delta.spent)

    def get_coin(self, outpoint: OutPoint) -> Coin | None:
        """The coin at `outpoint` after the block, or None."""
        coin = self._delta.created.get(outpoint)
        if coin is not None:
            return coin
        if outpoint in self._spent:
            return None
        return self._base.get_coin(outpoint)


def _check_locked_spends(
    block: Block,
    txids: Sequence[bytes],
    state: ChainState,
    verifier: Verifier,
    finality_proof_of: FinalityProofLookup | None,
    voting_set_of_epoch: VotingSetLookup | None,
) -> None:
    """A transaction spending a reported-locked outpoint must be its locked
    txid (no transaction may, deterministically, spend a uniquely locked
    outpoint otherwise) and, with `finality_proof_of`, have a finality proof
    from any epoch, checked against that epoch's voting set (ADR 0004)."""
    locks = state.reported_locks
    if not locks:
        return
    for index in range(1, len(block.transactions)):
        tx = block.transactions[index]
        txid = txids[index]
        spends_locked = False
        for txin in tx.inputs:
            outpoint = txin.prevout
            if outpoint not in locks:
                continue
            spends_locked = True
            locked_txid = locks[outpoint]
            if locked_txid is not None and locked_txid != txid:
                raise InvalidBlock(
                    errors.REJECT_LOCKED_OUTPOINT,
                    f"transaction {index} ({txid.hex()}): spends "
                    f"{outpoint.txid.hex()}:{outpoint.index}, reported-locked to "
                    f"{locked_txid.hex()}",
                )
        if spends_locked and finality_proof_of is not None:
            _check_lock_proof(
                index, tx, txid, state, verifier, finality_proof_of, voting_set_of_epoch
            )


def _check_lock_proof(
    index: int,
    tx: Transaction,
    txid: bytes,
    state: ChainState,
    verifier: Verifier,
    finality_proof_of: FinalityProofLookup,
    voting_set_of_epoch: VotingSetLookup | None,
) -> None:
    proof = finality_proof_of(txid)
    if proof is None:
        raise InvalidBlock(
            errors.REJECT_NOT_FINAL,
            f"transaction {index} ({txid.hex()}): spends a reported-locked outpoint, "
            "no finality proof is held",
        )
    voting_set = _voting_set_of_epoch(state, proof.epoch, voting_set_of_epoch)
    if voting_set is None:
        raise InvalidBlock(
            errors.REJECT_NOT_FINAL,
            f"transaction {index} ({txid.hex()}): its finality proof is of epoch "
            f"{proof.epoch}, whose voting set is not held",
        )
    try:
        verify_finality_proof(proof, tx, voting_set, state.params.chain_id, verifier)
    except InvalidVote as exc:
        raise InvalidBlock(
            exc.reject_code, f"transaction {index} ({txid.hex()}) finality proof: {exc.message}"
        ) from exc


def _voting_set_of_epoch(
    state: ChainState, epoch: int, lookup: VotingSetLookup | None
) -> VotingSet | None:
    """The voting set of `epoch`: from the state's registry (current and
    previous epochs), else from `lookup`."""
    params = state.params
    current = params.epoch_of(state.height + 1)
    if epoch <= current:
        voting_set = voting_set_at(state, epoch * params.epoch_length)
        if voting_set is not None and voting_set.epoch == epoch:
            return voting_set
    return None if lookup is None else lookup(epoch)


def _are_reports_due(height: int, params: ChainParams) -> bool:
    """Whether the block at `height` must carry epoch reports: an epoch's
    last height, once the rule is active (`ActivationHeights`)."""
    return is_last_height_of_epoch(height, params) and params.activation.is_epoch_reports_active(
        height
    )


def _process_locks(
    state: ChainState,
    view: UtxoView,
    block: Block,
    delta: UtxoDelta,
    voting_set: VotingSet,
    reports: Sequence[EpochReport],
    reported_transactions: Sequence[Transaction],
    *,
    verifier: Verifier,
    sig_cache: SignatureCache | None,
) -> tuple[list[ReportedLock], dict[OutPoint, bytes | None], Mapping[OutPoint, bytes | None]]:
    """The reported locks the block releases (it spends their outpoints) and
    creates (its reports, at an epoch's last height), and the locks after it.

    A lock may be on an output of a reported transaction that was not yet in
    the chain: it is released by the block spending it, even when that
    block also creates it (the coin is then in neither side of the delta)."""
    params = state.params
    height = state.height + 1
    before = state.reported_locks
    released = [
        ReportedLock(outpoint=txin.prevout, txid=before[txin.prevout])
        for tx in block.transactions
        for txin in tx.inputs
        if txin.prevout in before
    ]
    remaining: Mapping[OutPoint, bytes | None] = before
    if released:
        gone = {lock.outpoint for lock in released}
        remaining = {op: txid for op, txid in before.items() if op not in gone}
    created: dict[OutPoint, bytes | None] = {}
    if _are_reports_due(height, params):
        found = compute_reported_locks(
            reports,
            reported_transactions,
            voting_set,
            state.block_hash,
            _DeltaView(view, delta),
            params,
            height,
            verifier,
            sig_cache=sig_cache,
            existing_locks=remaining,
        )
        created = {op: found[op] for op in sorted(found, key=encode_outpoint_key)}
    if not created:
        return released, created, remaining
    return released, created, {**remaining, **created}


def _check_coinbase_outputs(
    block: Block, state: ChainState, voting_set: VotingSet, fees: int
) -> None:
    """The coinbase pays exactly `compute_reward_outputs` (docs/spec/rewards.md)."""
    registry = state.registry
    proposer_address = get_proposer_reward_address(registry, voting_set, block.header.proposer)
    expected = compute_reward_outputs(
        registry, state.height + 1, block.header.prev_hash, fees, proposer_address, state.params
    )
    outputs = block.transactions[0].outputs
    if outputs != expected:
        raise InvalidBlock(
            errors.REJECT_BAD_COINBASE,
            "coinbase outputs: expected "
            + _describe_outputs(expected)
            + f" (subsidy {state.params.block_subsidy} plus fees {fees}), got "
            + _describe_outputs(outputs),
        )


def _describe_outputs(outputs: Sequence[TxOutput]) -> str:
    return "[" + ", ".join(f"{o.amount} to {o.address.hex()}" for o in outputs) + "]"


def _require_voting_set(state: ChainState, height: int) -> VotingSet:
    voting_set = voting_set_at(state, height)
    if voting_set is None:
        # The registry after block h always holds the sets of h and h + 1.
        raise AssertionError(f"chain state at {state.height} holds no voting set for {height}")
    return voting_set


def _check_header_context(block: Block, state: ChainState, voting_set: VotingSet) -> None:
    header = block.header
    params = state.params
    height = state.height + 1
    if header.height != height:
        raise InvalidBlock(
            errors.REJECT_BAD_HEIGHT, f"height: expected {height}, got {header.height}"
        )
    if header.prev_hash != state.block_hash:
        raise InvalidBlock(
            errors.REJECT_BAD_PREV_HASH,
            f"previous hash: expected {state.block_hash.hex()}, got {header.prev_hash.hex()}",
        )
    epoch = params.epoch_of(height)
    if header.epoch != epoch:
        raise InvalidBlock(
            errors.REJECT_BAD_EPOCH,
            f"epoch of height {height}: expected {epoch}, got {header.epoch}",
        )
    earliest_ms = state.header.timestamp_ms + params.block_interval_ms
    if header.timestamp_ms < earliest_ms:
        raise InvalidBlock(
            errors.REJECT_TIMESTAMP_TOO_EARLY,
            f"timestamp: expected at least {earliest_ms} ms (previous block + "
            f"{params.block_interval_ms} ms), got {header.timestamp_ms}",
        )
    if voting_set.index_of(header.proposer) is None:
        raise InvalidBlock(
            errors.REJECT_UNKNOWN_PROPOSER,
            f"proposer: expected a member of the voting set of epoch {voting_set.epoch}, "
            f"{header.proposer.hex()} is not",
        )


def _check_prev_certificate(block: Block, state: ChainState, verifier: Verifier) -> None:
    certificate = block.prev_certificate
    if certificate is None:
        return  # height 1: `_check_block` allows no certificate only there
    parent_height = state.height
    voting_set = _require_voting_set(state, parent_height)
    try:
        verify_certificate(
            certificate,
            voting_set,
            state.params.chain_id,
            verifier,
            expected_height=parent_height,
            expected_block_hash=block.header.prev_hash,
        )
    except InvalidVote as exc:
        raise InvalidBlock(exc.reject_code, f"previous certificate: {exc.message}") from exc


def _check_evidence(block: Block, state: ChainState, verifier: Verifier) -> list[bytes]:
    """Verify the block's evidence; return the offenders' masternode ids."""
    offenders: list[bytes] = []
    for index, evidence in enumerate(block.evidence):
        evidence_height = get_evidence_height(evidence, state.params)
        # Transaction votes of the block's own epoch exist before its blocks
        # do: their evidence height (the epoch's first height) may be this one.
        latest = (
            state.height + 1 if isinstance(evidence, TxVoteEquivocationEvidence) else state.height
        )
        if evidence_height > latest:
            raise InvalidBlock(
                errors.REJECT_FUTURE_EVIDENCE,
                f"evidence {index}: expected a height of at most {state.height} (before "
                f"this block), got {evidence_height}",
            )
        voting_set = voting_set_at(state, evidence_height)
        if voting_set is None:
            raise InvalidBlock(
                errors.REJECT_STALE_EVIDENCE,
                f"evidence {index}: expected a height in the current or previous epoch, got "
                f"{evidence_height} (epoch {state.params.epoch_of(evidence_height)})",
            )
        try:
            offender = verify_evidence(evidence, voting_set, state.params.chain_id, verifier)
        except InvalidVote as exc:
            raise InvalidBlock(exc.reject_code, f"evidence {index}: {exc.message}") from exc
        masternode_id = offender.masternode_id
        entry = get_entry(state.registry, masternode_id)
        if masternode_id in offenders or (
            entry is not None and entry.banned_from_epoch is not None
        ):
            raise InvalidBlock(
                errors.REJECT_DUPLICATE_EVIDENCE,
                f"evidence {index}: expected a new offender, masternode {masternode_id.hex()} "
                "is already banned or named earlier in the block",
            )
        offenders.append(masternode_id)
    return offenders

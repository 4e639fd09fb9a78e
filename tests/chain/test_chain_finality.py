"""Chain rules of instant finality: blocks admit only final transactions
(selection and the validator's check), and transaction-vote equivocation
evidence is verified and bans its offender."""

from __future__ import annotations

import msgspec
import pytest
from chain_helpers import (
    ALICE,
    ALLOCATION_AMOUNT,
    BOB,
    OPERATORS,
    PARAMS,
    Node,
    allocation,
    transfer,
)

from timecoin.chain import (
    compute_block_overhead_bytes,
    compute_inputs_root,
    compute_reported_locks,
    encode_lock_element,
    get_evidence_height,
    select_block_transactions,
    validate_block,
    verify_evidence,
    voting_set_at,
)
from timecoin.consensus import (
    make_tx_vote,
    make_tx_vote_equivocation_evidence,
    sign_epoch_report,
    sign_tx_vote_batch,
)
from timecoin.crypto import verify
from timecoin.encoding import encode
from timecoin.ledger import encode_utxo_element
from timecoin.masternode import get_entry
from timecoin.types import (
    EpochReport,
    InvalidBlock,
    InvalidVote,
    OutPoint,
    ProofVote,
    ReportEntry,
    Transaction,
    TxVote,
    TxVoteEquivocationEvidence,
    VoteLeaf,
    compute_txid,
)

PAY_A = transfer(allocation(0), ALLOCATION_AMOUNT, ALICE, BOB)
PAY_B = transfer(allocation(1), ALLOCATION_AMOUNT, ALICE, BOB)
RIVAL = transfer(allocation(0), ALLOCATION_AMOUNT, ALICE, ALICE)


def test_selection_keeps_only_final_transactions() -> None:
    node = Node.from_genesis()
    final = {compute_txid(PAY_B)}
    kept = select_block_transactions([PAY_A, PAY_B], node.state, node.view, final_txids=final)
    assert kept == [PAY_B]
    assert select_block_transactions([PAY_A, PAY_B], node.state, node.view) == [PAY_A, PAY_B]


def test_validator_requires_a_proof_for_every_transaction() -> None:
    node = Node.from_genesis()
    block = node.build([PAY_A, PAY_B]).block
    held = {compute_txid(PAY_A)}
    with pytest.raises(InvalidBlock) as info:
        validate_block(
            block, node.state, node.view, verifier=verify, has_finality_proof=held.__contains__
        )
    assert info.value.reject_code == "not-final"
    held.add(compute_txid(PAY_B))
    validate_block(
        block, node.state, node.view, verifier=verify, has_finality_proof=held.__contains__
    )


def sign_votes(operator: int, tx: Transaction, epoch: int, filler: Transaction) -> TxVote:
    """A vote of OPERATORS[operator] for `tx` in a batch with `filler`."""
    leaves = [
        VoteLeaf(txid=compute_txid(item), inputs_root=compute_inputs_root(item))
        for item in (filler, tx)
    ]
    batch, branches = sign_tx_vote_batch(OPERATORS[operator], PARAMS.chain_id, epoch, leaves)
    vote = ProofVote(
        voter_index=0,
        root=batch.root,
        count=batch.count,
        index=1,
        branch=list(branches[1]),
        signature=batch.signature,
    )
    return make_tx_vote(
        OPERATORS[operator].public_key, epoch, vote, leaves[1].txid, leaves[1].inputs_root
    )


def make_evidence(operator: int, epoch: int) -> TxVoteEquivocationEvidence:
    vote_a = sign_votes(operator, PAY_A, epoch, PAY_B)
    vote_b = sign_votes(operator, RIVAL, epoch, PAY_B)
    return make_tx_vote_equivocation_evidence(allocation(0), vote_a, PAY_A, vote_b, RIVAL)


def test_tx_vote_evidence_in_a_block_bans_the_offender() -> None:
    node = Node.from_genesis()
    epoch = PARAMS.epoch_of(node.state.height + 1)
    evidence = make_evidence(2, epoch)
    voting_set = voting_set_at(node.state, node.state.height + 1)
    assert voting_set is not None
    assert (
        verify_evidence(evidence, voting_set, PARAMS.chain_id, verify).operator_key
        == OPERATORS[2].public_key
    )
    assert get_evidence_height(evidence, PARAMS) == epoch * PARAMS.epoch_length
    applied = node.build(evidence=[evidence])
    node.validate(applied.block)
    offender = voting_set.voters[voting_set.index_of(OPERATORS[2].public_key) or 0].masternode_id
    entry = get_entry(applied.state_after.registry, offender)
    assert entry is not None and entry.banned_from_epoch == epoch + 1


def test_tx_vote_evidence_rejects_non_equivocation() -> None:
    node = Node.from_genesis()
    voting_set = voting_set_at(node.state, 1)
    assert voting_set is not None
    evidence = make_evidence(1, 0)
    same = msgspec.structs.replace(evidence, vote_b=evidence.vote_a, input_b=evidence.input_a)
    other_epoch = make_evidence(1, 1)
    mixed = msgspec.structs.replace(evidence, vote_b=other_epoch.vote_b)
    swapped = msgspec.structs.replace(
        evidence,
        vote_a=evidence.vote_b,
        input_a=evidence.input_b,
        vote_b=evidence.vote_a,
        input_b=evidence.input_a,
    )
    wrong_outpoint = msgspec.structs.replace(evidence, outpoint=allocation(1))
    for bad, code in [
        (same, "not-conflicting"),
        (mixed, "evidence-mismatch"),
        (swapped, "non-canonical-evidence"),
        (wrong_outpoint, "bad-branch"),
    ]:
        with pytest.raises(InvalidVote) as info:
            verify_evidence(bad, voting_set, PARAMS.chain_id, verify)
        assert info.value.reject_code == code
    with pytest.raises(InvalidVote, match="evidence-mismatch"):
        verify_evidence(other_epoch, voting_set, PARAMS.chain_id, verify)
    with pytest.raises(ValueError):
        get_evidence_height(evidence)


def test_future_tx_vote_evidence_is_refused() -> None:
    node = Node.from_genesis()
    future = make_evidence(1, PARAMS.epoch_of(node.state.height + 1) + 1)
    with pytest.raises(InvalidBlock) as info:
        node.build(evidence=[future])
    assert info.value.reject_code == "future-evidence"


def test_overhead_bounds_the_largest_evidence() -> None:
    evidence = make_evidence(1, 0)
    assert len(encode(evidence)) < 3_000
    assert compute_block_overhead_bytes(PARAMS) > PARAMS.sizes.max_block_evidence * len(
        encode(evidence)
    )


def reports_for(
    entries_by_operator: dict[int, list[ReportEntry]], prev_hash: bytes = b"\x07" * 32
) -> list[EpochReport]:
    reports = [
        sign_epoch_report(OPERATORS[i], PARAMS.chain_id, 0, prev_hash, entries)
        for i, entries in entries_by_operator.items()
    ]
    return sorted(reports, key=lambda report: report.voter)


def entry(tx: Transaction, index: int = 0) -> ReportEntry:
    return ReportEntry(outpoint=tx.inputs[index].prevout, txid=compute_txid(tx))


def locks_of(
    reports: list[EpochReport], carried: list[Transaction]
) -> dict[OutPoint, bytes | None]:
    node = Node.from_genesis()
    voting_set = voting_set_at(node.state, 1)
    assert voting_set is not None
    carried = sorted(carried, key=compute_txid)
    return compute_reported_locks(
        reports, carried, voting_set, b"\x07" * 32, node.view, PARAMS, 3, verify
    )


def test_reported_locks_unique_or_none() -> None:
    reports = reports_for({0: [entry(PAY_A)], 1: [entry(PAY_A), entry(PAY_B)], 2: [entry(RIVAL)]})
    locks = locks_of(reports, [PAY_A, PAY_B, RIVAL])
    assert locks == {allocation(0): None, allocation(1): compute_txid(PAY_B)}
    reports = reports_for({0: [entry(PAY_A)], 1: [entry(PAY_A)], 2: []})
    assert locks_of(reports, [PAY_A]) == {allocation(0): compute_txid(PAY_A)}


def test_reported_locks_reject_bad_reports() -> None:
    good = reports_for({0: [entry(PAY_A)], 1: [], 2: []})
    cases = [
        (reports_for({0: [], 1: []}), [], "insufficient-reports"),
        ([*good, good[0]], [PAY_A], "non-canonical-report"),
        (reports_for({0: [], 1: [], 2: []}, prev_hash=bytes(32)), [], "bad-report"),
        (good, [], "bad-report"),  # the reported transaction is not carried
        (good, [PAY_A, PAY_B], "unreported-transaction"),
        (
            reports_for(
                {0: [ReportEntry(outpoint=allocation(1), txid=compute_txid(PAY_A))], 1: [], 2: []}
            ),
            [PAY_A],
            "bad-report",
        ),
        ([msgspec.structs.replace(good[0], signature=bytes(64)), *good[1:]], [PAY_A], "bad-report"),
    ]
    for reports, carried, code in cases:
        with pytest.raises(InvalidBlock) as info:
            locks_of(reports, carried)
        assert info.value.reject_code == code, code
    unsigned = msgspec.structs.replace(PAY_A, signatures=[bytes(64)])
    bad_tx = reports_for({0: [entry(unsigned)], 1: [], 2: []})
    with pytest.raises(InvalidBlock, match="bad-report"):
        locks_of(bad_tx, [unsigned])


def test_lock_elements_never_look_like_coins() -> None:
    node = Node.from_genesis()
    coin = node.view.get_coin(allocation(0))
    assert coin is not None
    element = encode_lock_element(allocation(0), compute_txid(PAY_A))
    assert element[36] == 0xC4 and encode_utxo_element(allocation(0), coin)[36] == 0x93
    assert encode_lock_element(allocation(0), None).endswith(bytes(32))

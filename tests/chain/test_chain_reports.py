"""The epoch-report chain rule (ADR 0004): an epoch's last block carries
reports of more than 2/3 of the outgoing weight and the reported
transactions; reported inputs stay locked, as chain state inside the UTXO
commitment, until a block spends them with the reported transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

import msgspec
import pytest
from chain_helpers import (
    ALICE,
    ALLOCATION_AMOUNT,
    BOB,
    GENESIS,
    OPERATORS,
    allocation,
    make_certificate,
    proposer_for,
    transfer,
)
from chain_helpers import PARAMS as BASE_PARAMS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from timecoin.chain import (
    AppliedBlock,
    ChainState,
    build_block,
    chain_state_from_genesis,
    encode_lock_element,
    pack_epoch_reports,
    select_block_transactions,
    undo_applied_block,
    unpack_epoch_reports,
    validate_block,
    voting_set_at,
)
from timecoin.consensus import (
    BroadcastReport,
    BroadcastVotes,
    FinalityEffect,
    FinalityMachine,
    TransactionFinal,
    sign_epoch_report,
)
from timecoin.crypto import MuHash3072, verify
from timecoin.ledger import MemoryUtxoSet, encode_utxo_element
from timecoin.params import ActivationHeights
from timecoin.types import (
    Block,
    Coin,
    EpochReport,
    FinalityProof,
    InvalidBlock,
    OutPoint,
    ReportEntry,
    Transaction,
    compute_block_hash,
    compute_reports_hash,
    compute_txid,
)

PARAMS = replace(BASE_PARAMS, activation=ActivationHeights(epoch_reports_height=1))
LAST = PARAMS.epoch_length - 1  # the last height of epoch 0
PAY = transfer(allocation(0), ALLOCATION_AMOUNT, ALICE, BOB)
RIVAL = transfer(allocation(0), ALLOCATION_AMOUNT, ALICE, ALICE)
OTHER = transfer(allocation(1), ALLOCATION_AMOUNT, ALICE, BOB)
NO_PROOFS: dict[bytes, FinalityProof] = {}


@dataclass
class Chain:
    """A chain follower with the epoch-report rule active."""

    state: ChainState
    view: MemoryUtxoSet
    applied: list[AppliedBlock] = field(default_factory=list)

    @classmethod
    def start(cls) -> Chain:
        state, delta = chain_state_from_genesis(GENESIS, PARAMS)
        return cls(state, MemoryUtxoSet(delta.created))

    def build(
        self,
        transactions: Sequence[Transaction] = (),
        *,
        reports: Iterable[EpochReport] = (),
        bodies: Iterable[Transaction] = (),
        proofs: Callable[[bytes], FinalityProof | None] | None = None,
    ) -> AppliedBlock:
        return build_block(
            self.state,
            self.view,
            transactions,
            timestamp_ms=self.state.header.timestamp_ms + PARAMS.block_interval_ms,
            proposer=proposer_for(self.state),
            prev_certificate=make_certificate(self.state),
            verifier=verify,
            reports=reports,
            reported_transactions=bodies,
            finality_proof_of=proofs,
        )

    def validate(
        self, block: Block, proofs: Callable[[bytes], FinalityProof | None] | None = None
    ) -> AppliedBlock:
        return validate_block(
            block, self.state, self.view, verifier=verify, finality_proof_of=proofs
        )

    def accept(self, applied: AppliedBlock) -> AppliedBlock:
        self.view.apply_delta(applied.delta)
        self.state = applied.state_after
        self.applied.append(applied)
        return applied

    def grow_to(self, height: int) -> None:
        while self.state.height < height:
            self.accept(self.build())


def report(index: int, entries: Sequence[ReportEntry], prev_hash: bytes) -> EpochReport:
    ordered = sorted(entries, key=lambda e: e.outpoint.txid + e.outpoint.index.to_bytes(4, "big"))
    return sign_epoch_report(OPERATORS[index], PARAMS.chain_id, 0, prev_hash, ordered)


def entry(tx: Transaction) -> ReportEntry:
    return ReportEntry(outpoint=tx.inputs[0].prevout, txid=compute_txid(tx))


def before_last() -> Chain:
    chain = Chain.start()
    chain.grow_to(LAST - 1)
    return chain


def reject_code(action: Callable[[], object]) -> str:
    with pytest.raises(InvalidBlock) as info:
        action()
    return info.value.reject_code


def reports_of(block: Block) -> list[EpochReport]:
    """The reports `block` carries, unpacked."""
    header = block.header
    return unpack_epoch_reports(block.report_entries, block.reports, header.epoch, header.prev_hash)


def reseal_reports(
    block: Block,
    *,
    reports: Sequence[EpochReport] | None = None,
    reported_transactions: Sequence[Transaction] | None = None,
) -> Block:
    """`block` carrying other `reports` (packed here) or other transactions,
    its reports hash recomputed."""
    if reports is None:
        entries, packed = block.report_entries, block.reports
    else:
        entries, packed = pack_epoch_reports(reports)
    bodies = block.reported_transactions if reported_transactions is None else reported_transactions
    body = msgspec.structs.replace(
        block, report_entries=entries, reports=packed, reported_transactions=list(bodies)
    )
    header = msgspec.structs.replace(
        block.header, reports_hash=compute_reports_hash(entries, packed, bodies)
    )
    return msgspec.structs.replace(body, header=header)


def test_last_block_needs_reports_of_more_than_two_thirds() -> None:
    chain = before_last()
    tip = chain.state.block_hash
    assert reject_code(chain.build) == "insufficient-reports"
    two = [report(i, [], tip) for i in range(2)]
    assert reject_code(lambda: chain.build(reports=two)) == "insufficient-reports"
    applied = chain.build(reports=[report(i, [], tip) for i in range(3)])
    assert len(applied.block.reports) == 3
    stripped = reseal_reports(applied.block, reports=reports_of(applied.block)[:2])
    assert reject_code(lambda: chain.validate(stripped)) == "insufficient-reports"
    assert chain.validate(applied.block).state_after.reported_locks == {}


def test_reports_only_at_the_last_height() -> None:
    chain = Chain.start()
    chain.grow_to(1)
    block = chain.build().block
    extra = [report(0, [], chain.state.block_hash)]
    tampered = reseal_reports(block, reports=extra)
    assert reject_code(lambda: chain.validate(tampered)) == "unexpected-reports"
    entries, packed = pack_epoch_reports(extra)
    wrong_hash = msgspec.structs.replace(block, report_entries=entries, reports=packed)
    assert reject_code(lambda: chain.validate(wrong_hash)) == "bad-reports-hash"


def test_an_invalid_report_does_not_count() -> None:
    chain = before_last()
    tip = chain.state.block_hash
    good = [report(i, [entry(PAY)], tip) for i in range(2)]
    unsigned = transfer(allocation(1), ALLOCATION_AMOUNT, BOB, BOB)  # not the owner's key
    forged = msgspec.structs.replace(report(2, [], tip), signature=bytes(64))
    invalid_spend = report(2, [entry(unsigned)], tip)
    other_block = report(2, [], bytes(32))
    for bad in (forged, invalid_spend, other_block):
        with pytest.raises(InvalidBlock, match="insufficient-reports"):
            chain.build(reports=[*good, bad], bodies=[PAY, unsigned])
    applied = chain.build(
        reports=[*good, invalid_spend, report(3, [], tip)], bodies=[PAY, unsigned]
    )
    assert invalid_spend not in reports_of(applied.block) and len(applied.block.reports) == 3
    assert applied.block.reported_transactions == [PAY]
    carrying_bad = reseal_reports(
        applied.block,
        reports=[*reports_of(applied.block)[:2], invalid_spend],
        reported_transactions=sorted([PAY, unsigned], key=compute_txid),
    )
    assert reject_code(lambda: chain.validate(carrying_bad)) == "bad-report"


def test_a_reported_transaction_must_be_carried() -> None:
    chain = before_last()
    tip = chain.state.block_hash
    reports = [report(i, [entry(PAY)], tip) for i in range(3)]
    assert reject_code(lambda: chain.build(reports=reports)) == "insufficient-reports"
    applied = chain.build(reports=reports, bodies=[PAY, OTHER])
    assert applied.block.reported_transactions == [PAY]
    missing = reseal_reports(applied.block, reported_transactions=[])
    assert reject_code(lambda: chain.validate(missing)) == "bad-report"
    unreported = reseal_reports(
        applied.block, reported_transactions=sorted([PAY, OTHER], key=compute_txid)
    )
    assert reject_code(lambda: chain.validate(unreported)) == "unreported-transaction"


def lock_chain(
    entries_by_member: dict[int, list[ReportEntry]], bodies: Sequence[Transaction]
) -> Chain:
    chain = before_last()
    tip = chain.state.block_hash
    reports = [report(i, entries, tip) for i, entries in entries_by_member.items()]
    chain.accept(chain.build(reports=reports, bodies=bodies))
    return chain


def commitment_of(chain: Chain) -> bytes:
    state = MuHash3072()
    state.insert_many(encode_utxo_element(op, coin) for op, coin in chain.view.coins.items())
    state.insert_many(
        encode_lock_element(op, txid) for op, txid in chain.state.reported_locks.items()
    )
    return state.digest()


def test_locks_persist_and_block_a_conflicting_transaction() -> None:
    chain = lock_chain({i: [entry(PAY)] for i in range(3)}, [PAY])
    assert chain.state.reported_locks == {allocation(0): compute_txid(PAY)}
    assert chain.state.header.utxo_commitment == commitment_of(chain) != chain.view.commitment()
    for _ in range(PARAMS.epoch_length + 1):  # across the next boundary too
        assert reject_code(lambda: chain.build([RIVAL])) == "locked-outpoint"
        assert select_block_transactions([RIVAL], chain.state, chain.view) == []
        chain.accept(chain.build(reports=[report_for(chain, i) for i in range(4)]))
        assert chain.state.reported_locks == {allocation(0): compute_txid(PAY)}


def report_for(chain: Chain, index: int) -> EpochReport:
    """An empty report of the current epoch, naming the tip."""
    epoch = PARAMS.epoch_of(chain.state.height + 1)
    return sign_epoch_report(OPERATORS[index], PARAMS.chain_id, epoch, chain.state.block_hash, [])


class Committee:
    """Four honest finality machines on an in-test network, delivering every
    effect at once."""

    def __init__(self, state: ChainState) -> None:
        voting_set = voting_set_at(state, state.height + 1)
        assert voting_set is not None
        self.machines = [
            FinalityMachine(params=PARAMS, voting_set=voting_set, verifier=verify, signer=key)
            for key in OPERATORS
        ]
        self.proofs: dict[bytes, FinalityProof] = {}
        self.reports: list[EpochReport] = []
        self.now_ms = 0

    def deliver(self, effects: list[FinalityEffect]) -> None:
        queue = list(effects)
        while queue:
            effect = queue.pop(0)
            if isinstance(effect, BroadcastVotes):
                for machine in self.machines:
                    queue.extend(machine.on_tx_votes(effect.batch, effect.leaves, self.now_ms))
            elif isinstance(effect, TransactionFinal):
                self.proofs.setdefault(effect.txid, effect.proof)
            elif isinstance(effect, BroadcastReport):
                self.reports.append(effect.report)

    def offer(self, tx: Transaction, members: Iterable[int] = range(4)) -> None:
        self.now_ms += 1_000
        for index in members:
            self.deliver(self.machines[index].on_transaction(tx, self.now_ms))
        self.tick()

    def tick(self) -> None:
        self.now_ms += 1_000
        for machine in self.machines:
            self.deliver(machine.on_tick(self.now_ms))

    def commit(self, applied: AppliedBlock) -> None:
        self.now_ms += 1_000
        after = applied.state_after
        for machine in self.machines:
            self.deliver(
                machine.on_block_committed(
                    applied.block,
                    applied.block_hash,
                    self.now_ms,
                    next_voting_set=voting_set_at(after, after.height + 1),
                    reported_locks=after.reported_locks,
                )
            )
        self.tick()


def test_reported_transaction_with_its_proof_is_admitted_and_releases_the_lock() -> None:
    chain = Chain.start()
    committee = Committee(chain.state)
    committee.offer(PAY)
    proof = committee.proofs[compute_txid(PAY)]
    chain = lock_chain({i: [entry(PAY)] for i in range(3)}, [PAY])
    assert proof.epoch == 0 and chain.state.reported_locks
    held = {compute_txid(PAY): proof}
    block = chain.build([PAY], proofs=held.get).block
    assert reject_code(lambda: chain.validate(block, NO_PROOFS.get)) == "not-final"
    forged = msgspec.structs.replace(proof, votes=proof.votes[:2])
    assert reject_code(lambda: chain.validate(block, {compute_txid(PAY): forged}.get)) == (
        "insufficient-weight"
    )
    chain.validate(block)  # a certified block needs no proof
    applied = chain.accept(chain.validate(block, held.get))
    assert chain.state.reported_locks == {}
    assert applied.delta.locks_released == [allocation(0)]
    assert chain.state.header.utxo_commitment == chain.view.commitment()


def test_conflicting_reports_lock_the_input_for_none() -> None:
    chain = lock_chain(
        {0: [entry(PAY), entry(OTHER)], 1: [entry(PAY)], 2: [entry(RIVAL)]},
        [PAY, RIVAL, OTHER],
    )
    assert chain.state.reported_locks == {allocation(0): None, allocation(1): compute_txid(OTHER)}
    assert chain.state.header.utxo_commitment == commitment_of(chain)
    assert select_block_transactions([PAY, RIVAL, OTHER], chain.state, chain.view) == [OTHER]
    # A none lock admits a spender only with a proof (of the reporting epoch or before).
    block = chain.build([PAY]).block
    assert reject_code(lambda: chain.validate(block, NO_PROOFS.get)) == "not-final"


def test_a_none_locked_input_is_selected_with_its_finality_proof() -> None:
    # PAY final in epoch 0, then conflicting reports lock its input to none:
    # selection admits it with its proof, as validate_block does (ADR 0004).
    committee = Committee(Chain.start().state)
    committee.offer(PAY)
    proof = committee.proofs[compute_txid(PAY)]
    chain = lock_chain({0: [entry(PAY)], 1: [entry(PAY)], 2: [entry(RIVAL)]}, [PAY, RIVAL])
    assert chain.state.reported_locks == {allocation(0): None}
    held = {compute_txid(PAY): proof}
    assert select_block_transactions([RIVAL, PAY], chain.state, chain.view) == []
    assert (
        select_block_transactions(
            [RIVAL, PAY], chain.state, chain.view, finality_proof_of=NO_PROOFS.get, verifier=verify
        )
        == []
    )
    for verifier in (verify, None):
        kept = select_block_transactions(
            [RIVAL, PAY], chain.state, chain.view, finality_proof_of=held.get, verifier=verifier
        )
        assert kept == [PAY]
    forged = msgspec.structs.replace(proof, votes=proof.votes[:2])
    assert (
        select_block_transactions(
            [PAY],
            chain.state,
            chain.view,
            finality_proof_of={compute_txid(PAY): forged}.get,
            verifier=verify,
        )
        == []
    )
    applied = chain.accept(chain.validate(chain.build([PAY], proofs=held.get).block, held.get))
    assert chain.state.reported_locks == {}
    assert applied.delta.locks_released == [allocation(0)]


def undo_all(chain: Chain, states: list[tuple[ChainState, dict[OutPoint, Coin]]]) -> None:
    headers = [GENESIS.header] + [applied.block.header for applied in chain.applied]
    for position in reversed(range(len(chain.applied))):
        applied = chain.applied[position]
        parent = headers[position]
        state_before, delta = undo_applied_block(
            chain.state, applied.block, applied.undo, applied.registry_undo, parent
        )
        chain.view.apply_delta(delta)
        chain.state = state_before
        expected_state, expected_coins = states.pop()
        assert chain.state.utxo_state.to_bytes() == expected_state.utxo_state.to_bytes()
        assert dict(chain.state.reported_locks) == dict(expected_state.reported_locks)
        assert chain.state.block_hash == expected_state.block_hash
        assert dict(chain.view.coins) == expected_coins
        assert delta.locks_created == {
            lock.outpoint: lock.txid for lock in applied.undo.released_locks
        }
        assert delta.locks_released == list(applied.undo.created_locks)


SPENDERS = [
    (
        transfer(allocation(i), ALLOCATION_AMOUNT, ALICE, BOB),
        transfer(allocation(i), ALLOCATION_AMOUNT, ALICE, ALICE),
    )
    for i in range(3)
]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    choices=st.lists(st.lists(st.integers(0, 2), max_size=3), min_size=3, max_size=4),
    spend=st.lists(st.booleans(), min_size=3, max_size=3),
)
def test_apply_then_undo_is_exact_with_locks(choices: list[list[int]], spend: list[bool]) -> None:
    """Members report random spenders of three coins (0: none, 1: pay, 2:
    rival); the next block spends some locked coins with their locked
    transaction; undoing every block restores every state exactly."""
    chain = Chain.start()
    states: list[tuple[ChainState, dict[OutPoint, Coin]]] = []

    def step(applied: AppliedBlock) -> None:
        states.append((chain.state, dict(chain.view.coins)))
        chain.accept(applied)

    while chain.state.height < LAST - 1:
        step(chain.build())
    tip = chain.state.block_hash
    reports = []
    for member, picks in enumerate(choices):
        entries = {coin: SPENDERS[coin][pick - 1] for coin, pick in enumerate(picks) if pick}
        reports.append(report(member, [entry(tx) for tx in entries.values()], tip))
    bodies = [tx for pair in SPENDERS for tx in pair]
    step(chain.build(reports=reports, bodies=bodies))
    assert chain.state.header.utxo_commitment == commitment_of(chain)
    spending = [
        SPENDERS[coin][0]
        for coin in range(3)
        if spend[coin]
        and chain.state.reported_locks.get(allocation(coin)) == compute_txid(SPENDERS[coin][0])
    ]
    step(chain.build(spending))
    assert chain.state.header.utxo_commitment == commitment_of(chain)
    undo_all(chain, states)
    assert chain.state.height == 0 and chain.state.reported_locks == {}


def test_final_in_one_epoch_is_never_contradicted_in_the_next() -> None:
    """Four members: PAY is final in epoch 0 and not yet in a block; the
    epoch changes; RIVAL can be neither final nor included in epoch 1, and
    PAY is voted again and included."""
    chain = Chain.start()
    committee = Committee(chain.state)
    chain.accept(applied := chain.build())
    committee.commit(applied)
    committee.offer(PAY)
    pay = compute_txid(PAY)
    assert pay in committee.proofs and committee.proofs[pay].epoch == 0
    chain.accept(applied := chain.build())
    committee.commit(applied)  # the last height is due: every member reports
    assert len(committee.reports) == 4
    assert all(r.entries == [entry(PAY)] for r in committee.reports)
    applied = chain.build(reports=committee.reports, bodies=[PAY])
    assert applied.block.header.height == LAST
    assert applied.block.reported_transactions == [PAY]
    chain.accept(applied)
    committee.commit(applied)
    assert chain.state.reported_locks == {allocation(0): pay}
    assert all(m.epoch == 1 for m in committee.machines)
    # the conflicting transaction: no honest member votes for it in epoch 1
    committee.offer(RIVAL)
    rival = compute_txid(RIVAL)
    assert rival not in committee.proofs
    assert all(m.get_vote_weight(rival) == 0 for m in committee.machines)
    # and no block may include it, with or without a proof check
    assert reject_code(lambda: chain.build([RIVAL])) == "locked-outpoint"
    assert select_block_transactions([RIVAL, PAY], chain.state, chain.view) == [PAY]
    # a member of the new committee without the proof votes for PAY only
    voting_set = voting_set_at(chain.state, chain.state.height + 1)
    assert voting_set is not None and voting_set.epoch == 1
    fresh = FinalityMachine(
        params=PARAMS,
        voting_set=voting_set,
        verifier=verify,
        signer=OPERATORS[0],
        reported_locks=chain.state.reported_locks,
    )
    voted = [*fresh.on_transaction(RIVAL, 0), *fresh.on_tick(1_000)]
    assert not [e for e in voted if isinstance(e, BroadcastVotes)]
    voted = [*fresh.on_transaction(PAY, 2_000), *fresh.on_tick(3_000)]
    [batch] = [e for e in voted if isinstance(e, BroadcastVotes)]
    assert batch.batch.epoch == 1 and [leaf.txid for leaf in batch.leaves] == [pay]
    applied = chain.accept(chain.build([PAY], proofs=committee.proofs.get))
    committee.commit(applied)
    assert chain.state.reported_locks == {}
    assert chain.view.get_coin(allocation(0)) is None
    assert compute_block_hash(applied.block.header) == chain.state.block_hash

"""The write-ahead log: record bytes, and crash-restart without equivocation.

A crash is modelled by keeping the WAL records up to a `PersistWal` and
dropping every later effect (the Broadcast of the signed message included).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from consensus_harness import (
    GENESIS_TS,
    PARAMS,
    Network,
    Single,
    ToyApp,
    block_for,
    broadcast_proposals,
    broadcast_votes,
    find_seed,
    hash_of,
    make_keys,
    make_single,
    of_type,
    precommit,
    prevote,
    propose,
    proposer_of,
    wal_records,
)

from timecoin.consensus import (
    ConsensusMachine,
    InvalidWal,
    PersistWal,
    ScheduleTimeout,
    Step,
    TimeoutStep,
    WalProposal,
    WalRecord,
    WalRoundState,
    WalValue,
    WalVote,
    decode_wal_record,
    encode_wal_record,
)
from timecoin.consensus.effects import Effect
from timecoin.crypto import verify
from timecoin.encoding import DecodeError
from timecoin.types import ZERO_HASH, Vote, VoteType

NOW = GENESIS_TS + PARAMS.block_interval_ms


def crash_after(effects: list[Effect], persisted: Callable[[WalRecord], bool]) -> list[WalRecord]:
    """The WAL as a crash leaves it: records up to the first matching PersistWal."""
    records: list[WalRecord] = []
    for effect in effects:
        if isinstance(effect, PersistWal):
            records.append(effect.record)
            if persisted(effect.record):
                return records
    raise AssertionError("no such record")


def is_vote(vote_type: VoteType) -> Callable[[WalRecord], bool]:
    return lambda r: isinstance(r, WalVote) and r.vote.vote_type == vote_type


def restore(single: Single, records: list[WalRecord]) -> ConsensusMachine:
    return ConsensusMachine.restore(
        records,
        params=PARAMS,
        app=single.app,
        verifier=verify,
        signer=single.keys[0],
        context=single.machine.context,
    )


def observer() -> Single:
    probe = make_single()
    single = make_single(
        seed=find_seed(probe.voting_set, lambda p0, p1: p0 != 0 and p1 != 0 and p0 != p1)
    )
    single.feed(single.machine.on_start(NOW))
    return single


def assert_never_conflicts(effects: list[Effect], signed: list[Vote]) -> None:
    by_slot = {(v.height, v.round, v.vote_type): v for v in signed}
    for vote in broadcast_votes(effects):
        slot = (vote.height, vote.round, vote.vote_type)
        if slot in by_slot:
            assert vote == by_slot[slot], "conflicting vote signed after restart"


def test_wal_records_round_trip_through_bytes() -> None:
    key = make_keys(1)[0]
    block = block_for(3, 1, NOW)
    vote = prevote(key, 3, 1, hash_of(block))
    proposal = propose(key, block)
    records: list[WalRecord] = [
        WalRoundState(3, 1, 2, 0, hash_of(block), 1, hash_of(block)),
        WalRoundState(3, 0, 1, -1, ZERO_HASH, -1, ZERO_HASH),
        WalVote(vote),
        WalProposal(proposal, b"\x01\x02"),
        WalValue(3, hash_of(block), NOW, b"blk"),
    ]
    for record in records:
        data = encode_wal_record(record)
        assert decode_wal_record(data) == record
        with pytest.raises(DecodeError):
            decode_wal_record(data + b"\x00")


def test_wal_prevote_crash_between_sign_and_send() -> None:
    """Line 24: the prevote is logged, the crash loses its broadcast; after restart
    the same prevote is sent, and a timeout (line 59) never makes a nil one."""
    single = observer()
    block = block_for(1, 0, NOW)
    index = proposer_of(single.voting_set, 1, 0, single.machine.context.proposer_seed)
    effects = single.machine.on_proposal(propose(single.keys[index], block), block, NOW)
    records = wal_records(single.effects) + crash_after(effects, is_vote(VoteType.PREVOTE))
    signed = [r.vote for r in records if isinstance(r, WalVote)]
    assert [v.block_hash for v in signed] == [hash_of(block)]

    machine = restore(single, records)
    assert machine.step == Step.PREVOTE and machine.round == 0
    effects = machine.on_start(NOW + 5)
    assert broadcast_votes(effects) == signed
    effects += machine.on_tick(NOW + 60_000)
    effects += machine.on_proposal(propose(single.keys[index], block), block, NOW + 6)
    assert_never_conflicts(effects, signed)


def test_wal_prevote_restart_in_propose_step_resends_instead_of_resigning() -> None:
    """Crash right after the prevote record, before the round-state record: the
    restored step is derived from the vote, and timeoutPropose (line 57) re-sends
    the logged prevote rather than signing nil."""
    single = observer()
    block = block_for(1, 0, NOW)
    index = proposer_of(single.voting_set, 1, 0, single.machine.context.proposer_seed)
    effects = single.machine.on_proposal(propose(single.keys[index], block), block, NOW)
    records = crash_after(effects, is_vote(VoteType.PREVOTE))
    assert not any(isinstance(r, WalRoundState) for r in records)
    machine = restore(single, records)
    assert machine.step == Step.PREVOTE
    effects = machine.on_start(NOW + 1)
    [vote] = broadcast_votes(effects)
    assert vote.block_hash == hash_of(block)
    assert not any(isinstance(e, PersistWal) and isinstance(e.record, WalVote) for e in effects)


def test_wal_precommit_crash_keeps_the_lock() -> None:
    """Lines 36-40: the precommit is logged (the lock with it); after restart the
    same precommit is sent, and a later round's other value is prevoted nil
    (line 26) because the lock survives."""
    single = observer()
    block = block_for(1, 0, NOW)
    index = proposer_of(single.voting_set, 1, 0, single.machine.context.proposer_seed)
    history: list[Effect] = []
    history += single.machine.on_proposal(propose(single.keys[index], block), block, NOW)
    history += single.machine.on_vote(prevote(single.keys[1], 1, 0, hash_of(block)), NOW)
    history += single.machine.on_vote(prevote(single.keys[2], 1, 0, hash_of(block)), NOW)
    records = [e.record for e in single.effects if isinstance(e, PersistWal)]
    records += crash_after(history, is_vote(VoteType.PRECOMMIT))
    signed = [r.vote for r in records if isinstance(r, WalVote)]
    assert [v.vote_type for v in signed] == [VoteType.PREVOTE, VoteType.PRECOMMIT]

    machine = restore(single, records)
    assert machine.locked_round == 0 and machine.locked_hash == hash_of(block)
    assert machine.valid_round == 0 and machine.step == Step.PRECOMMIT
    effects = machine.on_start(NOW + 5)
    assert set(map(bytes, (v.signature for v in broadcast_votes(effects)))) == {
        v.signature for v in signed
    }
    # round 1: another value; the restored lock refuses it
    effects += machine.on_vote(precommit(single.keys[1], 1, 1, ZERO_HASH), NOW + 6)
    effects += machine.on_vote(precommit(single.keys[2], 1, 1, ZERO_HASH), NOW + 6)
    assert machine.round == 1
    other = block_for(1, 1, NOW, b"other")
    index1 = proposer_of(single.voting_set, 1, 1, single.machine.context.proposer_seed)
    effects += machine.on_proposal(propose(single.keys[index1], other), other, NOW + 7)
    round1 = [v for v in broadcast_votes(effects) if v.round == 1]
    assert [v.block_hash for v in round1] == [ZERO_HASH]
    assert_never_conflicts(effects, signed)


def test_wal_proposal_crash_resends_the_same_proposal() -> None:
    """Line 19: the proposal is logged before it is sent; after a crash the same
    signed proposal and block are sent again, and no new block is built."""
    probe = make_single()
    single = make_single(seed=find_seed(probe.voting_set, lambda p0, p1: p0 == 0))
    effects = single.machine.on_start(NOW)
    records = crash_after(effects, lambda r: isinstance(r, WalProposal))
    [logged] = [r.proposal for r in records if isinstance(r, WalProposal)]
    builds = len(single.app.build_calls)

    fresh_app = ToyApp(author=b"node0")
    machine = ConsensusMachine.restore(
        records,
        params=PARAMS,
        app=fresh_app,
        verifier=verify,
        signer=single.keys[0],
        context=single.machine.context,
    )
    effects = machine.on_start(NOW + 500)
    assert broadcast_proposals(effects) == [logged]
    assert fresh_app.build_calls == [] and builds == 1
    [vote] = broadcast_votes(effects)  # line 22: prevote for own proposal
    assert vote.block_hash == logged.block_hash
    # a second restart from the whole log still sends the same proposal and prevote
    records += [e.record for e in effects if isinstance(e, PersistWal)]
    again = ConsensusMachine.restore(
        records,
        params=PARAMS,
        app=fresh_app,
        verifier=verify,
        signer=single.keys[0],
        context=single.machine.context,
    )
    effects = again.on_start(NOW + 900)
    assert broadcast_proposals(effects) == [logged]
    assert broadcast_votes(effects) == [vote]
    assert fresh_app.build_calls == []


def test_wal_restored_valid_value_is_reproposed_with_its_pol_round() -> None:
    """Lines 15-16 after a restart: the valid value's block comes from its
    `WalValue` record, and the restarted proposer of round 1 proposes it with
    pol_round 0 instead of building a new block."""
    probe = make_single()
    single = make_single(seed=find_seed(probe.voting_set, lambda p0, p1: p0 != 0 and p1 == 0))
    single.feed(single.machine.on_start(NOW))
    block = block_for(1, 0, NOW)
    index = proposer_of(single.voting_set, 1, 0, single.machine.context.proposer_seed)
    single.feed(single.machine.on_proposal(propose(single.keys[index], block), block, NOW))
    for voter in (1, 2):
        single.feed(single.machine.on_vote(prevote(single.keys[voter], 1, 0, hash_of(block)), NOW))
    records = wal_records(single.effects)
    assert any(isinstance(r, WalValue) and r.block_hash == hash_of(block) for r in records)
    fresh_app = ToyApp(author=b"node0")
    machine = ConsensusMachine.restore(
        records,
        params=PARAMS,
        app=fresh_app,
        verifier=verify,
        signer=single.keys[0],
        context=single.machine.context,
    )
    assert (machine.valid_round, machine.valid_hash) == (0, hash_of(block))
    machine.on_start(NOW + 1)
    effects = []
    for voter in (1, 2):
        effects += machine.on_vote(precommit(single.keys[voter], 1, 1, ZERO_HASH), NOW + 2)
    [proposal] = broadcast_proposals(effects)
    assert (proposal.round, proposal.pol_round, proposal.block_hash) == (1, 0, hash_of(block))
    assert fresh_app.build_calls == []


def test_wal_restart_at_step_propose_reschedules_the_propose_timeout() -> None:
    single = observer()
    records = [e.record for e in single.effects if isinstance(e, PersistWal)]
    machine = restore(single, records)
    effects = machine.on_start(NOW + 10)
    [timeout] = of_type(effects, ScheduleTimeout)
    assert timeout.step == TimeoutStep.PROPOSE


def test_wal_of_another_key_is_refused() -> None:
    single = observer()
    foreign = WalVote(prevote(single.keys[2], 1, 0, ZERO_HASH))
    with pytest.raises(InvalidWal) as info:
        restore(single, [foreign])
    assert info.value.reject_code == "wal-foreign-signer"


def test_wal_with_conflicting_votes_is_refused() -> None:
    single = observer()
    records: list[WalRecord] = [
        WalVote(prevote(single.keys[0], 1, 0, ZERO_HASH)),
        WalVote(prevote(single.keys[0], 1, 0, hash_of(block_for(1, 0, NOW)))),
    ]
    with pytest.raises(InvalidWal) as info:
        restore(single, records)
    assert info.value.reject_code == "wal-conflict"


def test_wal_records_of_other_heights_are_skipped() -> None:
    single = observer()
    old: list[WalRecord] = [
        WalVote(prevote(single.keys[0], 0, 0, ZERO_HASH)),
        WalRoundState(0, 7, 3, -1, ZERO_HASH, -1, ZERO_HASH),
    ]
    machine = restore(single, old)
    assert machine.round == 0 and machine.step == Step.PROPOSE


@pytest.mark.parametrize("vote_type", [VoteType.PREVOTE, VoteType.PRECOMMIT])
def test_wal_network_node_restarts_mid_height_and_the_chain_agrees(vote_type: VoteType) -> None:
    """A validator crashes right after logging a vote (its broadcast lost),
    restarts from its WAL and resumes; the nodes keep agreeing, and the
    victim never sends two different votes for one slot."""
    net = Network(weights=(1, 1, 1, 1), regossip=True)
    victim = 2
    net.start()
    net.run_until(lambda: net.heights_committed() >= 2)
    height = net.machines[victim].height

    def crash_when(i: int, effect: Effect) -> bool:
        return (
            i == victim
            and isinstance(effect, PersistWal)
            and isinstance(effect.record, WalVote)
            and effect.record.vote.vote_type == vote_type
            and effect.record.vote.height == height
        )

    net.crash_when = crash_when
    net.run_until(lambda: victim in net.crashed)
    net.crash_when = None
    assert len(net.commits[victim]) == height - 1
    net.restart(victim)
    assert net.machines[victim].height == height
    net.run_until(lambda: net.heights_committed() >= height + 3)
    for h in range(height + 3):
        assert len({net.commits[i][h].certificate.block_hash for i in range(4)}) == 1
    signed: dict[tuple[int, int, int], bytes] = {}
    for message in net.sent[victim]:
        if isinstance(message, Vote):
            slot = (message.height, message.round, message.vote_type)
            assert signed.setdefault(slot, message.block_hash) == message.block_hash

"""Multi-node scenarios: locking and re-locking, proof-of-lock re-proposals,
round jumps, lossy delivery. Four validators of weight 1 (quorum: 3)."""

from __future__ import annotations

import random

import msgspec
import pytest
from consensus_harness import (
    CHAIN_ID,
    Network,
    ToyBlock,
    find_seed,
    hash_of,
    make_keys,
    make_voting_set,
)

from timecoin.consensus import Broadcast, sign_proposal, sign_vote, verify_evidence
from timecoin.crypto import sha256, verify
from timecoin.types import (
    ZERO_HASH,
    DuplicateProposalEvidence,
    DuplicateVoteEvidence,
    Proposal,
    Vote,
    VoteType,
)


def agreed(net: Network, heights: int) -> None:
    for h in range(heights):
        hashes = {
            net.commits[i][h].certificate.block_hash
            for i in range(len(net.machines))
            if len(net.commits[i]) > h
        }
        assert len(hashes) == 1, f"disagreement at height {h + 1}"


def sent_votes(
    net: Network, node: int, height: int, round: int, vote_type: VoteType
) -> list[bytes]:
    return [
        m.block_hash
        for m in net.sent[node]
        if isinstance(m, Vote) and (m.height, m.round, m.vote_type) == (height, round, vote_type)
    ]


def distinct_proposers_seed() -> bytes:
    voting_set = make_voting_set(make_keys(4), (1, 1, 1, 1))
    return find_seed(voting_set, lambda p0, p1: p0 != p1)


def is_round0_value_prevote(message: Vote | Proposal) -> bool:
    return (
        isinstance(message, Vote)
        and (message.height, message.round, message.vote_type) == (1, 0, VoteType.PREVOTE)
        and message.block_hash != ZERO_HASH
    )


def test_line_26_and_36_a_lone_locked_node_prevotes_nil_then_relocks_on_the_quorum() -> None:
    """Round 0: only A (the proposer) sees a prevote quorum for v and locks on it
    (line 36); D never gets the proposal and prevotes nil (line 59); the others
    precommit nil after timeoutPrevote (line 63), so round 0 ends (line 65).
    Round 1: A, locked on v, prevotes nil for the new value w (line 26); the
    others prevote w; A sees their quorum while in the prevote step and locks
    on w (line 36): w is committed by everyone in round 1."""
    net = Network(weights=(1, 1, 1, 1), seed=distinct_proposers_seed())
    a = net.machines[0].get_proposer_index(0)
    p1 = net.machines[0].get_proposer_index(1)
    d = next(i for i in range(4) if i not in (a, p1))

    def drop(src: int, dst: int, message: Vote | Proposal) -> bool:
        if isinstance(message, Proposal) and message.round == 0 and dst == d:
            return True
        return src == a and is_round0_value_prevote(message)

    net.drop = drop
    net.start()
    net.run_until(lambda: net.heights_committed() >= 1)
    [v_hash] = sent_votes(net, a, 1, 0, VoteType.PRECOMMIT)
    assert v_hash != ZERO_HASH
    assert sent_votes(net, d, 1, 0, VoteType.PREVOTE) == [ZERO_HASH]
    assert sent_votes(net, a, 1, 1, VoteType.PREVOTE) == [ZERO_HASH]
    [w_hash] = sent_votes(net, a, 1, 1, VoteType.PRECOMMIT)
    assert w_hash not in (ZERO_HASH, v_hash)
    for i in range(4):
        commit = net.commits[i][0]
        assert commit.certificate.round == 1 and commit.certificate.block_hash == w_hash
    agreed(net, 1)


def test_line_15_16_and_28_30_valid_value_is_reproposed_with_its_pol_round() -> None:
    """Round 0: L1 and L2 see the prevote quorum for v and lock; C and D see L2's
    prevote only late, so they precommit nil and round 0 ends without a
    decision. Round 1: its proposer L1 re-proposes v with pol_round 0 (lines
    15-16); once C and D hold the round-0 quorum they prevote v (lines 28-30),
    and v is committed in round 1."""
    net = Network(weights=(1, 1, 1, 1), seed=distinct_proposers_seed())
    l2 = net.machines[0].get_proposer_index(0)
    l1 = net.machines[0].get_proposer_index(1)
    d, c = (i for i in range(4) if i not in (l1, l2))
    held: list[tuple[int, int, Vote | Proposal]] = []

    def drop(src: int, dst: int, message: Vote | Proposal) -> bool:
        if isinstance(message, Proposal) and message.round == 0 and dst == d:
            return True
        if src == l2 and dst in (c, d) and is_round0_value_prevote(message):
            held.append((src, dst, message))
            return True
        return False

    net.drop = drop
    net.start()
    for _ in range(100):
        net.deliver_all()
        if all(m.round >= 1 for m in net.machines):
            break
        assert net.step_time()
    assert net.heights_committed() == 0
    [v_hash] = sent_votes(net, l1, 1, 0, VoteType.PRECOMMIT)
    assert sent_votes(net, c, 1, 0, VoteType.PRECOMMIT) == [ZERO_HASH]
    [reproposal] = [m for m in net.sent[l1] if isinstance(m, Proposal) and m.round == 1]
    assert (reproposal.block_hash, reproposal.pol_round) == (v_hash, 0)
    net.drop = None
    for src, dst, message in held:
        net.queue.append((src, dst, Broadcast(message)))
    net.run_until(lambda: net.heights_committed() >= 1)
    assert sent_votes(net, c, 1, 1, VoteType.PREVOTE) == [v_hash]
    for i in range(4):
        assert net.commits[i][0].certificate.block_hash == v_hash
        assert net.commits[i][0].certificate.round == 1


def test_line_55_isolated_node_jumps_to_the_round_of_the_others() -> None:
    """X hears nothing while the others time out through rounds without a
    proposal; when it hears them again it jumps straight to their round."""
    net = Network(weights=(1, 1, 1, 1), regossip=True)
    x = net.machines[0].get_proposer_index(0)
    deaf = {"on": True}

    def drop(src: int, dst: int, message: Vote | Proposal) -> bool:
        if isinstance(message, Proposal):
            return message.round < 3
        return deaf["on"] and (dst == x or src == x)

    net.drop = drop
    net.start()
    for _ in range(200):
        net.deliver_all()
        if min(m.round for i, m in enumerate(net.machines) if i != x) >= 3:
            break
        assert net.step_time()
    assert net.machines[x].round == 0
    target = min(m.round for i, m in enumerate(net.machines) if i != x)
    deaf["on"] = False
    net.run_until(lambda: net.heights_committed() >= 1)
    rounds_x = {m.round for m in net.sent[x] if isinstance(m, Vote) and m.height == 1}
    assert rounds_x <= {0} | set(range(target, target + 3))
    agreed(net, 1)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_lossy_reordering_network_keeps_agreement_and_progress(seed: int) -> None:
    """Seeded random delivery order and 25% loss, with periodic re-gossip of each
    node's own messages and last commit: every node commits the same blocks.
    A failure replays from its seed."""
    net = Network(weights=(10, 1, 5, 3), regossip=True, rng=random.Random(seed), loss=0.25)
    net.start()
    net.run_until(lambda: net.heights_committed() >= 8, max_steps=5_000)
    agreed(net, 8)


def test_equivocating_proposer_and_voter_is_caught_and_cannot_break_agreement() -> None:
    """A Byzantine node (weight 1 of 4) sends one block to half the network and
    another to the rest, and votes for both; node 0 receives both versions.
    The honest nodes still agree, and node 0 records valid evidence of the
    double proposal and of the double votes."""
    net = Network(weights=(1, 1, 1, 1), regossip=True)
    byzantine = net.machines[0].get_proposer_index(0)
    honest = [i for i in range(4) if i != byzantine]
    watcher = honest[0]
    key = net.keys[byzantine]

    def twin(message: Vote | Proposal, block: object) -> Broadcast:
        if isinstance(message, Proposal):
            assert isinstance(block, ToyBlock)
            other = msgspec.structs.replace(block, payload=b"evil")
            evil = sign_proposal(
                key,
                CHAIN_ID,
                message.height,
                message.round,
                -1,
                hash_of(other),
                other.timestamp_ms,
            )
            return Broadcast(evil, other)
        evil_hash = sha256(b"evil" + message.block_hash)
        return Broadcast(
            sign_vote(key, CHAIN_ID, message.vote_type, message.height, message.round, evil_hash)
        )

    def tamper(src: int, dst: int, effect: Broadcast) -> list[Broadcast]:
        if src != byzantine or effect.message.height != 1 or effect.message.round != 0:
            return [effect]
        evil = twin(effect.message, effect.block_value)
        if dst == watcher:
            return [effect, evil]
        return [evil] if dst == honest[1] else [effect]

    net.tamper = tamper
    net.start()
    net.run_until(lambda: net.heights_committed(honest) >= 3)
    agreed(net, 3)
    kinds = {type(e) for e in net.evidence[watcher]}
    assert kinds == {DuplicateProposalEvidence, DuplicateVoteEvidence}
    for evidence in net.evidence[watcher]:
        verify_evidence(evidence, net.voting_set, CHAIN_ID, verify)

"""Four members driven by an in-test network loop: conflicting transactions
sent to different members, seeded random delivery, an equivocating member.
At most one of two conflicting transactions ever becomes final anywhere."""

from __future__ import annotations

import random

import pytest
from finality_helpers import coin, make_machine, make_tx

from timecoin.consensus import (
    BroadcastVotes,
    FinalityEffect,
    RecordEvidence,
    TransactionFinal,
)
from timecoin.types import Transaction, compute_txid

SEEDS = list(range(12))


class Network:
    """Members, a queue of in-flight messages, and what each member saw."""

    def __init__(self, seed: int, byzantine: int | None = None) -> None:
        self.rng = random.Random(seed)
        self.members = [make_machine(i) for i in range(4)]
        # An equivocating member runs two honest-looking states with one key.
        self.twin = make_machine(byzantine) if byzantine is not None else None
        self.byzantine = byzantine
        self.queue: list[tuple[int, object]] = []
        self.final: list[set[bytes]] = [set() for _ in range(4)]
        self.evidence: list[RecordEvidence] = []
        self.now_ms = 0

    def emit(self, sender: int, effects: list[FinalityEffect]) -> None:
        for effect in effects:
            if isinstance(effect, BroadcastVotes):
                for target in range(4):
                    if target != sender:
                        self.queue.append((target, effect))
            elif isinstance(effect, TransactionFinal):
                self.final[sender].add(effect.txid)
            elif isinstance(effect, RecordEvidence):
                self.evidence.append(effect)

    def submit(self, target: int, tx: Transaction) -> None:
        if target == self.byzantine and self.twin is not None:
            self.emit(target, self.twin.on_transaction(tx, self.now_ms))
            return
        self.emit(target, self.members[target].on_transaction(tx, self.now_ms))

    def run(self, steps: int = 10_000) -> None:
        for _ in range(steps):
            self.now_ms += self.rng.randrange(1, 15)
            if self.queue and self.rng.random() < 0.8:
                target, message = self.queue.pop(self.rng.randrange(len(self.queue)))
                assert isinstance(message, BroadcastVotes)
                self.emit(
                    target,
                    self.members[target].on_tx_votes(message.batch, message.leaves, self.now_ms),
                )
            else:
                for index, member in enumerate(self.members):
                    self.emit(index, member.on_tick(self.now_ms))
                if self.twin is not None and self.byzantine is not None:
                    self.emit(self.byzantine, self.twin.on_tick(self.now_ms))
            if not self.queue and self.now_ms > 2_000:
                break


@pytest.mark.parametrize("seed", SEEDS)
def test_conflicting_transactions_never_both_final(seed: int) -> None:
    net = Network(seed)
    first, second = make_tx([coin("dbl")], 100_000), make_tx([coin("dbl")], 99_000)
    order = [first, second]
    for member in range(4):
        net.rng.shuffle(order)
        net.submit(member, order[0])
        net.submit(member, order[1])
    plain = make_tx([coin(f"plain/{seed}")])
    for member in range(4):
        net.submit(member, plain)
    net.run()
    finals = set().union(*net.final)
    assert not {compute_txid(first), compute_txid(second)} <= finals
    assert all(compute_txid(plain) in seen for seen in net.final)


@pytest.mark.parametrize("seed", SEEDS)
def test_an_equivocating_member_cannot_finalize_both(seed: int) -> None:
    net = Network(seed, byzantine=3)
    first, second = make_tx([coin("eqv")], 100_000), make_tx([coin("eqv")], 99_000)
    # The byzantine member votes for both (one per twin); honest ones split.
    net.emit(3, net.members[3].on_transaction(first, 0))
    net.submit(3, second)
    net.submit(0, first)
    net.submit(1, second if seed % 2 else first)
    net.submit(2, second)
    for member in range(3):
        net.submit(member, first)
        net.submit(member, second)
    net.run()
    finals = set().union(*net.final)
    assert not {compute_txid(first), compute_txid(second)} <= finals
    assert net.evidence, "an honest member holding both votes records evidence"

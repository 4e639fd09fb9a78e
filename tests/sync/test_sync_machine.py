"""The sync state machine against simulated peers: headers first, certificates
checked from headers and served voting sets, the checkpoint, bodies in a window
from several peers, blame for stalls and lies, and fork detection."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec
import pytest
from sync_helpers import OPERATORS, OUTSIDERS, PARAMS, Chain, Entry, certify

from timecoin.crypto import SigningKey, verify
from timecoin.params import Checkpoint
from timecoin.sync import (
    LYING_CODES,
    ApplyBlock,
    ForkDetected,
    InvalidCertifiedBlock,
    PenalizePeer,
    SendGetBodies,
    SendGetHeaders,
    SyncConfig,
    SyncEffect,
    SyncMachine,
)
from timecoin.sync.errors import (
    REJECT_BAD_HEADER,
    REJECT_BAD_HEADER_CERTIFICATE,
    REJECT_BAD_VOTING_SET,
    REJECT_BODY_MISMATCH,
    REJECT_CHECKPOINT_MISMATCH,
    REJECT_STALLED,
    REJECT_UNSOLICITED,
)
from timecoin.testing import sign_certificate
from timecoin.types import Block, compute_block_hash

LONG = Chain.build(40)
"""Ten epochs of the minimal preset: the voting set changes ten times."""


def checkpoint_of(chain: Chain, height: int) -> Checkpoint:
    return Checkpoint(height, chain.block_hash(height))


@dataclass
class Peer:
    """A simulated peer serving `chain`, honestly unless told otherwise."""

    chain: Chain
    silent: bool = False
    headers: Callable[[list[Entry]], list[Entry]] | None = None
    bodies: Callable[[list[Block]], list[Block]] | None = None
    served_bodies: int = 0

    def serve_headers(self, from_height: int, count: int) -> list[Entry]:
        entries = self.chain.entries(from_height, count)
        return entries if self.headers is None else self.headers(entries)

    def serve_bodies(self, hashes: tuple[bytes, ...]) -> list[Block]:
        by_hash = {compute_block_hash(b.header): b for b in self.chain.blocks}
        blocks: list[Block] = []
        for block_hash in hashes:
            block = by_hash.get(block_hash)
            if block is None:
                break
            blocks.append(block)
        self.served_bodies += len(blocks)
        return blocks if self.bodies is None else self.bodies(blocks)


@dataclass
class Net:
    """Runs a machine's effects against simulated peers (answers arrive in order)."""

    machine: SyncMachine
    truth: Chain
    peers: dict[str, Peer]
    now_ms: int = 0
    tip: int = 0
    penalties: list[PenalizePeer] = field(default_factory=list)
    forks: list[ForkDetected] = field(default_factory=list)
    invalid: list[InvalidCertifiedBlock] = field(default_factory=list)
    max_window: int = 0

    def connect_all(self) -> None:
        effects: list[SyncEffect] = []
        for peer_id in self.peers:
            effects.extend(self.machine.on_peer_connected(peer_id, self.now_ms))
        self.run(effects)

    def run(self, effects: list[SyncEffect], limit: int = 100_000) -> None:
        queue: deque[SyncEffect] = deque(effects)
        while queue and limit:
            limit -= 1
            effect = queue.popleft()
            queue.extend(self.handle(effect))

    def handle(self, effect: SyncEffect) -> list[SyncEffect]:
        m = self.machine
        if isinstance(effect, SendGetHeaders):
            peer = self.peers[effect.peer_id]
            if peer.silent:
                return []
            entries = peer.serve_headers(effect.from_height, effect.count)
            return m.on_headers(effect.peer_id, entries, peer.chain.height, self.now_ms)
        if isinstance(effect, SendGetBodies):
            self.max_window = max(self.max_window, m.best_header_height - self.tip)
            peer = self.peers[effect.peer_id]
            if peer.silent:
                return []
            blocks = peer.serve_bodies(effect.block_hashes)
            return m.on_bodies(effect.peer_id, blocks, self.now_ms)
        if isinstance(effect, ApplyBlock):
            height = effect.block.header.height
            assert height == self.tip + 1
            assert effect.block == self.truth.blocks[height]
            assert effect.certificate.block_hash == self.truth.block_hash(height)
            self.tip = height
            return m.on_committed(self.truth.tip_info(height), self.now_ms)
        if isinstance(effect, PenalizePeer):
            self.penalties.append(effect)
            return []
        if isinstance(effect, ForkDetected):
            self.forks.append(effect)
            return []
        self.invalid.append(effect)
        return []

    def tick(self, ms: int) -> None:
        self.now_ms += ms
        self.run(self.machine.on_tick(self.now_ms))


def make_net(
    peers: dict[str, Peer],
    *,
    truth: Chain = LONG,
    start: int = 0,
    config: SyncConfig | None = None,
) -> Net:
    config = config or SyncConfig(
        checkpoint=checkpoint_of(truth, 20),
        window_blocks=16,
        bodies_per_request=4,
        max_headers_ahead=64,
    )
    machine = SyncMachine(PARAMS, config, truth.tip_info(start), verify)
    net = Net(machine, truth, peers, tip=start)
    return net


def test_syncs_from_genesis_across_epochs_from_several_peers() -> None:
    net = make_net({"a": Peer(LONG), "b": Peer(LONG), "c": Peer(LONG)})
    net.connect_all()
    assert net.tip == LONG.height
    assert net.machine.stats.headers_verified == LONG.height
    assert not net.penalties and not net.forks
    served = [p.served_bodies for p in net.peers.values()]
    assert sum(served) == LONG.height and all(n > 0 for n in served), served
    progress = net.machine.progress()
    assert progress.verification_progress == 1.0 and not progress.initial_block_download


def test_bodies_stay_inside_the_window() -> None:
    config = SyncConfig(
        checkpoint=checkpoint_of(LONG, 8),
        window_blocks=8,
        bodies_per_request=2,
        max_headers_ahead=16,
    )
    net = make_net({"a": Peer(LONG), "b": Peer(LONG)}, config=config)
    net.connect_all()
    assert net.tip == LONG.height
    assert net.max_window <= 16
    assert max(net.machine.in_flight(p) for p in net.peers) <= config.max_requests_per_peer


def test_genesis_sync_needs_a_checkpoint() -> None:
    config = SyncConfig(checkpoint=None, require_checkpoint=True)
    net = make_net({"a": Peer(LONG)}, config=config)
    net.connect_all()
    assert net.tip == 0
    progress = net.machine.progress()
    assert progress.needs_checkpoint and progress.initial_block_download


def test_a_node_past_genesis_syncs_without_checkpoint() -> None:
    config = SyncConfig(checkpoint=None, require_checkpoint=True)
    net = make_net({"a": Peer(LONG)}, config=config, start=5)
    net.connect_all()
    assert net.tip == LONG.height


def test_a_header_chain_off_the_checkpoint_is_rejected() -> None:
    other = LONG.fork_at(15, 25)
    config = SyncConfig(checkpoint=checkpoint_of(LONG, 20))
    net = make_net({"liar": Peer(other)}, truth=other, config=config)
    net.connect_all()
    assert [p.code for p in net.penalties] == [REJECT_CHECKPOINT_MISMATCH]
    assert net.tip < 20 and net.machine.best_header_height < 20


def resign(entry: Entry, keys: list[SigningKey]) -> Entry:
    """`entry` with its certificate signed by `keys` at voter indices 0, 1, ..."""
    c = entry.certificate
    signed = sign_certificate(PARAMS.chain_id, c.height, c.round, c.block_hash, enumerate(keys))
    return Entry(entry.header, signed, entry.voting_set)


def test_headers_certified_by_keys_outside_the_voting_set_are_rejected_and_banned() -> None:
    forger = Peer(LONG, headers=lambda es: [resign(e, OUTSIDERS) for e in es])
    net = make_net({"forger": forger, "honest": Peer(LONG)})
    net.connect_all()
    codes = [p.code for p in net.penalties if p.peer_id == "forger"]
    assert codes == [REJECT_BAD_HEADER_CERTIFICATE]
    assert net.penalties[0].ban_s == net.machine.config.lie_ban_s
    assert net.tip == LONG.height


def test_a_certificate_short_of_a_quorum_is_rejected() -> None:
    short = Peer(LONG, headers=lambda es: [resign(e, OPERATORS[:2]) for e in es])
    net = make_net({"short": short})
    net.connect_all()
    assert [p.code for p in net.penalties] == [REJECT_BAD_HEADER_CERTIFICATE]
    assert "insufficient-weight" in net.penalties[0].reason


def test_a_voting_set_must_be_served_where_it_changes() -> None:
    stripped = Peer(LONG, headers=lambda es: [Entry(e.header, e.certificate, None) for e in es])
    net = make_net({"p": stripped})
    net.connect_all()
    assert [p.code for p in net.penalties] == [REJECT_BAD_VOTING_SET]
    assert net.machine.best_header_height == 2  # the set changes after block 3


def test_a_voting_set_other_than_the_committed_one_is_rejected() -> None:
    wrong_set = LONG.states[7].registry.voting_set  # epoch 2, served for epoch 1

    def swap(es: list[Entry]) -> list[Entry]:
        return [Entry(e.header, e.certificate, wrong_set if e.voting_set else None) for e in es]

    net = make_net({"p": Peer(LONG, headers=swap)})
    net.connect_all()
    assert [p.code for p in net.penalties] == [REJECT_BAD_VOTING_SET]


def test_unlinked_headers_are_rejected() -> None:
    def skip_one(es: list[Entry]) -> list[Entry]:
        return es[:2] + es[3:]

    net = make_net({"p": Peer(LONG, headers=skip_one)})
    net.connect_all()
    assert [p.code for p in net.penalties] == [REJECT_BAD_HEADER]


def test_a_body_that_is_not_its_headers_blames_the_peer_and_sync_goes_on() -> None:
    def tamper(blocks: list[Block]) -> list[Block]:
        if not blocks:
            return blocks
        first = blocks[0]
        return [
            msgspec.structs.replace(first, evidence=[], transactions=first.transactions * 2),
            *blocks[1:],
        ]

    net = make_net({"liar": Peer(LONG, bodies=tamper), "honest": Peer(LONG)})
    net.connect_all()
    liar = [p for p in net.penalties if p.peer_id == "liar"]
    assert [p.code for p in liar] == [REJECT_BODY_MISMATCH]
    assert not net.invalid
    assert net.tip == LONG.height


def test_a_body_of_another_height_blames_the_peer() -> None:
    shifted = Peer(LONG, bodies=lambda bs: [LONG.blocks[b.header.height - 1] for b in bs])
    net = make_net({"liar": shifted, "honest": Peer(LONG)})
    net.connect_all()
    assert REJECT_BODY_MISMATCH in [p.code for p in net.penalties if p.peer_id == "liar"]
    assert net.tip == LONG.height


def test_a_stalled_peer_is_dropped_briefly_and_its_heights_reassigned() -> None:
    net = make_net({"a": Peer(LONG), "b": Peer(LONG)})
    net.peers["b"].silent = True
    net.connect_all()
    assert net.tip < LONG.height or not net.penalties
    net.tick(net.machine.config.request_timeout_ms)
    stalled = [p for p in net.penalties if p.peer_id == "b"]
    assert [p.code for p in stalled] == [REJECT_STALLED]
    assert stalled[0].ban_s == net.machine.config.stall_ban_s
    assert REJECT_STALLED not in LYING_CODES
    net.tick(1)
    assert net.tip == LONG.height


def test_an_empty_body_answer_rests_the_peer_without_penalty() -> None:
    empty = Peer(LONG, bodies=lambda bs: [])
    net = make_net({"empty": empty, "honest": Peer(LONG)})
    net.connect_all()
    for _ in range(5):
        net.tick(net.machine.config.empty_answer_cooldown_ms)
    assert net.tip == LONG.height
    assert not net.penalties


def test_unsolicited_answers_are_lies() -> None:
    net = make_net({"a": Peer(LONG)})
    net.run(net.machine.on_peer_connected("a", 0))
    net.run(net.machine.on_headers("a", LONG.entries(1, 3), LONG.height, 0))
    net.run(net.machine.on_bodies("a", LONG.blocks[1:2], 0))
    assert [p.code for p in net.penalties] == [REJECT_UNSOLICITED]


def test_two_certified_headers_at_one_height_halt_with_evidence() -> None:
    ours = LONG
    theirs = LONG.fork_at(12, 3)  # block 12 with the same parent as ours
    net = make_net({"other": Peer(theirs)}, truth=ours, start=12)
    net.connect_all()
    assert len(net.forks) == 1
    evidence = net.forks[0].evidence
    assert evidence.height == 12
    assert evidence.our_block_hash == ours.block_hash(12)
    assert evidence.their_block_hash == theirs.block_hash(12)
    assert evidence.our_certificate == ours.certificates[12]
    assert evidence.peer_id == "other"
    assert net.machine.halted and net.machine.progress().halted
    assert not net.penalties
    # halted: nothing more is asked or handed over
    assert net.machine.on_peer_connected("late", 0) == []


def test_a_gossiped_certificate_for_another_block_at_the_tip_is_a_fork() -> None:
    theirs = LONG.fork_at(12, 1)
    net = make_net({}, start=12)
    net.run(net.machine.on_certificate("x", theirs.certificates[12], 0))  # type: ignore[arg-type]
    assert len(net.forks) == 1 and net.forks[0].evidence.their_header is None


def test_an_invalid_certificate_for_another_block_is_no_fork() -> None:
    theirs = LONG.fork_at(12, 1)
    forged = certify(theirs.states[12], OUTSIDERS)
    net = make_net({}, start=12)
    net.run(net.machine.on_certificate("x", forged, 0))
    assert not net.forks and not net.machine.halted


def test_consensus_committing_another_block_than_a_verified_header_is_a_fork() -> None:
    net = make_net(
        {"a": Peer(LONG)}, config=SyncConfig(checkpoint=checkpoint_of(LONG, 4)), start=10
    )
    # headers only: the peer answers no bodies
    net.peers["a"].bodies = lambda bs: []
    net.connect_all()
    assert net.machine.best_header_height == LONG.height
    theirs = LONG.fork_at(10, 3)
    net.run(net.machine.on_committed(theirs.tip_info(11), 0))
    assert len(net.forks) == 1 and net.forks[0].evidence.height == 11


def test_a_certified_block_failing_its_rules_halts() -> None:
    net = make_net({"a": Peer(LONG)}, start=10)
    net.peers["a"].bodies = lambda bs: []
    net.connect_all()
    effects = net.machine.on_apply_failed(11, "bad-utxo-commitment: ...")
    assert [type(e) for e in effects] == [InvalidCertifiedBlock]
    assert net.machine.halted


def test_a_node_ahead_of_its_peers_asks_for_nothing_more() -> None:
    net = make_net({"behind": Peer(Chain.build(5))}, start=LONG.height)
    net.connect_all()
    assert net.machine.peer_height("behind") == 5  # as its (empty) answer says
    assert not net.penalties and net.tip == LONG.height


@pytest.mark.parametrize(
    "bad",
    [
        {"max_headers_per_request": 0},
        {"bodies_per_request": 33},
        {"window_blocks": 2, "bodies_per_request": 4},
        {"max_headers_ahead": 1},
    ],
)
def test_config_limits(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        SyncConfig(**bad)  # type: ignore[arg-type]

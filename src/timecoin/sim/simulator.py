"""The simulation of one run: nodes, network, faults, workload and checkers
on a virtual clock, all drawn from one seed.

`run_simulation(config)` builds the genesis (wallet allocations and the
genesis masternodes), the nodes, the fault plan and the workload from
`random.Random(config.seed)`, runs the event queue until every honest node
has reached the target height after the faults healed (or a liveness
deadline passes, or safety breaks), runs the final checks and returns a
`SimResult`. Nothing reads the wall clock or a global random generator, so
the same configuration replays the same run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import partial
from typing import Final

from timecoin.chain import (
    AppliedBlock,
    ChainState,
    GenesisMasternode,
    GenesisSpec,
    build_genesis,
    chain_state_from_genesis,
    validate_block,
    voting_set_at,
)
from timecoin.chain.certificate import verify_certificate
from timecoin.crypto import SigningKey, address_from_public_key, sha256
from timecoin.encoding import encode
from timecoin.ledger import SignatureCache, UtxoView
from timecoin.masternode import RegistryState, compute_eligible_weight
from timecoin.params import Tier
from timecoin.sim.byzantine import Coalition, GrindStrategy, InvalidStrategy, make_strategy
from timecoin.sim.checkers import Recorder, Violation
from timecoin.sim.config import TIERS_MIXED, SimConfig
from timecoin.sim.events import EventQueue
from timecoin.sim.faults import Crash, FaultPlan, plan_faults
from timecoin.sim.network import HEALED_MAX_DELAY_MS
from timecoin.sim.node import MAINTENANCE_INTERVAL_MS, SimNode
from timecoin.sim.promise import CommitteeShare, compute_committee_share, is_promised
from timecoin.sim.workload import Workload
from timecoin.types import (
    Block,
    Certificate,
    Coin,
    InvalidBlock,
    InvalidVote,
    OutPoint,
    Transaction,
    VotingSet,
    compute_txid,
)

GENESIS_TIMESTAMP_MS: Final = 0
"""Header timestamp of the simulated genesis; virtual time starts there too."""

MONITOR_INTERVAL_MS: Final = 50
"""Period of the run monitor (stop conditions, liveness deadline)."""

ARMED_CRASH_TIMEOUT_MS: Final = 100
"""An armed crash (after the next WAL append) that has not happened by then
happens anyway."""

MAX_VALIDATION_CACHE: Final = 20_000
"""Bound of the shared validation cache."""

SIGNATURE_CACHE_ENTRIES: Final = 400_000
"""Bound of the signature cache shared by the simulated nodes."""

PAYMENT_RESUBMIT_MS: Final = 300
"""An honest payment not final anywhere is submitted again, to a random node,
after this much virtual time (the node it went to may have crashed)."""

SCALE_TIERS: Final = ((Tier.GOLD, 5), (Tier.SILVER, 15), (Tier.BRONZE, 40), (Tier.FREE, 40))
"""Tier mix (percent) of the genesis masternodes of a scale run."""

MIXED_TIERS: Final = ((Tier.GOLD, 10), (Tier.SILVER, 30), (Tier.BRONZE, 60))
"""Tier mix (percent) of a small run with `tiers = "mixed"`: a staked
population like 30 Gold, 90 Silver and 180 Bronze of 300, scaled down."""


STALL_HEIGHTS: Final = 3
"""After the heal, a run in which no honest node commits a block for the
liveness budget of this many heights ends at once with a `liveness`
verdict, instead of running to the deadline of its whole target: a stalled
run keeps submitting and gossiping, so its events per simulated second
grow, and a 30-height target took more than 10 minutes to fail."""


def compute_liveness_budget_ms(config: SimConfig, heights: int) -> int:
    """Virtual time allowed, after the heal, to commit `heights` more blocks.

    A base of three maximal timeouts and two maintenance periods (to find
    each other's round and catch up), then per height two full rounds: the
    block interval, the propose timeout, both vote timeouts and four healed
    message delays each.
    """
    params = config.chain_params()
    base_ms = 3 * params.timeout_max_ms + 2 * MAINTENANCE_INTERVAL_MS
    round_ms = (
        params.block_interval_ms
        + params.timeout_propose_ms
        + 2 * params.timeout_vote_ms
        + 4 * HEALED_MAX_DELAY_MS
    )
    return base_ms + heights * 2 * round_ms


@dataclass(slots=True)
class SimResult:
    """What one run did and found."""

    config: SimConfig
    heal_ms: int
    target_height: int
    min_height: int
    max_height: int
    virtual_ms: int
    events: int
    violations: list[Violation]
    commit_latencies_ms: list[int] = field(default_factory=list)
    messages_sent: int = 0
    messages_lost: int = 0
    messages_duplicated: int = 0
    decode_rejects: int = 0
    invalid_messages: int = 0
    evidence_events: int = 0
    crashes: int = 0
    transactions: int = 0
    registrations: int = 0
    deregistrations: int = 0
    voting_set_changes: int = 0
    final_transactions: int = 0
    heartbeats: int = 0
    reward_recipients: int = 0
    committee_shares: list[CommitteeShare] = field(default_factory=list)
    seeds_ground: int = 0
    seeds_improved: int = 0
    grind_gain_weight: int = 0

    @property
    def safety_violations(self) -> list[Violation]:
        """Every violation but liveness."""
        return [v for v in self.violations if v.kind != "liveness"]

    @property
    def liveness_failures(self) -> list[Violation]:
        """The liveness violations."""
        return [v for v in self.violations if v.kind == "liveness"]

    @property
    def ok(self) -> bool:
        """True when no property was broken."""
        return not self.violations

    @property
    def defects(self) -> list[Violation]:
        """The violations the promise covers (`timecoin.sim.promise`): with
        every committee's Byzantine share within it, each is a protocol defect."""
        return [v for v in self.violations if is_promised(v.kind, self.committee_shares)]

    @property
    def max_byzantine_share(self) -> float:
        """The largest Byzantine share of a committee's weight in the run."""
        return max((s.share for s in self.committee_shares), default=0.0)

    def describe_committees(self) -> str:
        """The Byzantine weight of every committee of the run, in epoch order."""
        return ", ".join(s.describe() for s in self.committee_shares)

    def failure_report(self) -> str:
        """The seed, the violations and the command that replays the run."""
        defects = len(self.defects)
        lines = [
            f"seed {self.config.seed}: {len(self.violations)} violation(s), "
            f"{defects} within the promise (protocol defects)",
            f"  Byzantine weight per committee: {self.describe_committees()}",
        ]
        lines.extend(f"  {v.describe()}" for v in self.violations[:10])
        if len(self.violations) > 10:
            lines.append(f"  ... and {len(self.violations) - 10} more")
        lines.append(f"  replay: {self.config.replay_command()}")
        return "\n".join(lines)


class Simulation:
    """One run. Build it with a `SimConfig`, then call `run()` once."""

    def __init__(self, config: SimConfig) -> None:
        """Draw everything of the run from `random.Random(config.seed)`.

        Raises ValueError for an impossible configuration.
        """
        config.check()
        self.config = config
        self.rng = random.Random(config.seed)
        self.params = config.chain_params()
        self.queue = EventQueue(now_ms=GENESIS_TIMESTAMP_MS)
        self.sig_cache = SignatureCache(SIGNATURE_CACHE_ENTRIES)
        self.verifier = self.sig_cache.verify
        self._validation_cache: dict[tuple[bytes, bytes], AppliedBlock | InvalidBlock] = {}
        self._members_cache: dict[int, tuple[VotingSet, list[int]]] = {}
        self._certificate_cache: dict[tuple[bytes, int, bytes, bytes], InvalidVote | bool] = {}
        rng = self.rng
        genesis_count = config.nodes
        spare_count = config.spare_count()
        self.node_count = genesis_count + spare_count
        keys = [SigningKey.from_seed(rng.randbytes(32)) for _ in range(self.node_count)]
        self._tiers: list[Tier] | None = None
        if config.byzantine_percent is None:
            self.byzantine_ids = sorted(rng.sample(range(genesis_count), config.byzantine))
        else:
            self._tiers = self._draw_tiers(genesis_count)
            self.byzantine_ids = self._draw_byzantine_by_weight(self._tiers)
        byzantine = set(self.byzantine_ids)
        self.honest_ids = [i for i in range(self.node_count) if i not in byzantine]
        self.workload = Workload(
            self.params,
            rng,
            config.wallets,
            [(i, keys[i].public_key) for i in range(genesis_count, self.node_count)],
        )
        spec = GenesisSpec(
            params=self.params,
            timestamp_ms=GENESIS_TIMESTAMP_MS,
            allocations=self.workload.genesis_allocations(),
            masternodes=tuple(self._genesis_masternodes(keys[:genesis_count])),
        )
        self.genesis_block = build_genesis(spec)
        self.workload.observe_block(self.genesis_block)
        state, delta = chain_state_from_genesis(self.genesis_block, self.params)
        self.genesis_state: ChainState = state
        self.genesis_coins: dict[OutPoint, Coin] = dict(delta.created)
        genesis_supply = sum(coin.amount for coin in delta.created.values())
        self.recorder = Recorder(self, genesis_supply)
        self.heal_ms = self._draw_heal_ms()
        self.plan: FaultPlan = plan_faults(
            config.faults,
            rng,
            list(range(self.node_count)),
            self.honest_ids,
            self.heal_ms,
            config.delay,
        )
        self.network = self.plan.network
        self._key_to_node = {key.public_key: i for i, key in enumerate(keys)}
        self._all_nodes = list(range(self.node_count))
        self._byzantine_keys = {keys[i].public_key for i in self.byzantine_ids}
        coalition = None
        if config.strategy == "equivocate" and self.byzantine_ids:
            coalition = Coalition(self, self.byzantine_ids, self.honest_ids)
        self.coalition = coalition
        self.nodes = [
            SimNode(
                self,
                i,
                keys[i],
                make_strategy(config.strategy, coalition) if i in byzantine else None,
                self.plan.skews_ms.get(i, 0),
            )
            for i in range(self.node_count)
        ]
        self.target_height = config.heights
        self.deadline_ms: int | None = None
        self._progress = (0, GENESIS_TIMESTAMP_MS)
        """(sum of the honest heights, virtual time it was first seen)."""
        self.crashes = 0
        self.voting_set_changes = 0
        self._last_voters = tuple(sorted(v.operator_key for v in state.registry.voting_set.voters))
        self._stopped = False
        self._members = self.members_of(state.registry.voting_set)
        self._committee_shares: dict[int, CommitteeShare] = {}
        self._record_committee(state.registry)
        self._payments: dict[bytes, tuple[Transaction, int]] = {}

    # ---------------------------------------------------------------- setup

    def _draw_tiers(self, count: int) -> list[Tier]:
        mix = SCALE_TIERS if self.config.is_scale else MIXED_TIERS
        if not self.config.is_scale and self.config.tiers != TIERS_MIXED:
            return [Tier.BRONZE] * count
        tiers = []
        for tier, percent in mix:
            tiers.extend([tier] * (count * percent // 100))
        tiers.extend([Tier.BRONZE] * (count - len(tiers)))
        self.rng.shuffle(tiers)
        return tiers

    def _draw_byzantine_by_weight(self, tiers: list[Tier]) -> list[int]:
        """Genesis nodes in random order, each made Byzantine while the
        Byzantine voting weight stays at most `byzantine_percent` of the total."""
        weights = [self.params.tier_params(t).voting_weight for t in tiers]
        total = sum(weights)
        percent = self.config.byzantine_percent
        assert percent is not None
        order = list(range(len(tiers)))
        self.rng.shuffle(order)
        chosen: list[int] = []
        weight = 0
        for node in order:
            if weights[node] > 0 and 100 * (weight + weights[node]) <= percent * total:
                chosen.append(node)
                weight += weights[node]
        return sorted(chosen)

    def _genesis_masternodes(self, keys: list[SigningKey]) -> list[GenesisMasternode]:
        rng = self.rng
        tiers = self._tiers if self._tiers is not None else self._draw_tiers(len(keys))
        masternodes = []
        for index, (key, tier) in enumerate(zip(keys, tiers, strict=True)):
            owner = SigningKey.from_seed(rng.randbytes(32))
            masternodes.append(
                GenesisMasternode(
                    tier=tier,
                    owner_key=owner.public_key,
                    operator_key=key.public_key,
                    reward_address=address_from_public_key(owner.public_key),
                    network_address=f"sim:{index}".encode(),
                )
            )
        return masternodes

    def _draw_heal_ms(self) -> int:
        if self.config.faults == "none":
            return GENESIS_TIMESTAMP_MS
        nominal_ms = self.config.heights * (self.params.block_interval_ms + 20)
        return GENESIS_TIMESTAMP_MS + self.rng.randint(nominal_ms * 3 // 10, nominal_ms * 8 // 10)

    # ------------------------------------------------------ node services

    def members_of(self, voting_set: VotingSet) -> list[int]:
        """The node ids of the voters of `voting_set`."""
        cached = self._members_cache.get(id(voting_set))
        if cached is not None and cached[0] is voting_set:
            return cached[1]
        members = [
            node
            for node in (self._key_to_node.get(v.operator_key) for v in voting_set.voters)
            if node is not None
        ]
        self._members_cache[id(voting_set)] = (voting_set, members)
        return members

    def node_of_key(self, public_key: bytes) -> int | None:
        """The node whose operator key is `public_key`, or None."""
        return self._key_to_node.get(public_key)

    def finality_targets(self, node: SimNode) -> list[int]:
        """Where `node` sends transactions, votes, proofs and reports: every
        node in small runs (followers keep final views, spares become
        members), the members of its next height's voting set in scale runs."""
        if not self.config.is_scale:
            return self._all_nodes
        voting_set = voting_set_at(node.state, node.state.height + 1)
        return [] if voting_set is None else self.members_of(voting_set)

    def is_byzantine_key(self, public_key: bytes) -> bool:
        """Whether `public_key` is the operator key of a Byzantine node."""
        return public_key in self._byzantine_keys

    def send(self, src: int, dst: int, data: bytes, extra_delay_ms: int = 0) -> None:
        """Send `data` from `src` to `dst` through the network model."""
        queue = self.queue
        if not self.nodes[src].is_connected():
            return  # a restarted node before its connections are back
        for delay_ms in self.network.plan_delivery(src, dst, queue.now_ms, self.rng):
            queue.schedule_in(
                delay_ms + extra_delay_ms, partial(self.nodes[dst].deliver, src, data)
            )

    def validate(self, state: ChainState, view: UtxoView, block: Block) -> AppliedBlock:
        """`validate_block` of `block` after `state`, shared by all nodes.

        Validity is a function of the block and its parent state (which the
        parent's hash identifies, the UTXO set included, as the checkers
        verify), so the result is computed once per (parent, block). The
        block is identified by the hash of its whole encoding, not only its
        header: a body that does not match its header must not make the
        header's block invalid.
        Raises InvalidBlock.
        """
        key = (state.block_hash, sha256(encode(block)))
        cached = self._validation_cache.get(key)
        if cached is None:
            try:
                cached = validate_block(
                    block, state, view, verifier=self.verifier, sig_cache=self.sig_cache
                )
            except InvalidBlock as exc:
                cached = exc
            self._store_validation(key, cached)
        if isinstance(cached, InvalidBlock):
            raise InvalidBlock(cached.reject_code, cached.message)
        return cached

    def verify_certificate(
        self, state: ChainState, certificate: Certificate, height: int, block_hash: bytes
    ) -> None:
        """`chain.certificate.verify_certificate` of `certificate` for block
        `block_hash` at `height`, against the voting set of that height in
        `state`; shared by all nodes, like `validate`, since the result is a
        function of the state (its tip hash) and the certificate.
        Raises InvalidVote.
        """
        key = (state.block_hash, height, block_hash, sha256(encode(certificate)))
        cached = self._certificate_cache.get(key)
        if cached is None:
            cached = True
            voting_set = voting_set_at(state, height)
            try:
                if voting_set is None:
                    raise InvalidVote("unknown-voter", f"no voting set for height {height}")
                verify_certificate(
                    certificate,
                    voting_set,
                    self.params.chain_id,
                    self.verifier,
                    expected_height=height,
                    expected_block_hash=block_hash,
                )
            except InvalidVote as exc:
                cached = exc
            if len(self._certificate_cache) >= MAX_VALIDATION_CACHE:
                del self._certificate_cache[next(iter(self._certificate_cache))]
            self._certificate_cache[key] = cached
        if isinstance(cached, InvalidVote):
            raise InvalidVote(cached.reject_code, cached.message)

    def remember(self, state: ChainState, applied: AppliedBlock) -> None:
        """Cache a block the chain layer built (valid by construction)."""
        self._store_validation((state.block_hash, sha256(encode(applied.block))), applied)

    def _store_validation(
        self, key: tuple[bytes, bytes], value: AppliedBlock | InvalidBlock
    ) -> None:
        if len(self._validation_cache) >= MAX_VALIDATION_CACHE:
            del self._validation_cache[next(iter(self._validation_cache))]
        self._validation_cache[key] = value

    def on_commit(
        self,
        node: SimNode,
        state_before: ChainState,
        applied: AppliedBlock,
        certificate: Certificate,
        *,
        decided: bool,
    ) -> None:
        """A node applied a block: run the checkers."""
        self.recorder.on_commit(node, state_before, applied, certificate, decided=decided)
        if isinstance(node.strategy, InvalidStrategy):
            node.strategy.remember(applied.block)

    def on_first_commit(self, applied: AppliedBlock) -> None:
        """The first commit of a height by an honest node: drive the workload,
        count changes of the voting set's membership."""
        block = applied.block
        voters = tuple(
            sorted(v.operator_key for v in applied.state_after.registry.voting_set.voters)
        )
        if voters != self._last_voters:
            self._last_voters = voters
            self.voting_set_changes += 1
        self.workload.observe_block(block)
        self._members = self.members_of(applied.state_after.registry.voting_set)
        self._record_committee(applied.state_after.registry)
        for tx in self.workload.make_churn(self.rng):
            self._submit(tx, payment=True)

    def _record_committee(self, registry: RegistryState) -> None:
        voting_set = registry.voting_set
        if voting_set.epoch not in self._committee_shares:
            eligible = compute_eligible_weight(registry.entries, voting_set.epoch, self.params)
            share = compute_committee_share(voting_set, self.is_byzantine_key, eligible)
            self._committee_shares[voting_set.epoch] = share

    def crash_node(self, node: SimNode) -> None:
        """Crash `node` now."""
        if node.up:
            self.crashes += 1
            node.crash()

    # ----------------------------------------------------------------- run

    def _submit(self, tx: Transaction, *, payment: bool) -> None:
        """Submit `tx` to a random node; an honest `payment` is tracked and
        submitted again until it is final."""
        self.recorder.on_submitted(tx, payment=payment)
        if payment:
            self._payments[compute_txid(tx)] = (tx, self.queue.now_ms)
        self.nodes[self.rng.randrange(self.node_count)].submit(tx)

    def _attack(self, first: Transaction, second: Transaction) -> None:
        """A double spend: the conflicting pair sent at the same instant to
        two different members of the current committee."""
        members = self._members if len(self._members) >= 2 else list(range(self.node_count))
        targets = self.rng.sample(members, 2) if len(members) >= 2 else members * 2
        for tx, target in zip((first, second), targets, strict=True):
            self.recorder.on_submitted(tx, payment=False)
            self.nodes[target].submit(tx)

    def _resubmit_payments(self) -> None:
        recorder = self.recorder
        now_ms = self.queue.now_ms
        for txid, (tx, sent_ms) in list(self._payments.items()):
            if txid in recorder.included:
                del self._payments[txid]
            elif txid not in recorder.finals and now_ms - sent_ms >= PAYMENT_RESUBMIT_MS:
                self._payments[txid] = (tx, now_ms)
                self.nodes[self.rng.randrange(self.node_count)].submit(tx)

    def _transfer_tick(self) -> None:
        if self._stopped:
            return
        transfers = self.workload.make_transfers(self.rng)
        if len(transfers) == 2:
            self._attack(transfers[0], transfers[1])
        for tx in transfers[:1] if len(transfers) == 1 else []:
            self._submit(tx, payment=True)
        self._resubmit_payments()
        mean_ms = self.config.transfer_interval_ms()
        self.queue.schedule_in(
            max(1, int(self.rng.expovariate(1.0 / mean_ms))), self._transfer_tick
        )

    def _schedule_crash(self, crash: Crash) -> None:
        node = self.nodes[crash.node]

        def start() -> None:
            if not node.up:
                return
            if crash.after_persist:
                node.crash_armed = True
                fallback_ms = min(crash.at_ms + ARMED_CRASH_TIMEOUT_MS, crash.restart_ms)
                self.queue.schedule_at(fallback_ms, fallback)
            else:
                self.crash_node(node)

        def fallback() -> None:
            if node.crash_armed and node.up:
                self.crash_node(node)

        def restart() -> None:
            node.crash_armed = False
            if not node.up:
                node.boot()

        self.queue.schedule_at(crash.at_ms, start)
        self.queue.schedule_at(crash.restart_ms, restart)

    def _honest_heights(self) -> list[int]:
        return [self.nodes[i].height for i in self.honest_ids]

    def _on_heal(self) -> None:
        heights = self._honest_heights()
        self.recorder.heal_height = max(heights)
        self.target_height = max(self.config.heights, max(heights) + 1)
        needed = self.target_height - min(heights)
        self.deadline_ms = self.queue.now_ms + compute_liveness_budget_ms(self.config, needed)

    def _monitor(self) -> None:
        now_ms = self.queue.now_ms
        if any(v.kind == "agreement" for v in self.recorder.violations):
            self._stopped = True
            return
        heights = self._honest_heights()
        if now_ms >= self.heal_ms and self.deadline_ms is not None:
            if min(heights) >= self.target_height:
                self._stopped = True
                return
            if sum(heights) > self._progress[0]:
                self._progress = (sum(heights), now_ms)
            stall_ms = max(self.heal_ms, self._progress[1]) + compute_liveness_budget_ms(
                self.config, STALL_HEIGHTS
            )
            if now_ms > self.deadline_ms or now_ms > stall_ms:
                lagging = [
                    f"node {i} at {self.nodes[i].height}"
                    for i in self.honest_ids
                    if self.nodes[i].height < self.target_height
                ]
                stalled = (
                    f" (no progress for {now_ms - max(self.heal_ms, self._progress[1])} ms)"
                    if now_ms <= self.deadline_ms
                    else ""
                )
                self.recorder.add(
                    "liveness",
                    None,
                    self.target_height,
                    f"{len(lagging)} honest node(s) below height {self.target_height} "
                    f"{now_ms - self.heal_ms} ms after the heal{stalled}: {', '.join(lagging[:8])}",
                )
                self._stopped = True
                return
        self.queue.schedule_in(MONITOR_INTERVAL_MS, self._monitor)

    def run(self) -> SimResult:
        """Run to the end and return the result (call once)."""
        queue = self.queue
        for node in self.nodes:
            node.boot()
        for crash in self.plan.crashes:
            self._schedule_crash(crash)
        queue.schedule_at(self.heal_ms, self._on_heal)
        queue.schedule_in(1, self._transfer_tick)
        queue.schedule_in(MONITOR_INTERVAL_MS, self._monitor)
        while not self._stopped and queue.run_next():
            pass
        self.recorder.finish()
        return self._result()

    def _result(self) -> SimResult:
        heights = self._honest_heights() or [0]
        network = self.network
        blocks = (
            [block for block, _ in self.nodes[self.honest_ids[0]].disk.blocks]
            if self.honest_ids
            else []
        )
        spares = self.workload.spares
        return SimResult(
            config=self.config,
            heal_ms=self.heal_ms,
            target_height=self.target_height,
            min_height=min(heights),
            max_height=max(heights),
            virtual_ms=self.queue.now_ms,
            events=self.queue.processed,
            violations=list(self.recorder.violations),
            commit_latencies_ms=list(self.recorder.commit_latencies_ms),
            messages_sent=network.sent,
            messages_lost=network.lost,
            messages_duplicated=network.duplicated,
            decode_rejects=sum(self.nodes[i].decode_rejects for i in self.honest_ids),
            invalid_messages=sum(self.nodes[i].invalid_messages for i in self.honest_ids),
            evidence_events=self.recorder.evidence_events,
            crashes=self.crashes,
            transactions=sum(
                len(block.transactions) - 1
                for block, _ in self.nodes[self.honest_ids[0]].disk.blocks
            )
            if self.honest_ids
            else 0,
            registrations=sum(s.registrations for s in spares),
            deregistrations=sum(s.deregistrations for s in spares),
            voting_set_changes=self.voting_set_changes,
            final_transactions=len(self.recorder.finals),
            heartbeats=sum(len(block.attestations) for block in blocks),
            reward_recipients=len(
                {txout.address for block in blocks for txout in block.transactions[0].outputs}
            ),
            committee_shares=[self._committee_shares[e] for e in sorted(self._committee_shares)],
            seeds_ground=sum(g.ground for g in self._grinders()),
            seeds_improved=sum(g.improved for g in self._grinders()),
            grind_gain_weight=sum(g.gained_weight for g in self._grinders()),
        )

    def _grinders(self) -> list[GrindStrategy]:
        return [n.strategy for n in self.nodes if isinstance(n.strategy, GrindStrategy)]


def run_simulation(config: SimConfig) -> SimResult:
    """Run the simulation of `config` and return its result."""
    config.check()
    return Simulation(config).run()

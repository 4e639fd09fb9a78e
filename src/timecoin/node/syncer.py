"""Runs the sync state machine on the real network, store and clock.

`Syncer` feeds `timecoin.sync.SyncMachine` with peer events, the heights
peers reveal in consensus messages, `Headers` and `Bodies` answers, the
local commits and a periodic tick, and runs its effects: requests go out
through the peer manager, `ApplyBlock` goes to the consensus driver (which
validates and commits it), a penalized peer is disconnected and its node
key banned, and a fork halts block production with a loud alert and the
evidence written to the data directory. It also serves `GetHeaders` and
`GetBodies` from the store, within a per-peer `ServeLimiter`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import MutableMapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final

from timecoin.chain import voting_set_at
from timecoin.chain.certificate import Verifier
from timecoin.encoding import encode
from timecoin.node.driver import ConsensusDriver
from timecoin.node.store import get_certificate
from timecoin.p2p import PeerManager
from timecoin.p2p.bans import BanKind
from timecoin.p2p.messages import (
    MAX_BODIES_PER_MSG,
    MAX_HEADERS_PER_MSG,
    Bodies,
    GetBodies,
    GetHeaders,
    HeaderEntry,
    Headers,
    MessageClass,
)
from timecoin.p2p.ratelimit import ClassRate
from timecoin.params import ChainParams
from timecoin.storage import ChainStore
from timecoin.sync import (
    ApplyBlock,
    ForkDetected,
    ForkEvidence,
    InvalidCertifiedBlock,
    PenalizePeer,
    SendGetBodies,
    SendGetHeaders,
    ServeLimiter,
    SyncConfig,
    SyncEffect,
    SyncMachine,
    TipInfo,
)
from timecoin.types import Block, Certificate, VotingSet

log = logging.getLogger("timecoin.node.sync")

MAX_SERVE_BYTES: Final = 8_000_000
"""Stop adding blocks to one `Bodies` beyond this many encoded bytes."""
SERVE_ITEMS_PER_S: Final = 2_000.0
SERVE_BURST_ITEMS: Final = 4_000.0
SYNC_BYTES_PER_S: Final = 64_000_000
"""Inbound byte rate of the sync message class per peer. A message beyond its
class rate is dropped unread; at the preset's 4 MB/s (2 s burst) a sync of
1,000-transaction blocks (about 3 MB per 16-block `Bodies`) outran it within
seconds, the dropped answer stalled its request and the honest peer was
banned for 60 s (bench/sync.py). Answers are solicited and bounded
(`max_requests_per_peer` requests of at most MAX_SERVE_BYTES each; an
unsolicited one bans the sender); requests stay bounded by the class's
message rate and the `ServeLimiter`."""


def now_ms() -> int:
    """The wall clock in milliseconds (the machine's time input)."""
    return int(time.time() * 1000)


def sync_class_rate(params: ChainParams) -> tuple[MessageClass, ClassRate]:
    """The p2p rate of the sync class: the preset's, with SYNC_BYTES_PER_S."""
    rates = params.rates
    return MessageClass.SYNC, ClassRate(
        messages_per_s=float(rates.messages_per_s),
        bytes_per_s=float(max(rates.bytes_per_s, SYNC_BYTES_PER_S)),
        ban_multiple=float(rates.ban_multiple),
    )


def tip_info(driver: ConsensusDriver) -> TipInfo:
    """The `TipInfo` of the driver's tip."""
    state = driver.state
    return TipInfo(
        height=state.height,
        block_hash=state.block_hash,
        header=state.header,
        certificate=driver.tip_certificate if state.height > 0 else None,
        certifying_set=voting_set_at(state, state.height) if state.height > 0 else None,
        next_voting_set=state.registry.voting_set,
    )


def serve_headers(
    chain: ChainStore,
    request: GetHeaders,
    voting_sets: MutableMapping[int, VotingSet],
    params: ChainParams,
) -> Headers:
    """Certified headers from `request.from_height` on, with the voting set
    where it changes; stops early at anything it cannot serve."""
    tip = chain.get_tip()
    tip_height = 0 if tip is None else tip.height
    entries: list[HeaderEntry] = []
    count = min(request.count, MAX_HEADERS_PER_MSG)
    parent_hash = chain.get_block_hash(request.from_height - 1)
    parent = None if parent_hash is None else chain.get_header(parent_hash)
    for height in range(request.from_height, min(tip_height, request.from_height + count - 1) + 1):
        block_hash = chain.get_block_hash(height)
        header = None if block_hash is None else chain.get_header(block_hash)
        certificate = get_certificate(chain, height)
        if header is None or certificate is None or parent is None:
            break
        voting_set = None
        if header.next_voting_set_hash != parent.next_voting_set_hash:
            voting_set = voting_sets.get(params.epoch_of(height + 1))
            if voting_set is None or voting_set.compute_hash() != header.next_voting_set_hash:
                break
        entries.append(HeaderEntry(header=header, certificate=certificate, voting_set=voting_set))
        parent = header
    return Headers(tip_height=tip_height, headers=entries)


def serve_bodies(chain: ChainStore, request: GetBodies) -> Bodies:
    """The stored blocks asked for, in order, up to the first unknown one and
    within MAX_SERVE_BYTES."""
    blocks: list[Block] = []
    size = 0
    for block_hash in request.block_hashes[:MAX_BODIES_PER_MSG]:
        block = chain.get_block(block_hash)
        if block is None:
            break
        size += len(encode(block))
        if blocks and size > MAX_SERVE_BYTES:
            break
        blocks.append(block)
    return Bodies(blocks=blocks)


def evidence_json(evidence: ForkEvidence) -> dict[str, object]:
    """The fork evidence as a JSON object (hex bytes, encoded certificates)."""

    def cert(certificate: Certificate | None) -> str | None:
        return None if certificate is None else encode(certificate).hex()

    return {
        "height": evidence.height,
        "our_block_hash": evidence.our_block_hash.hex(),
        "our_certificate": cert(evidence.our_certificate),
        "their_block_hash": evidence.their_block_hash.hex(),
        "their_certificate": cert(evidence.their_certificate),
        "their_header": None
        if evidence.their_header is None
        else encode(evidence.their_header).hex(),
        "peer_id": evidence.peer_id,
    }


class Syncer:
    """The sync machine of one node on asyncio (see the module docstring)."""

    def __init__(
        self,
        *,
        params: ChainParams,
        config: SyncConfig,
        driver: ConsensusDriver,
        chain: ChainStore,
        peers: PeerManager,
        executor: ThreadPoolExecutor,
        verifier: Verifier,
        voting_sets: MutableMapping[int, VotingSet],
        datadir: Path,
    ) -> None:
        """A syncer at the driver's tip."""
        self.params = params
        self.driver = driver
        self.chain = chain
        self.peers = peers
        self.executor = executor
        self.verifier = verifier
        self.voting_sets = voting_sets
        self.datadir = datadir
        self.machine = SyncMachine(params, config, tip_info(driver), verifier)
        self.limiter = ServeLimiter(SERVE_ITEMS_PER_S, SERVE_BURST_ITEMS)
        self.alert: str | None = None
        self.served_headers = 0
        self.served_bodies = 0
        self.bans = 0

    # ------------------------------------------------------------ inputs

    def on_peer_connected(self, peer_id: str) -> None:
        """A peer is open."""
        self.run(self.machine.on_peer_connected(peer_id, now_ms()))

    def on_peer_disconnected(self, peer_id: str) -> None:
        """A peer went away."""
        self.limiter.forget(peer_id)
        self.run(self.machine.on_peer_disconnected(peer_id, now_ms()))

    def on_peer_height(self, peer_id: str, height: int) -> None:
        """`peer_id` revealed (in a vote or proposal) that it committed `height`."""
        self.run(self.machine.on_peer_height(peer_id, height, now_ms()))

    def on_certificate(self, peer_id: str, certificate: Certificate) -> None:
        """A gossiped commit certificate."""
        self.run(self.machine.on_certificate(peer_id, certificate, now_ms()))

    def on_headers(self, peer_id: str, message: Headers) -> None:
        """An answer to our `GetHeaders`."""
        self.run(self.machine.on_headers(peer_id, message.headers, message.tip_height, now_ms()))

    def on_bodies(self, peer_id: str, message: Bodies) -> None:
        """An answer to our `GetBodies`."""
        self.run(self.machine.on_bodies(peer_id, message.blocks, now_ms()))

    def on_commit(self) -> None:
        """The driver committed a block (its state is the new tip)."""
        state = self.driver.state
        self.voting_sets[state.registry.voting_set.epoch] = state.registry.voting_set
        self.run(self.machine.on_committed(tip_info(self.driver), now_ms()))

    def tick(self) -> None:
        """Periodic upkeep."""
        self.run(self.machine.on_tick(now_ms()))

    async def serve(self, peer_id: str, request: GetHeaders | GetBodies) -> None:
        """Answer a sync request from the store, within the peer's limit."""
        cost = request.count if isinstance(request, GetHeaders) else len(request.block_hashes)
        if not self.limiter.allow(peer_id, cost, now_ms()):
            log.debug("sync request of %s refused by the serve limit", peer_id[:16])
            return
        loop = asyncio.get_running_loop()
        if isinstance(request, GetHeaders):
            headers = await loop.run_in_executor(
                self.executor, serve_headers, self.chain, request, self.voting_sets, self.params
            )
            self.served_headers += len(headers.headers)
            self.peers.send(peer_id, headers)
        else:
            bodies = await loop.run_in_executor(self.executor, serve_bodies, self.chain, request)
            self.served_bodies += len(bodies.blocks)
            self.peers.send(peer_id, bodies)

    # ------------------------------------------------------------ effects

    def run(self, effects: list[SyncEffect]) -> None:
        """Carry out the machine's effects in order."""
        for effect in effects:
            if isinstance(effect, SendGetHeaders):
                self.peers.send(
                    effect.peer_id, GetHeaders(from_height=effect.from_height, count=effect.count)
                )
            elif isinstance(effect, SendGetBodies):
                self.peers.send(effect.peer_id, GetBodies(block_hashes=list(effect.block_hashes)))
            elif isinstance(effect, ApplyBlock):
                self.driver.on_synced_block(effect.block, effect.certificate)
            elif isinstance(effect, PenalizePeer):
                self._penalize(effect)
            elif isinstance(effect, ForkDetected):
                self._halt_on_fork(effect.evidence)
            elif isinstance(effect, InvalidCertifiedBlock):
                self._halt(
                    f"block {effect.height} {effect.block_hash.hex()[:16]} carries a valid "
                    f"certificate but breaks a block rule ({effect.reason})"
                )

    def _penalize(self, effect: PenalizePeer) -> None:
        """Disconnect the peer and ban its node key (its host may hold honest peers)."""
        log.warning(
            "sync: dropping peer %s (%s: %s), banned %.0f s",
            effect.peer_id[:16],
            effect.code,
            effect.reason,
            effect.ban_s,
        )
        self.bans += 1
        self.peers.bans.ban(
            BanKind.NODE, effect.peer_id, time.monotonic() + effect.ban_s, effect.code
        )
        peer = self.peers.peer(effect.peer_id)
        if peer is not None:
            peer.abort(effect.code)

    def _halt_on_fork(self, evidence: ForkEvidence) -> None:
        path = self.datadir / f"fork-evidence-{evidence.height}.json"
        try:
            path.write_text(json.dumps(evidence_json(evidence), indent=2), encoding="utf-8")
        except OSError as exc:
            log.error("cannot write fork evidence to %s: %s", path, exc)
        self._halt(
            f"two valid certificates at height {evidence.height}: "
            f"{evidence.our_block_hash.hex()[:16]} (ours) and "
            f"{evidence.their_block_hash.hex()[:16]} (from {evidence.peer_id[:16] or 'consensus'});"
            f" more than 1/3 of the voting weight broke the protocol; evidence in {path}"
        )

    def _halt(self, alert: str) -> None:
        self.alert = alert
        self.driver.halted = True
        log.critical("FORK ALERT: %s. Block production stopped.", alert)

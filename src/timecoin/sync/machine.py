"""Headers-first sync as a state machine: events in, effects out.

The machine does no I/O and reads no clock: the driver passes peer events,
received headers and bodies, commits of the local chain and the time
(`now_ms`), and runs the effects it returns (docs/spec/sync.md).

1. **Headers.** From the local tip, the machine asks peers that are ahead
   for certified headers and checks each against its parent
   (`verify_next_header`): linkage, certificate under the voting set the
   parent committed to, the voting set served where it changes, and the
   checkpoint. At most `max_headers_ahead` verified headers are held beyond
   the tip.
2. **Bodies.** Inside a window of `window_blocks` heights after the tip, the
   bodies of verified headers are requested in chunks from several peers at
   once (at most `max_requests_per_peer` requests each). A body must be the
   body of its header (`check_body_matches_header`), else the peer is
   blamed. Bodies are handed over in height order (`ApplyBlock`).
3. **Faults.** A request not answered within `request_timeout_ms` drops and
   briefly bans the peer; a false header, voting set or body drops and bans
   it for long. Two valid certificates for different blocks at one height
   halt the machine with `ForkDetected`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from timecoin.chain import Verifier, verify_certificate
from timecoin.params import ChainParams, Checkpoint
from timecoin.sync.effects import (
    ApplyBlock,
    ForkDetected,
    ForkEvidence,
    InvalidCertifiedBlock,
    PenalizePeer,
    SendGetBodies,
    SendGetHeaders,
    SyncEffect,
)
from timecoin.sync.errors import (
    LYING_CODES,
    REJECT_BAD_HEADER,
    REJECT_BAD_HEADER_CERTIFICATE,
    REJECT_CHECKPOINT_MISMATCH,
    REJECT_STALLED,
    REJECT_UNSOLICITED,
    SyncError,
)
from timecoin.sync.headers import (
    CertifiedHeader,
    HeaderLink,
    check_body_matches_header,
    verify_next_header,
)
from timecoin.types import (
    Block,
    BlockHeader,
    Certificate,
    InvalidVote,
    VotingSet,
    compute_block_hash,
)

__all__ = ["SyncConfig", "SyncMachine", "SyncProgress", "SyncStats", "TipInfo"]

MAX_HEADERS_PER_REQUEST = 512
"""Most headers one request asks for (the wire limit of `Headers`)."""
MAX_BODIES_PER_REQUEST = 32
"""Most bodies one request asks for (the wire limit of `GetBodies`)."""


@dataclass(frozen=True, slots=True)
class SyncConfig:
    """Limits and policy of the sync machine (every queue bounded)."""

    checkpoint: Checkpoint | None = None
    """A block hash the header chain must pass through (long-range defence)."""
    require_checkpoint: bool = True
    """Refuse to sync from genesis without a checkpoint."""
    max_headers_per_request: int = MAX_HEADERS_PER_REQUEST
    max_headers_ahead: int = 4_096
    """Verified headers held beyond the tip."""
    bodies_per_request: int = 16
    window_blocks: int = 256
    """Bodies requested or held beyond the tip."""
    max_requests_per_peer: int = 2
    request_timeout_ms: int = 10_000
    empty_answer_cooldown_ms: int = 1_000
    """A peer that answered a body request with nothing is not asked again for this long."""
    redeliver_after_ms: int = 5_000
    """Bodies handed over but not committed after this long are handed over again."""
    stall_ban_s: float = 60.0
    lie_ban_s: float = 3_600.0
    ibd_lag_blocks: int = 2
    """Behind the best known height by more than this: initial block download."""

    def __post_init__(self) -> None:
        """Reject limits that would stop sync or break the wire limits."""
        if not 1 <= self.max_headers_per_request <= MAX_HEADERS_PER_REQUEST:
            raise ValueError(f"max_headers_per_request must be 1..{MAX_HEADERS_PER_REQUEST}")
        if not 1 <= self.bodies_per_request <= MAX_BODIES_PER_REQUEST:
            raise ValueError(f"bodies_per_request must be 1..{MAX_BODIES_PER_REQUEST}")
        if self.window_blocks < self.bodies_per_request:
            raise ValueError("window_blocks must hold at least one request")
        if self.max_headers_ahead < self.window_blocks:
            raise ValueError("max_headers_ahead must cover the body window")
        if self.max_requests_per_peer < 1 or self.request_timeout_ms < 1:
            raise ValueError("max_requests_per_peer and request_timeout_ms must be positive")


@dataclass(frozen=True, slots=True)
class TipInfo:
    """The local tip as the driver reports it after every commit.

    `certificate` committed the tip (None for genesis); `certifying_set` is
    the voting set that certifies the tip's height (None for genesis);
    `next_voting_set` is the one in force for the next block.
    """

    height: int
    block_hash: bytes
    header: BlockHeader
    certificate: Certificate | None
    certifying_set: VotingSet | None
    next_voting_set: VotingSet


@dataclass(frozen=True, slots=True)
class SyncProgress:
    """Figures for RPC and the progress bar."""

    tip_height: int
    best_header_height: int
    best_known_height: int
    initial_block_download: bool
    verification_progress: float
    needs_checkpoint: bool
    halted: bool


@dataclass(slots=True)
class SyncStats:
    """Counters of the machine's work."""

    headers_verified: int = 0
    bodies_received: int = 0
    blocks_handed_over: int = 0
    header_requests: int = 0
    body_requests: int = 0
    peers_penalized: int = 0
    stalls: int = 0


@dataclass(slots=True)
class _Known:
    """A verified header beyond the tip (or the tip itself)."""

    link: HeaderLink
    certificate: Certificate | None
    certifying_set: VotingSet | None


@dataclass(slots=True)
class _HeaderRequest:
    from_height: int
    count: int
    deadline_ms: int


@dataclass(slots=True)
class _BodyRequest:
    heights: tuple[int, ...]
    hashes: tuple[bytes, ...]
    deadline_ms: int


@dataclass(slots=True)
class _Peer:
    height: int = -1
    header_request: _HeaderRequest | None = None
    body_requests: list[_BodyRequest] = field(default_factory=list)
    cooldown_until_ms: int = 0
    probed: bool = False


class SyncMachine:
    """Headers-first sync of one node (see the module docstring)."""

    def __init__(
        self, params: ChainParams, config: SyncConfig, tip: TipInfo, verifier: Verifier
    ) -> None:
        """A machine at the local `tip`; `verifier` checks Ed25519 signatures."""
        self.params = params
        self.config = config
        self.verifier = verifier
        self.stats = SyncStats()
        self.fork: ForkEvidence | None = None
        self.invalid_block: InvalidCertifiedBlock | None = None
        self._peers: dict[str, _Peer] = {}
        self._known: dict[int, _Known] = {}
        self._bodies: dict[int, Block] = {}
        self._assigned: set[int] = set()
        self._tip = self._set_tip(tip)
        self._best = self._tip
        self._delivered_to = tip.height
        self._delivered_at_ms = 0
        self._rotation = 0

    # ------------------------------------------------------------ queries

    @property
    def halted(self) -> bool:
        """True once a fork or an invalid certified block was seen."""
        return self.fork is not None or self.invalid_block is not None

    @property
    def needs_checkpoint(self) -> bool:
        """True while syncing from genesis is refused for want of a checkpoint."""
        return (
            self.config.require_checkpoint
            and self.config.checkpoint is None
            and self._tip.link.height == 0
        )

    @property
    def tip_height(self) -> int:
        """The local tip as last reported."""
        return self._tip.link.height

    @property
    def best_header_height(self) -> int:
        """The highest verified header (at least the tip)."""
        return self._best.link.height

    def best_known_height(self) -> int:
        """The highest height a peer reported or a header proved."""
        heights = [p.height for p in self._peers.values()]
        return max([self._best.link.height, *heights])

    def progress(self) -> SyncProgress:
        """Figures for RPC and the progress bar."""
        tip = self._tip.link.height
        best = self.best_known_height()
        return SyncProgress(
            tip_height=tip,
            best_header_height=self._best.link.height,
            best_known_height=best,
            initial_block_download=best > tip + self.config.ibd_lag_blocks or self.needs_checkpoint,
            verification_progress=1.0 if best <= 0 else min(1.0, tip / best),
            needs_checkpoint=self.needs_checkpoint,
            halted=self.halted,
        )

    def peer_height(self, peer_id: str) -> int:
        """The height `peer_id` is known to have committed (-1 unknown)."""
        peer = self._peers.get(peer_id)
        return -1 if peer is None else peer.height

    def in_flight(self, peer_id: str) -> int:
        """Body requests outstanding at `peer_id`."""
        peer = self._peers.get(peer_id)
        return 0 if peer is None else len(peer.body_requests)

    # ------------------------------------------------------------ peer events

    def on_peer_connected(self, peer_id: str, now_ms: int) -> list[SyncEffect]:
        """A peer is open: ask it for its tip (one header from ours)."""
        self._peers.setdefault(peer_id, _Peer())
        return self._schedule(now_ms)

    def on_peer_disconnected(self, peer_id: str, now_ms: int) -> list[SyncEffect]:
        """Forget the peer; its outstanding heights go to other peers."""
        self._drop(peer_id)
        return self._schedule(now_ms)

    def on_peer_height(self, peer_id: str, height: int, now_ms: int) -> list[SyncEffect]:
        """`peer_id` has committed at least `height` (seen in its votes or
        certificates; unverified, so it only decides whom to ask)."""
        peer = self._peers.get(peer_id)
        if peer is None or height <= peer.height:
            return []
        peer.height = height
        return self._schedule(now_ms)

    def on_certificate(
        self, peer_id: str, certificate: Certificate, now_ms: int
    ) -> list[SyncEffect]:
        """A certificate gossiped by `peer_id`: a second valid certificate for
        another block at a known height is a fork."""
        known = self._known_at(certificate.height)
        if known is None or known.link.block_hash == certificate.block_hash:
            return self.on_peer_height(peer_id, certificate.height, now_ms)
        if known.certifying_set is None:
            return []
        try:
            verify_certificate(
                certificate,
                known.certifying_set,
                self.params.chain_id,
                self.verifier,
                expected_height=certificate.height,
            )
        except InvalidVote:
            return []
        evidence = ForkEvidence(
            height=certificate.height,
            our_block_hash=known.link.block_hash,
            our_certificate=known.certificate,
            their_header=None,
            their_block_hash=certificate.block_hash,
            their_certificate=certificate,
            peer_id=peer_id,
        )
        return self._halt_on_fork(evidence)

    # ------------------------------------------------------------ answers

    def on_headers(
        self,
        peer_id: str,
        entries: Sequence[CertifiedHeader],
        peer_tip_height: int,
        now_ms: int,
    ) -> list[SyncEffect]:
        """Certified headers from `peer_id`, answering our `SendGetHeaders`."""
        peer = self._peers.get(peer_id)
        if peer is None:
            return []
        request = peer.header_request
        if request is None:
            return self._penalize(peer_id, REJECT_UNSOLICITED, "headers without a request", now_ms)
        peer.header_request = None
        if len(entries) > request.count:
            return self._penalize(
                peer_id,
                REJECT_UNSOLICITED,
                f"{len(entries)} headers, {request.count} asked",
                now_ms,
            )
        if len(entries) == request.count:
            peer.height = max(peer.height, peer_tip_height)
        else:
            # Fewer than asked: the peer has nothing beyond what it sent.
            peer.height = min(peer_tip_height, request.from_height + len(entries) - 1)
        if self.halted:
            return []
        effects: list[SyncEffect] = []
        try:
            effects.extend(self._take_headers(peer_id, request.from_height, entries))
        except SyncError as exc:
            return self._penalize(peer_id, exc.reject_code, exc.message, now_ms)
        if self.halted:
            return effects
        effects.extend(self._schedule(now_ms))
        return effects

    def _take_headers(
        self, peer_id: str, from_height: int, entries: Sequence[CertifiedHeader]
    ) -> list[SyncEffect]:
        for offset, entry in enumerate(entries):
            height = from_height + offset
            if entry.header.height != height:
                raise SyncError(
                    REJECT_BAD_HEADER,
                    f"header {offset} of the answer has height {entry.header.height}, "
                    f"expected {height}",
                )
            if height < self._tip.link.height:
                continue
            if height <= self._best.link.height:
                effects = self._compare_known(peer_id, height, entry)
                if effects:
                    return effects
                continue
            if len(self._known) >= self.config.max_headers_ahead:
                break
            link, _ = verify_next_header(entry, self._best.link, self.params, self.verifier)
            checkpoint = self.config.checkpoint
            if (
                checkpoint is not None
                and checkpoint.height == height
                and checkpoint.block_hash != link.block_hash
            ):
                raise SyncError(
                    REJECT_CHECKPOINT_MISMATCH,
                    f"header {height} is {link.block_hash.hex()[:16]}, checkpoint requires "
                    f"{checkpoint.block_hash.hex()[:16]}",
                )
            known = _Known(
                link=link,
                certificate=entry.certificate,
                certifying_set=self._best.link.next_voting_set,
            )
            self._known[height] = known
            self._best = known
            self.stats.headers_verified += 1
        return []

    def _compare_known(self, peer_id: str, height: int, entry: CertifiedHeader) -> list[SyncEffect]:
        """Check a served header at a height we hold: equal, a fork, or a lie."""
        known = self._known_at(height)
        if known is None:
            return []
        their_hash = compute_block_hash(entry.header)
        if their_hash == known.link.block_hash:
            return []
        if known.certifying_set is None:
            raise SyncError(REJECT_BAD_HEADER, f"header {height} conflicts with genesis")
        try:
            verify_certificate(
                entry.certificate,
                known.certifying_set,
                self.params.chain_id,
                self.verifier,
                expected_height=height,
                expected_block_hash=their_hash,
            )
        except InvalidVote as exc:
            raise SyncError(
                REJECT_BAD_HEADER_CERTIFICATE, f"conflicting header {height}: {exc}"
            ) from None
        evidence = ForkEvidence(
            height=height,
            our_block_hash=known.link.block_hash,
            our_certificate=known.certificate,
            their_header=entry.header,
            their_block_hash=their_hash,
            their_certificate=entry.certificate,
            peer_id=peer_id,
        )
        return self._halt_on_fork(evidence)

    def on_bodies(self, peer_id: str, blocks: Sequence[Block], now_ms: int) -> list[SyncEffect]:
        """Blocks from `peer_id`, answering its oldest outstanding body request.

        They must be a prefix of what was asked, in order, each the body of
        its header; heights left out go back to the queue and the peer rests
        for `empty_answer_cooldown_ms` when it sent none.
        """
        peer = self._peers.get(peer_id)
        if peer is None:
            return []
        if not peer.body_requests:
            return self._penalize(peer_id, REJECT_UNSOLICITED, "bodies without a request", now_ms)
        request = peer.body_requests.pop(0)
        if len(blocks) > len(request.hashes):
            self._release(request)
            return self._penalize(
                peer_id,
                REJECT_UNSOLICITED,
                f"{len(blocks)} bodies for {len(request.hashes)} asked",
                now_ms,
            )
        for index, block in enumerate(blocks):
            try:
                check_body_matches_header(block, request.hashes[index])
            except SyncError as exc:
                self._release(request)
                return self._penalize(peer_id, exc.reject_code, exc.message, now_ms)
        for index, height in enumerate(request.heights):
            self._assigned.discard(height)
            if index < len(blocks) and height > self._tip.link.height and height in self._known:
                self._bodies[height] = blocks[index]
        self.stats.bodies_received += len(blocks)
        if not blocks:
            peer.cooldown_until_ms = now_ms + self.config.empty_answer_cooldown_ms
        effects = self._deliver(now_ms)
        effects.extend(self._schedule(now_ms))
        return effects

    # ------------------------------------------------------------ local chain

    def on_committed(self, tip: TipInfo, now_ms: int) -> list[SyncEffect]:
        """The local chain committed `tip` (by consensus or from sync)."""
        known = self._known.get(tip.height)
        effects: list[SyncEffect] = []
        if (
            known is not None
            and known.certificate is not None
            and known.link.block_hash != tip.block_hash
        ):
            effects = self._halt_on_fork(
                ForkEvidence(
                    height=tip.height,
                    our_block_hash=tip.block_hash,
                    our_certificate=tip.certificate,
                    their_header=known.link.header,
                    their_block_hash=known.link.block_hash,
                    their_certificate=known.certificate,
                    peer_id="",
                )
            )
        self._tip = self._set_tip(tip)
        for height in [h for h in self._known if h <= tip.height]:
            del self._known[height]
        for height in [h for h in self._bodies if h <= tip.height]:
            del self._bodies[height]
        if self._best.link.height <= tip.height or self.halted:
            self._best = self._tip
            self._known.clear()
            self._bodies.clear()
        if self._delivered_to < tip.height:
            self._delivered_to = tip.height
        self._delivered_at_ms = now_ms
        if self.halted:
            return effects
        effects.extend(self._deliver(now_ms))
        effects.extend(self._schedule(now_ms))
        return effects

    def on_apply_failed(self, height: int, reason: str) -> list[SyncEffect]:
        """A handed-over block failed a block rule although its header is
        certified: the certifying weight broke the protocol."""
        known = self._known.get(height)
        if known is None or self.halted:
            return []
        effect = InvalidCertifiedBlock(
            height=height, block_hash=known.link.block_hash, reason=reason
        )
        self.invalid_block = effect
        return [effect]

    def on_tick(self, now_ms: int) -> list[SyncEffect]:
        """Time passes: time out requests, hand over again, ask for more."""
        effects: list[SyncEffect] = []
        for peer_id, peer in list(self._peers.items()):
            expired = peer.header_request is not None and peer.header_request.deadline_ms <= now_ms
            expired = expired or any(r.deadline_ms <= now_ms for r in peer.body_requests)
            if expired:
                self.stats.stalls += 1
                effects.extend(
                    self._penalize(peer_id, REJECT_STALLED, "request timed out", now_ms, False)
                )
        if (
            self._delivered_to > self._tip.link.height
            and now_ms - self._delivered_at_ms >= self.config.redeliver_after_ms
        ):
            self._delivered_to = self._tip.link.height
        effects.extend(self._deliver(now_ms))
        effects.extend(self._schedule(now_ms))
        return effects

    # ------------------------------------------------------------ internals

    def _set_tip(self, tip: TipInfo) -> _Known:
        link = HeaderLink(
            height=tip.height,
            block_hash=tip.block_hash,
            header=tip.header,
            next_voting_set=tip.next_voting_set,
            next_voting_set_hash=tip.header.next_voting_set_hash,
        )
        return _Known(link=link, certificate=tip.certificate, certifying_set=tip.certifying_set)

    def _known_at(self, height: int) -> _Known | None:
        if height == self._tip.link.height:
            return self._tip
        return self._known.get(height)

    def _halt_on_fork(self, evidence: ForkEvidence) -> list[SyncEffect]:
        if self.halted:
            return []
        self.fork = evidence
        for peer in self._peers.values():
            for request in peer.body_requests:
                self._release(request)
            peer.body_requests.clear()
            peer.header_request = None
        return [ForkDetected(evidence)]

    def _penalize(
        self, peer_id: str, code: str, reason: str, now_ms: int, schedule: bool = True
    ) -> list[SyncEffect]:
        ban_s = self.config.lie_ban_s if code in LYING_CODES else self.config.stall_ban_s
        self._drop(peer_id)
        self.stats.peers_penalized += 1
        effects: list[SyncEffect] = [PenalizePeer(peer_id, code, reason, ban_s)]
        if schedule:
            effects.extend(self._schedule(now_ms))
        return effects

    def _drop(self, peer_id: str) -> None:
        peer = self._peers.pop(peer_id, None)
        if peer is None:
            return
        for request in peer.body_requests:
            self._release(request)

    def _release(self, request: _BodyRequest) -> None:
        for height in request.heights:
            self._assigned.discard(height)

    def _deliver(self, now_ms: int) -> list[SyncEffect]:
        effects: list[SyncEffect] = []
        while True:
            height = self._delivered_to + 1
            block = self._bodies.get(height)
            known = self._known.get(height)
            if block is None or known is None or known.certificate is None:
                return effects
            effects.append(ApplyBlock(block, known.certificate))
            self._delivered_to = height
            self._delivered_at_ms = now_ms
            self.stats.blocks_handed_over += 1

    def _schedule(self, now_ms: int) -> list[SyncEffect]:
        if self.halted or self.needs_checkpoint:
            return []
        effects: list[SyncEffect] = []
        effects.extend(self._schedule_headers(now_ms))
        effects.extend(self._schedule_bodies(now_ms))
        return effects

    def _schedule_headers(self, now_ms: int) -> list[SyncEffect]:
        effects: list[SyncEffect] = []
        best = self._best.link.height
        # From the best header itself (compared, not re-verified), except genesis.
        start = max(1, best)
        deadline = now_ms + self.config.request_timeout_ms
        for peer_id, peer in sorted(self._peers.items()):
            if not peer.probed and peer.header_request is None:
                peer.probed = True
                peer.header_request = _HeaderRequest(start, 1, deadline)
                self.stats.header_requests += 1
                effects.append(SendGetHeaders(peer_id, start, 1))
        if any(p.header_request is not None for p in self._peers.values()):
            return effects
        room = self.config.max_headers_ahead - len(self._known)
        ahead = [(p.height, pid) for pid, p in self._peers.items() if p.height > best]
        if room <= 0 or not ahead:
            return effects
        _, peer_id = max(ahead)
        count = min(self.config.max_headers_per_request, room + 1)
        self._peers[peer_id].header_request = _HeaderRequest(start, count, deadline)
        self.stats.header_requests += 1
        effects.append(SendGetHeaders(peer_id, start, count))
        return effects

    def _schedule_bodies(self, now_ms: int) -> list[SyncEffect]:
        effects: list[SyncEffect] = []
        tip = self._tip.link.height
        last = min(self._best.link.height, tip + self.config.window_blocks)
        chunk: list[int] = []
        for height in range(tip + 1, last + 1):
            if height in self._bodies or height in self._assigned:
                if chunk:
                    if not self._request_chunk(chunk, now_ms, effects):
                        return effects
                    chunk = []
                continue
            chunk.append(height)
            if len(chunk) == self.config.bodies_per_request:
                if not self._request_chunk(chunk, now_ms, effects):
                    return effects
                chunk = []
        if chunk:
            self._request_chunk(chunk, now_ms, effects)
        return effects

    def _request_chunk(self, heights: list[int], now_ms: int, effects: list[SyncEffect]) -> bool:
        """Assign `heights` to the least busy able peer; False when none is free."""
        limit = self.config.max_requests_per_peer
        candidates = sorted(
            (len(p.body_requests), pid)
            for pid, p in self._peers.items()
            if p.height >= heights[-1]
            and len(p.body_requests) < limit
            and p.cooldown_until_ms <= now_ms
        )
        if not candidates:
            return False
        least = candidates[0][0]
        tied = [pid for busy, pid in candidates if busy == least]
        peer_id = tied[self._rotation % len(tied)]
        self._rotation += 1
        hashes = tuple(self._known[h].link.block_hash for h in heights)
        request = _BodyRequest(
            heights=tuple(heights),
            hashes=hashes,
            deadline_ms=now_ms + self.config.request_timeout_ms,
        )
        self._peers[peer_id].body_requests.append(request)
        self._assigned.update(heights)
        self.stats.body_requests += 1
        effects.append(SendGetBodies(peer_id, hashes))
        return True

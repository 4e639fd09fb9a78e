"""Heartbeats and attestations of one node (docs/spec/heartbeats.md).

Every `heartbeat_interval_ms` a registered masternode signs a heartbeat
with the next sequence number (persisted before the heartbeat leaves, so it
strictly increases across restarts) and pushes it to its peers. A witness
of that masternode for the next block's reward window (`get_next_block_witnesses`)
checks the operator signature and adds its attestation; attested heartbeats
are gossiped (pushed again whenever they gain an attestation) and pooled, one
per masternode (the highest sequence, attestations merged). The block
builder takes `select_next_block_heartbeats(pool, ...)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

from timecoin.chain import (
    ChainState,
    get_next_block_witnesses,
    select_next_block_heartbeats,
)
from timecoin.consensus.app import Verifier
from timecoin.crypto import SigningKey
from timecoin.masternode import (
    compute_attestation_signing_message,
    get_entry,
    sign_attestation,
    sign_heartbeat,
    verify_heartbeat_signature,
)
from timecoin.node.store import load_heartbeat_sequence, save_heartbeat_sequence
from timecoin.p2p.messages import MAX_HEARTBEATS_PER_MSG, HeartbeatMsg, Message
from timecoin.storage import KVStore
from timecoin.types import AttestedHeartbeat, Block, InvalidVote, WitnessSignature

log = logging.getLogger("timecoin.node.heartbeats")

MAX_HISTORY: Final = 1_000
"""Own heartbeats remembered for `getheartbeathistory`."""
MAX_POOL: Final = 10_000
"""Attested heartbeats pooled (one per masternode)."""


@dataclass(slots=True)
class HeartbeatRecord:
    """One of this node's heartbeats: when, in which window, witnessed by whom,
    and the height of the block that carried it (None: not yet)."""

    sequence: int
    timestamp_ms: int
    window: int
    witnesses: tuple[bytes, ...]
    attestations: int = 0
    included_height: int | None = None


@dataclass(slots=True)
class AttestationStats:
    """Counters of the heartbeat service since start."""

    heartbeats_sent: int = 0
    heartbeats_included: int = 0
    attestations_given: int = 0
    attestations_received: int = 0
    heartbeats_received: int = 0
    invalid_heartbeats: int = 0
    last_included_height: int | None = None


class HeartbeatService:
    """Signs, attests, pools and gossips heartbeats."""

    def __init__(
        self,
        *,
        state: ChainState,
        kv: KVStore,
        key: SigningKey | None,
        broadcast: Callable[[Message], object],
        executor: ThreadPoolExecutor,
        verifier: Verifier,
    ) -> None:
        """A service at the tip `state` (call `on_block_committed` on every block)."""
        self.state = state
        self.kv = kv
        self.key = key
        self._broadcast = broadcast
        self._executor = executor
        self._verifier = verifier
        self.pool: dict[bytes, AttestedHeartbeat] = {}
        self.history: deque[HeartbeatRecord] = deque(maxlen=MAX_HISTORY)
        self.stats = AttestationStats()
        self._sequence = load_heartbeat_sequence(kv)
        self._task: asyncio.Task[None] | None = None

    @property
    def masternode_id(self) -> bytes | None:
        """This node's masternode id: the active registry entry with its operator key."""
        key = self.key
        if key is None:
            return None
        for entry in self.state.registry.entries:
            if entry.operator_key == key.public_key and not entry.is_deregistered:
                return entry.masternode_id
        return None

    def start(self) -> None:
        """Start signing heartbeats every `heartbeat_interval_ms`."""
        self._task = asyncio.create_task(self._loop(), name="heartbeats")

    async def stop(self) -> None:
        """Stop signing."""
        task = self._task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        interval_s = self.state.params.heartbeat_interval_ms / 1000
        while True:
            try:
                await self.send_heartbeat()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("heartbeat failed")
            await asyncio.sleep(interval_s)

    async def send_heartbeat(self) -> HeartbeatRecord | None:
        """Sign and push the next heartbeat (None when not a masternode)."""
        key = self.key
        masternode_id = self.masternode_id
        if key is None or masternode_id is None:
            return None
        entry = get_entry(self.state.registry, masternode_id)
        last_on_chain = 0 if entry is None else entry.last_heartbeat_sequence or 0
        sequence = max(self._sequence, last_on_chain) + 1
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, save_heartbeat_sequence, self.kv, sequence)
        self._sequence = sequence
        now_ms = time.time_ns() // 1_000_000
        params = self.state.params
        heartbeat = sign_heartbeat(key, params.chain_id, masternode_id, sequence, now_ms)
        window, _seed, witnesses = get_next_block_witnesses(self.state, masternode_id)
        record = HeartbeatRecord(
            sequence=sequence,
            timestamp_ms=now_ms,
            window=window,
            witnesses=tuple(w.operator_key for w in witnesses),
        )
        self.history.append(record)
        attested = AttestedHeartbeat(heartbeat=heartbeat, attestations=[])
        self.pool[masternode_id] = attested
        self.stats.heartbeats_sent += 1
        self._broadcast(HeartbeatMsg(heartbeats=[attested]))
        return record

    def on_message(self, message: HeartbeatMsg) -> None:
        """Heartbeats from a peer: verify, attest when a witness, merge, gossip on change."""
        changed: list[AttestedHeartbeat] = []
        for attested in message.heartbeats:
            merged = self._merge(attested)
            if merged is not None:
                changed.append(merged)
        for start in range(0, len(changed), MAX_HEARTBEATS_PER_MSG):
            self._broadcast(
                HeartbeatMsg(heartbeats=changed[start : start + MAX_HEARTBEATS_PER_MSG])
            )

    def _merge(self, attested: AttestedHeartbeat) -> AttestedHeartbeat | None:
        heartbeat = attested.heartbeat
        state = self.state
        params = state.params
        entry = get_entry(state.registry, heartbeat.masternode_id)
        if entry is None or entry.is_deregistered:
            return None
        current = self.pool.get(heartbeat.masternode_id)
        if current is not None and current.heartbeat.sequence > heartbeat.sequence:
            return None
        if entry.last_heartbeat_sequence is not None and (
            heartbeat.sequence <= entry.last_heartbeat_sequence
        ):
            return None
        same = current is not None and current.heartbeat == heartbeat
        if not same:
            try:
                verify_heartbeat_signature(
                    heartbeat, entry.operator_key, params.chain_id, self._verifier
                )
            except InvalidVote as exc:
                self.stats.invalid_heartbeats += 1
                log.debug("invalid heartbeat: %s", exc)
                return None
            self.stats.heartbeats_received += 1
        window, seed, witnesses = get_next_block_witnesses(state, heartbeat.masternode_id)
        witness_keys = {w.operator_key for w in witnesses}
        message = compute_attestation_signing_message(params.chain_id, heartbeat, window, seed)
        signatures: dict[bytes, WitnessSignature] = {}
        if same and current is not None:
            signatures.update((a.witness, a) for a in current.attestations)
        before = set(signatures)
        for attestation in attested.attestations:
            if attestation.witness in signatures or attestation.witness not in witness_keys:
                continue
            if self._verifier(attestation.witness, message, attestation.signature):
                signatures[attestation.witness] = attestation
        key = self.key
        if key is not None and key.public_key in witness_keys and key.public_key not in signatures:
            signatures[key.public_key] = sign_attestation(
                key, params.chain_id, heartbeat, window, seed
            )
            self.stats.attestations_given += 1
        if same and set(signatures) == before:
            return None
        merged = AttestedHeartbeat(
            heartbeat=heartbeat,
            attestations=[signatures[k] for k in sorted(signatures)],
        )
        if heartbeat.masternode_id == self.masternode_id:
            for record in self.history:
                if record.sequence == heartbeat.sequence:
                    self.stats.attestations_received += len(signatures) - record.attestations
                    record.attestations = len(signatures)
        if len(self.pool) >= MAX_POOL and heartbeat.masternode_id not in self.pool:
            return None
        self.pool[heartbeat.masternode_id] = merged
        return merged

    def select(self, state: ChainState, verifier: Verifier) -> list[AttestedHeartbeat]:
        """The pooled heartbeats a block after `state` may carry."""
        return select_next_block_heartbeats(list(self.pool.values()), state, verifier=verifier)

    def on_block_committed(self, block: Block, state: ChainState) -> None:
        """Note which heartbeats the block carried; drop them from the pool."""
        self.state = state
        own = self.masternode_id
        for attested in block.attestations:
            heartbeat = attested.heartbeat
            pooled = self.pool.get(heartbeat.masternode_id)
            if pooled is not None and pooled.heartbeat.sequence <= heartbeat.sequence:
                del self.pool[heartbeat.masternode_id]
            if heartbeat.masternode_id == own:
                self.stats.heartbeats_included += 1
                self.stats.last_included_height = block.header.height
                for record in self.history:
                    if record.sequence == heartbeat.sequence:
                        record.included_height = block.header.height

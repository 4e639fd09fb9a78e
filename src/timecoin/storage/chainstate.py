"""The chain state after the tip, stored with every block (ADR 0010).

What `validate_block` needs for the next block besides the coins is a
`ChainState`: the tip, the masternode registry (entries with their tiers,
heartbeat and reward fields, the voting sets in force), the reported locks
and the MuHash3072 state of the UTXO set. The coins, the reported locks and
the UTXO state were already stored by `ChainStore.commit_block`; this module
adds the registry, in the same write batch:

- `masternode`: one entry per registered masternode; a block rewrites only
  the entries it changed (its `RegistryUndo` names them);
- `voting_set`: the voting set of each epoch, written when a block crosses
  into it; kept for every epoch (finality proofs of any epoch are checked
  against their epoch's set, and sync serves them with the headers);
- `chain_state`: a `StateHead` naming the block the state is at, the two
  voting sets in force, the reward window seed, and the SHA-256 of the
  registry's canonical encoding.

`read_chain_state` rebuilds the `ChainState` of the tip at start-up from
these records alone, at a cost set by the number of masternodes, never by
the length of the chain, and checks it against the tip header: the stored
tip hash, the header's hash, the UTXO commitment, the next-voting-set
commitment and the registry digest. Older stores are migrated in place by
`timecoin.storage.migrate`.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, MutableMapping
from typing import Final

import msgspec

from timecoin.chain import AppliedBlock, ChainState, encode_lock_element, undo_applied_block
from timecoin.crypto import MuHash3072
from timecoin.encoding import DecodeError, decode, encode, read_u64be
from timecoin.ledger import UtxoDelta, encode_utxo_element
from timecoin.masternode import MasternodeEntry, RegistryState, next_voting_set_hash
from timecoin.params import ChainParams
from timecoin.storage.chainstore import ChainStore, DamagedRecordError
from timecoin.storage.indexes import stage_block_index_removal, stage_block_indexes
from timecoin.storage.kv import KVStore, StorageError, StoreCorruptError, WriteBatch
from timecoin.storage.schema import (
    CHAIN_STATE_KEY,
    MASTERNODE_PREFIX,
    UTXO_STATE_KEY,
    VOTING_SET_PREFIX,
    masternode_key,
    voting_set_key,
)
from timecoin.types import (
    Block,
    BlockUndo,
    InvalidBlock,
    VotingSet,
    compute_block_hash,
)
from timecoin.types.primitives import Epoch, Hash32, Height

log = logging.getLogger("timecoin.storage")

REPAIR_HINT: Final = "run `timecoin node --reindex-chainstate` to rebuild it from the blocks"
MAX_STATE_HEAD_BYTES: Final = 256
MAX_ENTRY_BYTES: Final = 1_024
MAX_VOTING_SET_BYTES: Final = 4_000_000
VOTING_SET_CACHE_ENTRIES: Final = 64
"""Voting sets kept decoded by `StoredVotingSets` (the current and previous
epochs are read at every height; older ones only for old proofs and sync)."""
PROGRESS_INTERVAL_S: Final = 5.0


class ChainStateError(StorageError):
    """The stored chain state is missing, damaged or disagrees with the tip:
    the node must not run on it. The message names the repair."""


class StateHead(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """The value of the `chain_state` entry.

    - `height`, `block_hash`: the block after which the stored state holds;
    - `voting_set_epoch`, `previous_voting_set_epoch`: the epochs of the
      registry's `voting_set` and `previous_voting_set` (in `voting_set`);
    - `window_seed`: the registry's reward window seed;
    - `registry_digest`: SHA-256 of `encode(RegistryState)`, checked when
      the registry is read back.
    """

    height: Height
    block_hash: Hash32
    voting_set_epoch: Epoch
    previous_voting_set_epoch: Epoch | None
    window_seed: Hash32
    registry_digest: Hash32


def compute_registry_digest(registry: RegistryState) -> bytes:
    """SHA-256 of the registry's canonical encoding."""
    return hashlib.sha256(encode(registry)).digest()


def _head_of(registry: RegistryState, block_hash: bytes) -> StateHead:
    previous = registry.previous_voting_set
    return StateHead(
        height=registry.height,
        block_hash=block_hash,
        voting_set_epoch=registry.voting_set.epoch,
        previous_voting_set_epoch=None if previous is None else previous.epoch,
        window_seed=registry.window_seed,
        registry_digest=compute_registry_digest(registry),
    )


def _stage_voting_sets(batch: WriteBatch, registry: RegistryState) -> None:
    batch.put(voting_set_key(registry.voting_set.epoch), encode(registry.voting_set))
    previous = registry.previous_voting_set
    if previous is not None:
        batch.put(voting_set_key(previous.epoch), encode(previous))


def stage_full_state(batch: WriteBatch, state: ChainState) -> None:
    """Add to `batch` the whole registry of `state` (every entry, its voting
    sets, the head): genesis, the end of a migration or a rebuild."""
    registry = state.registry
    for entry in registry.entries:
        batch.put(masternode_key(entry.masternode_id), encode(entry))
    _stage_voting_sets(batch, registry)
    batch.put(CHAIN_STATE_KEY, encode(_head_of(registry, state.block_hash)))


def stage_applied(batch: WriteBatch, applied: AppliedBlock) -> None:
    """Add to `batch` the registry changes of `applied`: the entries its
    `RegistryUndo` names (rewritten, or deleted when dropped), the voting
    sets when it crossed an epoch, and the new head."""
    registry = applied.state_after.registry
    changed = {record.masternode_id for record in applied.registry_undo.entries_before}
    if changed:
        for entry in registry.entries:
            if entry.masternode_id in changed:
                batch.put(masternode_key(entry.masternode_id), encode(entry))
                changed.discard(entry.masternode_id)
        for masternode_id in changed:
            batch.delete(masternode_key(masternode_id))
    if applied.registry_undo.crossed_epoch:
        _stage_voting_sets(batch, registry)
    batch.put(CHAIN_STATE_KEY, encode(_head_of(registry, applied.block_hash)))


def commit_applied(chain: ChainStore, applied: AppliedBlock, *, sync: bool = True) -> None:
    """Commit `applied` (a block `validate_block` accepted) with the chain
    state after it and its entries in the store's indexes
    (`chain.indexes`), in ONE atomic write."""
    extra = WriteBatch()
    stage_applied(extra, applied)
    stage_block_indexes(extra, chain.indexes, applied.block, applied.block_hash, applied.undo.spent)
    delta = applied.delta
    chain.commit_block(
        applied.block,
        applied.block_hash,
        applied.undo,
        delta.created,
        delta.spent,
        applied.state_after.utxo_state.to_bytes(),
        sync=sync,
        locks_created=delta.locks_created,
        locks_released=delta.locks_released,
        extra=extra,
    )


def revert_applied(chain: ChainStore, applied: AppliedBlock) -> ChainState:
    """Undo the tip block `applied` in ONE atomic write: its coins and locks
    (`ChainStore.revert_tip`), the registry entries it changed, the head,
    and its entries in the store's indexes. Return the chain state before
    it. Committed blocks are final: this serves a block applied but not
    committed, and tests of apply/undo.

    Raises StorageError (nothing written) when `applied` is not the tip."""
    block = applied.block
    prev_header = chain.get_header(block.header.prev_hash)
    if prev_header is None:
        raise ChainStateError(f"revert: no header for the parent of block {block.header.height}")
    try:
        state_before, delta = undo_applied_block(
            applied.state_after, block, applied.undo, applied.registry_undo, prev_header
        )
    except InvalidBlock as exc:
        raise ChainStateError(f"revert of block {block.header.height}: {exc}") from None
    extra = WriteBatch()
    for record in applied.registry_undo.entries_before:
        if record.entry_before is None:
            extra.delete(masternode_key(record.masternode_id))
        else:
            extra.put(masternode_key(record.masternode_id), encode(record.entry_before))
    extra.put(CHAIN_STATE_KEY, encode(_head_of(state_before.registry, state_before.block_hash)))
    stage_block_index_removal(extra, chain.indexes, block, applied.undo.spent)
    chain.revert_tip(
        applied.block_hash,
        delta.created,
        delta.spent,
        state_before.utxo_state.to_bytes(),
        locks_restored=delta.locks_created,
        locks_removed=delta.locks_released,
        extra=extra,
    )
    return state_before


def init_genesis_state(
    chain: ChainStore, block: Block, state: ChainState, delta: UtxoDelta
) -> None:
    """Write genesis (from `chain_state_from_genesis`) and its chain state
    into an empty store, in one write."""
    extra = WriteBatch()
    stage_full_state(extra, state)
    stage_block_indexes(extra, chain.indexes, block, state.block_hash, ())
    undo = BlockUndo(spent=[], utxo_state_before=MuHash3072().to_bytes())
    chain.init_genesis(
        block, state.block_hash, undo, delta.created, state.utxo_state.to_bytes(), extra=extra
    )


def read_state_head(kv: KVStore) -> StateHead | None:
    """The stored `chain_state` head, or None."""
    data = kv.get(CHAIN_STATE_KEY)
    if data is None:
        return None
    try:
        return decode(data, StateHead, MAX_STATE_HEAD_BYTES)
    except DecodeError as exc:
        raise ChainStateError(f"chain state head: {exc}; {REPAIR_HINT}") from None


def read_voting_set(kv: KVStore, epoch: int) -> VotingSet | None:
    """The stored voting set of `epoch`, or None."""
    data = kv.get(voting_set_key(epoch))
    if data is None:
        return None
    try:
        voting_set = decode(data, VotingSet, MAX_VOTING_SET_BYTES)
    except DecodeError as exc:
        raise ChainStateError(f"voting set of epoch {epoch}: {exc}; {REPAIR_HINT}") from None
    if voting_set.epoch != epoch:
        raise ChainStateError(
            f"voting set stored for epoch {epoch} is for epoch {voting_set.epoch}; {REPAIR_HINT}"
        )
    return voting_set


def _read_entries(kv: KVStore) -> tuple[MasternodeEntry, ...]:
    entries = []
    for key, value in kv.iter_prefix(MASTERNODE_PREFIX):
        try:
            entry = decode(value, MasternodeEntry, MAX_ENTRY_BYTES)
        except DecodeError as exc:
            raise ChainStateError(f"masternode {key[1:].hex()}: {exc}; {REPAIR_HINT}") from None
        if key[1:] != entry.masternode_id:
            raise ChainStateError(
                f"masternode record {key[1:].hex()} holds entry "
                f"{entry.masternode_id.hex()}; {REPAIR_HINT}"
            )
        entries.append(entry)
    return tuple(entries)


def read_registry(kv: KVStore, head: StateHead) -> RegistryState:
    """The registry the stored records give for `head`, checked against its digest."""
    voting_set = read_voting_set(kv, head.voting_set_epoch)
    if voting_set is None:
        raise ChainStateError(f"no voting set for epoch {head.voting_set_epoch}; {REPAIR_HINT}")
    previous: VotingSet | None = None
    if head.previous_voting_set_epoch is not None:
        previous = read_voting_set(kv, head.previous_voting_set_epoch)
        if previous is None:
            raise ChainStateError(
                f"no voting set for epoch {head.previous_voting_set_epoch}; {REPAIR_HINT}"
            )
    registry = RegistryState(head.height, _read_entries(kv), voting_set, previous, head.window_seed)
    if compute_registry_digest(registry) != head.registry_digest:
        raise ChainStateError(
            f"the stored masternode registry at height {head.height} does not match its "
            f"digest (a record is damaged or missing); {REPAIR_HINT}"
        )
    return registry


def read_chain_state(chain: ChainStore, params: ChainParams) -> ChainState:
    """The chain state after the stored tip, read from the store and checked
    against the tip header; never a replay.

    Raises ChainStateError (naming the repair) when the state is missing,
    damaged, or belongs to another block than the tip."""
    tip = chain.get_tip()
    if tip is None:
        raise ChainStateError("the chain store has no tip")
    head = read_state_head(chain.kv)
    if head is None:
        raise ChainStateError(f"the chain store has no chain state; {REPAIR_HINT}")
    if (head.height, head.block_hash) != (tip.height, tip.block_hash):
        raise ChainStateError(
            f"the chain state is at height {head.height} ({head.block_hash.hex()[:16]}), "
            f"the blocks at {tip.height} ({tip.block_hash.hex()[:16]}); {REPAIR_HINT}"
        )
    return read_state_at_head(chain, params, head)


def read_state_at_head(chain: ChainStore, params: ChainParams, head: StateHead) -> ChainState:
    """The chain state the store holds for the block `head` names (the tip,
    or a lower block while a reindex runs), checked against that block's
    header: its hash, UTXO commitment and next-voting-set commitment, and
    the registry digest. Raises ChainStateError naming the repair."""
    if chain.get_block_hash(head.height) != head.block_hash:
        raise ChainStateError(
            f"the chain state names block {head.block_hash.hex()[:16]} at height "
            f"{head.height}, which is not on the stored chain; {REPAIR_HINT}"
        )
    header = chain.get_header(head.block_hash)
    if header is None or compute_block_hash(header) != head.block_hash:
        raise ChainStateError(
            f"the header of block {head.height} is missing or damaged; the blocks "
            "must be fetched again: resync into an empty data directory"
        )
    stored_utxo_state = chain.get_utxo_state()
    if stored_utxo_state is None:
        raise ChainStateError(f"the chain store has no UTXO state; {REPAIR_HINT}")
    try:
        utxo_state = MuHash3072.from_bytes(stored_utxo_state)
    except ValueError as exc:
        raise ChainStateError(f"UTXO state: {exc}; {REPAIR_HINT}") from None
    if utxo_state.digest() != header.utxo_commitment:
        raise ChainStateError(
            f"the stored UTXO state does not match the commitment of block {head.height}; "
            f"{REPAIR_HINT}"
        )
    registry = read_registry(chain.kv, head)
    if next_voting_set_hash(registry) != header.next_voting_set_hash:
        raise ChainStateError(
            f"the stored registry does not match the next-voting-set commitment of block "
            f"{head.height}; {REPAIR_HINT}"
        )
    return ChainState(
        params=params,
        height=head.height,
        block_hash=head.block_hash,
        header=header,
        registry=registry,
        utxo_state=utxo_state,
        reported_locks=dict(chain.iter_reported_locks()),
    )


VERIFY_CHUNK_COINS: Final = 2_000
VERIFY_ATTEMPTS: Final = 3
VERIFY_LOCKED_MAX_COINS: Final = 50_000
"""Largest set whose last check pass may hold the write lock (about 0.5 s)."""


def verify_utxo_set(chain: ChainStore, pause: Callable[[], bool] = lambda: False) -> bool:
    """Read every coin record (each verified against its check value) and
    reported lock, and check that their MuHash3072 and count equal the
    stored UTXO state and count, which the tip header commits to: a record
    deleted, added or replaced whole is caught here, where a per-record
    check cannot see it. Blocks may commit meanwhile: a pass during which
    the tip moved is discarded and tried again, up to VERIFY_ATTEMPTS times;
    then, for a set of at most VERIFY_LOCKED_MAX_COINS coins, a last pass
    holds the store's write lock (delaying commits by well under a second).

    Returns True when a pass completed and matched, False when the chain
    kept moving or `pause` ended it: `pause` is called after every
    VERIFY_CHUNK_COINS coins of an unlocked pass, may wait (to leave the CPU
    to the node) and returns True to stop. Raises DamagedRecordError (after
    `chain.on_damage`) on a mismatch or a damaged record."""
    for _ in range(VERIFY_ATTEMPTS):
        result = _verify_pass(chain, pause)
        if result is not None:
            return result
    if chain.utxo_count() > VERIFY_LOCKED_MAX_COINS:
        return False
    with chain.write_lock:
        return _verify_pass(chain, lambda: False) is True


def _verify_pass(chain: ChainStore, pause: Callable[[], bool]) -> bool | None:
    """One pass of `verify_utxo_set`: True (matched), False (stopped), None
    (the tip moved: no conclusion)."""
    tip = chain.get_tip()
    stored = chain.get_utxo_state()
    count = chain.utxo_count()
    if tip is None or stored is None:
        return False
    muhash = MuHash3072()
    seen = 0
    chunk: list[bytes] = []
    for outpoint, coin in chain.iter_utxos():
        chunk.append(encode_utxo_element(outpoint, coin))
        seen += 1
        if len(chunk) >= VERIFY_CHUNK_COINS:
            muhash.insert_many(chunk)
            chunk = []
            if pause():
                return False
    muhash.insert_many(chunk)
    muhash.insert_many(
        encode_lock_element(outpoint, txid) for outpoint, txid in chain.iter_reported_locks()
    )
    if chain.get_tip() != tip:
        return None
    if seen != count or muhash.to_bytes() != MuHash3072.from_bytes(stored).to_bytes():
        error = DamagedRecordError(
            UTXO_STATE_KEY,
            f"the stored coins ({seen}, the count says {count}) do not add up to the "
            f"UTXO commitment of tip {tip.height}: a coin record was deleted, added or "
            f"replaced; {REPAIR_HINT}",
        )
        if chain.on_damage is not None:
            chain.on_damage(error)
        raise error
    return True


class Progress:
    """Logs `what` with height, rate and time left every PROGRESS_INTERVAL_S."""

    def __init__(self, what: str, target_height: int, clock: Callable[[], float]) -> None:
        """Progress towards `target_height`, timed by `clock` (seconds)."""
        self.what = what
        self.target_height = target_height
        self._clock = clock
        self._started = clock()
        self._last_logged = self._started
        self._first_height: int | None = None
        self.height = 0

    def rate(self) -> float:
        """Blocks per second since the first update."""
        elapsed = self._clock() - self._started
        done = 0 if self._first_height is None else self.height - self._first_height + 1
        return done / elapsed if elapsed > 0 else 0.0

    def update(self, height: int) -> None:
        """Block `height` is done; log if the interval has passed."""
        if self._first_height is None:
            self._first_height = height
        self.height = height
        now = self._clock()
        if now - self._last_logged >= PROGRESS_INTERVAL_S:
            self._last_logged = now
            rate = self.rate()
            left = (self.target_height - height) / rate if rate > 0 else float("inf")
            log.info(
                "%s: height=%d target=%d rate=%.1f blocks/s remaining_s=%.0f",
                self.what,
                height,
                self.target_height,
                rate,
                left,
            )

    def done(self) -> None:
        """Log the end with the overall rate."""
        log.info(
            "%s: done at height=%d in %.1f s (%.1f blocks/s)",
            self.what,
            self.height,
            self._clock() - self._started,
            self.rate(),
        )


class StoredVotingSets(MutableMapping[int, VotingSet]):
    """The voting sets by epoch, read from the `voting_set` key space through
    a cache of VOTING_SET_CACHE_ENTRIES decoded sets.

    Sets are written to the store with the block that crosses into their
    epoch (`stage_applied`); assigning here only fills the cache, and
    deleting only drops a set from it."""

    def __init__(self, kv: KVStore) -> None:
        """Voting sets of `kv`."""
        self._kv = kv
        self._cache: OrderedDict[int, VotingSet] = OrderedDict()
        self._lock = threading.Lock()

    def __getitem__(self, epoch: int) -> VotingSet:
        with self._lock:
            cached = self._cache.get(epoch)
            if cached is not None:
                self._cache.move_to_end(epoch)
                return cached
        if not 0 <= epoch < 2**63:
            raise KeyError(epoch)
        voting_set = read_voting_set(self._kv, epoch)
        if voting_set is None:
            raise KeyError(epoch)
        self[epoch] = voting_set
        return voting_set

    def __setitem__(self, epoch: int, voting_set: VotingSet) -> None:
        with self._lock:
            self._cache[epoch] = voting_set
            self._cache.move_to_end(epoch)
            while len(self._cache) > VOTING_SET_CACHE_ENTRIES:
                self._cache.popitem(last=False)

    def __delitem__(self, epoch: int) -> None:
        with self._lock:
            del self._cache[epoch]

    def __iter__(self) -> Iterator[int]:
        for key, _ in self._kv.iter_prefix(VOTING_SET_PREFIX):
            try:
                yield read_u64be(key[1:])
            except DecodeError as exc:
                raise StoreCorruptError(f"voting set key {key.hex()}: {exc}") from None

    def __len__(self) -> int:
        return sum(1 for _ in self._kv.iter_prefix(VOTING_SET_PREFIX))

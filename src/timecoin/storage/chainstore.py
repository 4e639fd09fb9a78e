"""The chain database: blocks, headers, the height index, the UTXO set, undo
data, the tip and the UTXO commitment state, over any `KVStore`.

`ChainStore` is a ledger `UtxoView` (`get_coin`). It computes nothing: the
ledger and chain layers validate blocks and work out which coins a block
creates and spends; `commit_block` writes all of that, with the block, its
undo data, the new tip and the new commitment state, in ONE write batch, so
after a crash the store holds exactly the state after some committed block.

Stored values are canonical encodings (`timecoin.encoding`) and are decoded
with a size cap; bytes that do not decode raise StoreCorruptError. A coin
record also carries a check value bound to its outpoint (`COIN_CHECK_BYTES`
of BLAKE2b over key and coin), verified at every read: a record changed on
disk, even to another valid encoding, raises DamagedRecordError and is never
served (ADR 0010).
Headers and blocks are checked against the hash they are stored under when
read (a header's bytes hash to it; a block's header does, and its body
reproduces every commitment of that header), so a damaged one raises
DamagedRecordError and is never served (docs/spec/storage.md section 7).

One writer at a time: `init_genesis`, `commit_block` and `revert_tip` check
the stored state (tip, coins) before writing, under a lock. Reads may run in
any thread.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Final, NamedTuple, TypeVar

from timecoin.crypto import sha256
from timecoin.encoding import DecodeError, decode, encode, read_u64be, split_array, u32be, u64be
from timecoin.params import SizeLimits
from timecoin.storage.kv import REPAIR_HINT, KVStore, StorageError, StoreCorruptError, WriteBatch
from timecoin.storage.schema import (
    HASH_BYTES,
    META_CHAIN_ID_KEY,
    META_GENESIS_HASH_KEY,
    META_SCHEMA_VERSION_KEY,
    REPORTED_LOCK_PREFIX,
    SCHEMA_VERSION,
    TIP_KEY,
    UTXO_COUNT_KEY,
    UTXO_PREFIX,
    UTXO_STATE_KEY,
    block_key,
    header_key,
    height_key,
    parse_reported_lock_key,
    parse_utxo_key,
    reported_lock_key,
    undo_key,
    utxo_key,
)
from timecoin.types import (
    Block,
    BlockHeader,
    BlockUndo,
    Coin,
    OutPoint,
    Transaction,
    compute_block_hash,
    find_body_mismatch,
)

T = TypeVar("T")

UTXO_STATE_BYTES: Final = 384
"""Size of a MuHash3072 state (`timecoin.crypto.MuHash3072.to_bytes`)."""
MAX_COIN_BYTES: Final = 128
"""Cap on a coin's encoding (without its check value)."""
MAX_HEADER_BYTES: Final = 1_024
MIGRATABLE_SCHEMA_VERSIONS: Final = (3, 4)
"""Older versions whose blocks this node reads: the chain state they lack is
rebuilt from the stored blocks at start-up (ADR 0010)."""
UNDO_OVERHEAD_BYTES: Final = 1_024
"""Undo data is at most a block's size plus this: each spent coin encodes in
fewer bytes than the input (outpoint, key, signature) that spent it."""


COIN_CHECK_BYTES: Final = 8
"""Length of the check value after each coin record's encoding."""
REINDEX_HINT: Final = "run `timecoin node --reindex-chainstate` to rebuild the chain state"


class DamagedRecordError(StoreCorruptError):
    """A stored record fails its check: its bytes changed after they were
    written. `key` is the record's key."""

    def __init__(self, key: bytes, message: str) -> None:
        super().__init__(message)
        self.key = key


def compute_coin_check(key: bytes, encoded_coin: bytes) -> bytes:
    """The check value of a coin record: BLAKE2b of its key and its encoding."""
    return hashlib.blake2b(key + encoded_coin, digest_size=COIN_CHECK_BYTES).digest()


def encode_coin_record(key: bytes, coin: Coin) -> bytes:
    """The stored value of `coin` under `key`: its encoding, then its check value."""
    encoded = encode(coin)
    return encoded + compute_coin_check(key, encoded)


class ChainTip(NamedTuple):
    """The last block of the main chain."""

    height: int
    block_hash: bytes


class ChainStore:
    """Chain state over a `KVStore`; checks or writes the schema version on open.

    Raises StorageError if the store holds another schema version, or holds
    data but no schema version (not a TimeCoin store).
    """

    def __init__(self, kv: KVStore, *, max_block_bytes: int = SizeLimits().max_block_bytes) -> None:
        self._kv = kv
        self._max_block_bytes = max_block_bytes
        self._write_lock = threading.RLock()
        self.indexes: frozenset[str] = frozenset()
        """The indexes (`timecoin.storage.indexes` names) written with each
        block by `chainstate.commit_applied`; the node sets them from its
        config once they are built up to the tip."""
        self.on_damage: Callable[[DamagedRecordError], None] | None = None
        """Called (in the reading thread) before a DamagedRecordError is
        raised: the node stops on it."""
        self.stored_schema_version = SCHEMA_VERSION
        """The version found at open: below SCHEMA_VERSION until the store
        is migrated (`timecoin.storage.migrate.migrate_store`)."""
        self._open_schema()

    @property
    def kv(self) -> KVStore:
        """The underlying store."""
        return self._kv

    @property
    def write_lock(self) -> threading.RLock:
        """The writers' lock (re-entrant): held by every write of this store;
        hold it to make a read-then-write of your own atomic with them."""
        return self._write_lock

    def _open_schema(self) -> None:
        stored = self._kv.get(META_SCHEMA_VERSION_KEY)
        if stored is None:
            if next(iter(self._kv.iter_prefix(b"")), None) is not None:
                raise StorageError(
                    "store holds data but no schema version: not a TimeCoin chain store"
                )
            batch = WriteBatch()
            batch.put(META_SCHEMA_VERSION_KEY, u32be(SCHEMA_VERSION))
            self._kv.write(batch)
            return
        if len(stored) != 4:
            raise StoreCorruptError(f"schema version: expected 4 bytes, got {len(stored)}")
        version = int.from_bytes(stored, "big")
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"store has schema version {version}, written by a newer node; this node "
                f"reads versions up to {SCHEMA_VERSION}: run the newer node, or resync "
                "into an empty data directory"
            )
        if version not in MIGRATABLE_SCHEMA_VERSIONS and version != SCHEMA_VERSION:
            raise StorageError(
                f"store has schema version {version}, which this node (version "
                f"{SCHEMA_VERSION}) cannot migrate: its blocks are in an older format; "
                "resync into an empty data directory"
            )
        self.stored_schema_version = version

    # -- reads ------------------------------------------------------------------

    def _damaged(self, what: str, key: bytes = b"") -> DamagedRecordError:
        """The error for damage found in `what` (stored under `key`), after
        `on_damage` has seen it."""
        error = DamagedRecordError(key, f"{what}: {REPAIR_HINT}")
        if self.on_damage is not None:
            self.on_damage(error)
        return error

    def _decode(self, what: str, data: bytes | memoryview, type_: type[T], max_bytes: int) -> T:
        try:
            return decode(data, type_, max_bytes)
        except DecodeError as exc:
            raise self._damaged(f"{what} is damaged: {exc}") from None

    def _read_coin(self, key: bytes, data: bytes) -> Coin:
        """The coin of a stored record, its check value verified."""
        encoded = data[:-COIN_CHECK_BYTES]
        if (
            len(data) <= COIN_CHECK_BYTES
            or compute_coin_check(key, encoded) != data[-COIN_CHECK_BYTES:]
        ):
            outpoint = parse_utxo_key(key)
            error = DamagedRecordError(
                key,
                f"the stored coin {outpoint.txid.hex()}:{outpoint.index} is damaged (its check "
                f"value does not match its bytes); it is not served: {REINDEX_HINT}",
            )
            if self.on_damage is not None:
                self.on_damage(error)
            raise error
        return self._decode("coin", encoded, Coin, MAX_COIN_BYTES)

    def get_coin(self, outpoint: OutPoint) -> Coin | None:
        """The unspent coin at `outpoint`, or None (a ledger `UtxoView`).

        Raises DamagedRecordError when the stored record fails its check."""
        key = utxo_key(outpoint)
        data = self._kv.get(key)
        if data is None:
            return None
        return self._read_coin(key, data)

    def has_coin(self, outpoint: OutPoint) -> bool:
        """True if `outpoint` is unspent (without decoding the coin)."""
        return self._kv.get(utxo_key(outpoint)) is not None

    def get_block(self, block_hash: bytes) -> Block | None:
        """The stored block with this hash, or None."""
        data = self._kv.get(block_key(block_hash))
        if data is None:
            return None
        what = f"block {block_hash.hex()}"
        block = self._decode(what, data, Block, self._max_block_bytes)
        stored_hash = compute_block_hash(block.header)
        if stored_hash != block_hash:
            raise self._damaged(
                f"{what} is damaged: its header hashes to {stored_hash.hex()}",
                block_key(block_hash),
            )
        mismatch = find_body_mismatch(block)
        if mismatch is not None:
            raise self._damaged(
                f"{what} is damaged: its body does not match the {mismatch}",
                block_key(block_hash),
            )
        return block

    def get_block_transaction(self, block_hash: bytes, position: int) -> Transaction | None:
        """Transaction `position` of the stored block `block_hash`, decoding
        that transaction only (not the rest of the block), or None."""
        data = self._kv.get(block_key(block_hash))
        if data is None:
            return None
        what = f"block {block_hash.hex()}"
        try:
            fields = split_array(data, self._max_block_bytes)
            transactions = split_array(fields[1], self._max_block_bytes) if len(fields) > 1 else []
        except DecodeError as exc:
            raise StoreCorruptError(f"{what}: {exc}") from None
        if not 0 <= position < len(transactions):
            return None
        return self._decode(
            f"{what} transaction {position}",
            transactions[position],
            Transaction,
            self._max_block_bytes,
        )

    def get_header(self, block_hash: bytes) -> BlockHeader | None:
        """The stored header with this block hash, or None."""
        data = self._kv.get(header_key(block_hash))
        if data is None:
            return None
        what = f"header {block_hash.hex()}"
        header = self._decode(what, data, BlockHeader, MAX_HEADER_BYTES)
        stored_hash = sha256(data)  # the encoding is canonical: decode checked it
        if stored_hash != block_hash:
            raise self._damaged(
                f"{what} is damaged: it hashes to {stored_hash.hex()}", header_key(block_hash)
            )
        return header

    def get_block_hash(self, height: int) -> bytes | None:
        """The hash of the main-chain block at `height`, or None above the tip."""
        data = self._kv.get(height_key(height))
        if data is not None and len(data) != HASH_BYTES:
            raise StoreCorruptError(f"height index {height}: {len(data)} bytes, expected 32")
        return data

    def get_undo(self, block_hash: bytes) -> BlockUndo | None:
        """The undo data of a main-chain block, or None."""
        data = self._kv.get(undo_key(block_hash))
        if data is None:
            return None
        max_bytes = self._max_block_bytes + UNDO_OVERHEAD_BYTES
        return self._decode(f"undo {block_hash.hex()}", data, BlockUndo, max_bytes)

    def get_tip(self) -> ChainTip | None:
        """The main chain's last block, or None before `init_genesis`."""
        data = self._kv.get(TIP_KEY)
        if data is None:
            return None
        if len(data) != 8 + HASH_BYTES:
            raise StoreCorruptError(f"tip: {len(data)} bytes, expected {8 + HASH_BYTES}")
        return ChainTip(read_u64be(data[:8]), data[8:])

    def get_utxo_state(self) -> bytes | None:
        """The MuHash3072 state (384 bytes) of the UTXO set at the tip, or None."""
        data = self._kv.get(UTXO_STATE_KEY)
        if data is not None and len(data) != UTXO_STATE_BYTES:
            raise StoreCorruptError(f"utxo state: {len(data)} bytes, expected {UTXO_STATE_BYTES}")
        return data

    def utxo_count(self) -> int:
        """Number of coins in the UTXO set (a counter kept by every commit)."""
        data = self._kv.get(UTXO_COUNT_KEY)
        if data is None:
            return 0
        try:
            return read_u64be(data)
        except DecodeError as exc:
            raise StoreCorruptError(f"utxo count: {exc}") from None

    def iter_utxos(self) -> Iterator[tuple[OutPoint, Coin]]:
        """Every (outpoint, coin) of the UTXO set, by txid then output index;
        DamagedRecordError at the first record that fails its check."""
        for key, value in self._kv.iter_prefix(UTXO_PREFIX):
            yield parse_utxo_key(key), self._read_coin(key, value)

    def get_reported_lock(self, outpoint: OutPoint) -> tuple[bool, bytes | None]:
        """(whether `outpoint` is reported-locked, the locked txid or None)."""
        data = self._kv.get(reported_lock_key(outpoint))
        if data is None:
            return False, None
        return True, _decode_lock_value(data)

    def iter_reported_locks(self) -> Iterator[tuple[OutPoint, bytes | None]]:
        """Every stored reported lock, in outpoint key order."""
        for key, value in self._kv.iter_prefix(REPORTED_LOCK_PREFIX):
            yield parse_reported_lock_key(key), _decode_lock_value(value)

    def get_chain_id(self) -> int | None:
        """The chain id recorded by `init_genesis`, or None."""
        data = self._kv.get(META_CHAIN_ID_KEY)
        if data is None:
            return None
        if len(data) != 4:
            raise StoreCorruptError(f"chain id: {len(data)} bytes, expected 4")
        return int.from_bytes(data, "big")

    def get_genesis_hash(self) -> bytes | None:
        """The genesis block hash recorded by `init_genesis`, or None."""
        data = self._kv.get(META_GENESIS_HASH_KEY)
        if data is not None and len(data) != HASH_BYTES:
            raise StoreCorruptError(f"genesis hash: {len(data)} bytes, expected 32")
        return data

    def verify_blocks(self, count: int) -> int:
        """Check the last `count` main-chain blocks (tip first): the height
        index names a stored header and block, each matching that hash
        (`get_header`, `get_block`), linked to its parent. Return how many
        were checked; raise StoreCorruptError (after `on_damage`) on damage.

        The node runs this at start-up (`STARTUP_CHECK_BLOCKS`) and
        `verifychain` runs it on request, as bitcoind's `-checkblocks`."""
        tip = self.get_tip()
        if tip is None:
            return 0
        expected_hash = tip.block_hash
        checked = 0
        for height in range(tip.height, max(-1, tip.height - count), -1):
            block_hash = self.get_block_hash(height)
            if block_hash != expected_hash:
                found = "nothing" if block_hash is None else block_hash.hex()
                raise self._damaged(
                    f"height index {height} is damaged: it names {found}, "
                    f"the chain from the tip has {expected_hash.hex()}",
                    height_key(height),
                )
            header = self.get_header(block_hash)
            block = self.get_block(block_hash)
            if header is None or block is None:
                missing = "header" if header is None else "block"
                raise self._damaged(
                    f"{missing} {block_hash.hex()} (height {height}) is missing",
                    height_key(height),
                )
            expected_hash = header.prev_hash
            checked += 1
        return checked

    # -- writes -----------------------------------------------------------------

    def init_genesis(
        self,
        block: Block,
        block_hash: bytes,
        undo: BlockUndo,
        created: Mapping[OutPoint, Coin],
        utxo_state: bytes,
        *,
        sync: bool = True,
        extra: WriteBatch | None = None,
    ) -> None:
        """Commit block 0 into an empty chain store, with the chain id and genesis hash.

        `undo` has no spent coins; its `utxo_state_before` is the state of the
        empty set. Raises StorageError if the store already has a chain or the
        block is not at height 0.
        """
        with self._write_lock:
            if self.get_tip() is not None:
                raise StorageError("init_genesis: the store already holds a chain")
            if block.header.height != 0:
                raise StorageError(f"init_genesis: block height is {block.header.height}, not 0")
            if undo.spent:
                raise StorageError(f"init_genesis: undo spends {len(undo.spent)} coins, not 0")
            batch = WriteBatch()
            batch.put(META_CHAIN_ID_KEY, u32be(block.header.chain_id))
            batch.put(META_GENESIS_HASH_KEY, block_hash)
            self._stage_block(batch, block, block_hash, undo, created, (), utxo_state, 0)
            _stage_extra(batch, extra)
            self._kv.write(batch, sync=sync)

    def commit_block(
        self,
        block: Block,
        block_hash: bytes,
        undo: BlockUndo,
        created: Mapping[OutPoint, Coin],
        spent: Sequence[OutPoint],
        utxo_state: bytes,
        *,
        sync: bool = True,
        locks_created: Mapping[OutPoint, bytes | None] | None = None,
        locks_released: Sequence[OutPoint] = (),
        extra: WriteBatch | None = None,
    ) -> None:
        """Append `block` to the main chain in one atomic write.

        `locks_created` and `locks_released` (a `UtxoDelta`'s) are the
        reported-lock changes, written to the `reported_lock` key space in
        the same batch (ADR 0004). `extra` holds further writes that must
        land with the block (the chain state after it, ADR 0010).

        Writes the UTXO changes (`spent` deleted, `created` added; disjoint,
        as in ledger's `UtxoDelta`), the block, its header, the height index,
        the undo data, the new tip and `utxo_state` (the MuHash3072 state
        after the block). Nothing is validated as consensus; the write is
        refused with StorageError, before anything is written, if the block
        does not extend the tip, a spent coin is absent, a created coin is
        already present, or `utxo_state` is not 384 bytes.
        """
        with self._write_lock:
            self._check_writable()
            tip = self.get_tip()
            if tip is None:
                raise StorageError("commit_block: no chain yet; call init_genesis first")
            header = block.header
            if header.height != tip.height + 1 or header.prev_hash != tip.block_hash:
                raise StorageError(
                    f"commit_block: block at height {header.height} on "
                    f"{header.prev_hash.hex()} does not extend tip {tip.height} "
                    f"{tip.block_hash.hex()}"
                )
            count = self.utxo_count()
            batch = WriteBatch()
            self._stage_block(batch, block, block_hash, undo, created, spent, utxo_state, count)
            _stage_locks(batch, locks_created or {}, locks_released)
            _stage_extra(batch, extra)
            self._kv.write(batch, sync=sync)

    def revert_tip(
        self,
        block_hash: bytes,
        restored: Mapping[OutPoint, Coin],
        removed: Sequence[OutPoint],
        utxo_state: bytes,
        *,
        sync: bool = True,
        locks_restored: Mapping[OutPoint, bytes | None] | None = None,
        locks_removed: Sequence[OutPoint] = (),
        extra: WriteBatch | None = None,
    ) -> ChainTip:
        """Undo the tip block in one atomic write; returns the new tip (its parent).

        `locks_restored` and `locks_removed` are the reported-lock changes of
        the undo (the delta of `undo_applied_block`: its `locks_created` and
        `locks_released`); `extra` holds further writes of the same undo
        (the chain state and indexes, `chainstate.revert_applied`).

        The caller computes the change (from `get_undo` and the block):
        `restored` are the coins the block spent, put back; `removed` are the
        coins it created, deleted; `utxo_state` is the state before the block
        (`BlockUndo.utxo_state_before`). The height index entry and the undo
        data of the block are deleted; the block and header stay, stored by
        hash. Raises StorageError, writing nothing, if `block_hash` is not the
        tip, the tip is genesis, or the coin changes do not fit the stored set.
        """
        with self._write_lock:
            tip = self.get_tip()
            if tip is None or tip.block_hash != block_hash:
                raise StorageError(f"revert_tip: {block_hash.hex()} is not the tip ({tip})")
            if tip.height == 0:
                raise StorageError("revert_tip: cannot revert the genesis block")
            header = self.get_header(block_hash)
            if header is None:
                raise StoreCorruptError(f"revert_tip: no header for tip {block_hash.hex()}")
            new_tip = ChainTip(tip.height - 1, header.prev_hash)
            if self.get_block_hash(new_tip.height) != new_tip.block_hash:
                raise StoreCorruptError(
                    f"revert_tip: height index {new_tip.height} does not hold the tip's parent"
                )
            self._check_utxo_state(utxo_state)
            self._check_coin_changes(created=restored, spent=removed, what="revert_tip")
            count = self.utxo_count() + len(restored) - len(removed)
            batch = WriteBatch()
            for outpoint in removed:
                batch.delete(utxo_key(outpoint))
            for outpoint, coin in restored.items():
                key = utxo_key(outpoint)
                batch.put(key, encode_coin_record(key, coin))
            batch.delete(height_key(tip.height))
            batch.delete(undo_key(block_hash))
            batch.put(TIP_KEY, u64be(new_tip.height) + new_tip.block_hash)
            batch.put(UTXO_STATE_KEY, utxo_state)
            batch.put(UTXO_COUNT_KEY, u64be(count))
            _stage_locks(batch, locks_restored or {}, locks_removed)
            _stage_extra(batch, extra)
            self._kv.write(batch, sync=sync)
            return new_tip

    def _check_writable(self) -> None:
        if self.stored_schema_version != SCHEMA_VERSION:
            raise StorageError(
                f"the store has schema version {self.stored_schema_version}: it must be "
                f"migrated to {SCHEMA_VERSION} before blocks are added"
            )

    def _check_utxo_state(self, utxo_state: bytes) -> None:
        if len(utxo_state) != UTXO_STATE_BYTES:
            raise StorageError(f"utxo state: {len(utxo_state)} bytes, expected {UTXO_STATE_BYTES}")

    def _check_coin_changes(
        self, *, created: Mapping[OutPoint, Coin], spent: Sequence[OutPoint], what: str
    ) -> None:
        """Refuse changes that do not fit the stored set (they would corrupt the count)."""
        if len(set(spent)) != len(spent):
            raise StorageError(f"{what}: an outpoint is spent twice")
        for outpoint in spent:
            if outpoint in created:
                raise StorageError(f"{what}: {outpoint} is both created and spent")
            if not self.has_coin(outpoint):
                raise StorageError(f"{what}: spends absent coin {outpoint}")
        for outpoint in created:
            if self.has_coin(outpoint):
                raise StorageError(f"{what}: creates coin {outpoint} that already exists")

    def _stage_block(
        self,
        batch: WriteBatch,
        block: Block,
        block_hash: bytes,
        undo: BlockUndo,
        created: Mapping[OutPoint, Coin],
        spent: Sequence[OutPoint],
        utxo_state: bytes,
        count_before: int,
    ) -> None:
        """Check and add to `batch` everything one block commit writes."""
        height = block.header.height
        self._stage_state(batch, block_hash, undo, created, spent, utxo_state, count_before)
        batch.put(block_key(block_hash), encode(block))
        batch.put(header_key(block_hash), encode(block.header))
        batch.put(height_key(height), block_hash)
        batch.put(TIP_KEY, u64be(height) + block_hash)

    def _stage_state(
        self,
        batch: WriteBatch,
        block_hash: bytes,
        undo: BlockUndo,
        created: Mapping[OutPoint, Coin],
        spent: Sequence[OutPoint],
        utxo_state: bytes,
        count_before: int,
    ) -> None:
        """Check and add to `batch` the coin changes, the undo data, the UTXO
        state and count of one block (what a reindex rewrites)."""
        self._check_utxo_state(utxo_state)
        self._check_coin_changes(created=created, spent=spent, what="commit")
        for outpoint in spent:
            batch.delete(utxo_key(outpoint))
        for outpoint, coin in created.items():
            key = utxo_key(outpoint)
            batch.put(key, encode_coin_record(key, coin))
        batch.put(undo_key(block_hash), encode(undo))
        batch.put(UTXO_STATE_KEY, utxo_state)
        batch.put(UTXO_COUNT_KEY, u64be(count_before + len(created) - len(spent)))

    def commit_state(
        self,
        block_hash: bytes,
        undo: BlockUndo,
        created: Mapping[OutPoint, Coin],
        spent: Sequence[OutPoint],
        utxo_state: bytes,
        *,
        sync: bool = True,
        locks_created: Mapping[OutPoint, bytes | None] | None = None,
        locks_released: Sequence[OutPoint] = (),
        extra: WriteBatch | None = None,
    ) -> None:
        """Apply the chain-state changes of an already stored block, in one
        atomic write: coins, undo data, UTXO state and count, reported locks
        and `extra` (the registry); blocks, heights and the tip are left as
        they are. Used by a reindex, which rebuilds the state from the
        stored blocks. Refused (StorageError, nothing written) when the coin
        changes do not fit the stored set."""
        with self._write_lock:
            self._check_writable()
            batch = WriteBatch()
            count = self.utxo_count()
            self._stage_state(batch, block_hash, undo, created, spent, utxo_state, count)
            _stage_locks(batch, locks_created or {}, locks_released)
            _stage_extra(batch, extra)
            self._kv.write(batch, sync=sync)


def _decode_lock_value(data: bytes) -> bytes | None:
    if not data:
        return None
    if len(data) != HASH_BYTES:
        raise StoreCorruptError(f"reported lock: {len(data)} bytes, expected 0 or {HASH_BYTES}")
    return data


def _stage_extra(batch: WriteBatch, extra: WriteBatch | None) -> None:
    if extra is not None:
        for key, value in extra:
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)


def _stage_locks(
    batch: WriteBatch,
    created: Mapping[OutPoint, bytes | None],
    released: Sequence[OutPoint],
) -> None:
    """Add reported-lock changes to `batch`: releases deleted, creations written
    (the txid, or empty for a lock to no transaction)."""
    for outpoint in released:
        batch.delete(reported_lock_key(outpoint))
    for outpoint, txid in created.items():
        batch.put(reported_lock_key(outpoint), txid or b"")

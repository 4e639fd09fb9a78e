"""Node-local state over the chain store: the consensus WAL, the certificate
of the tip, and the p2p address book, in the key spaces of
`timecoin.storage.schema`.

- WAL records go under `consensus_wal` with increasing sequence numbers,
  sealed by `SequentialLog` (`node/seqlog.py`) so that a lost or changed
  record stops the node at start-up;
  `append_wal` writes a group of records in one synced LMDB transaction
  (the fsync a `PersistWal` needs before the next effect), and
  `prune_wal` drops the records of heights below the one being decided.
- The certificate of the tip (blocks carry the certificate of their
  parent, so the tip's own is kept here) is the meta entry
  `tip_certificate`; catch-up serves it with the tip.
- `StoreAddressBook` is the p2p `AddressStore`: one `peer` entry per
  address, replaced as a whole by `save`.
- `FinalityWalLog` is the finality machine's WAL (`finality_wal`): vote
  locks and epoch reports, appended in one synced write per group.
- `FinalTxStore` keeps final-but-unblocked transactions with their proofs
  (`final_tx`, `final_txid`), written durably before they are reported
  final, deleted once a block includes or conflicts them.
- The last signed heartbeat sequence is the `node_state` entry
  `heartbeat_sequence` (`load_heartbeat_sequence`, `save_heartbeat_sequence`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Final, TypeVar

import msgspec

from timecoin.consensus import WalRecord, decode_wal_record, encode_wal_record, get_record_height
from timecoin.consensus.finality_wal import (
    FinalityWalRecord,
    decode_finality_wal_record,
    encode_finality_wal_record,
    get_finality_wal_record_epoch,
)
from timecoin.encoding import DecodeError, decode, encode
from timecoin.node.seqlog import SequentialLog
from timecoin.p2p.addrbook import AddressEntry, decode_address_entries, encode_address_entries
from timecoin.storage import ChainStore, KVStore, StoreCorruptError, WriteBatch
from timecoin.storage.schema import (
    CONSENSUS_WAL_PREFIX,
    FINAL_TX_PREFIX,
    FINALITY_WAL_PREFIX,
    PEER_PREFIX,
    consensus_wal_key,
    final_tx_key,
    final_txid_key,
    finality_wal_key,
    meta_key,
    node_state_key,
    parse_sequence_key,
    peer_key,
)
from timecoin.types import Certificate, FinalityProof, Transaction, compute_txid

TIP_CERTIFICATE_KEY: Final = meta_key(b"tip_certificate")
MAX_CERTIFICATE_BYTES: Final = 1_000_000
R = TypeVar("R")
HEARTBEAT_SEQUENCE_KEY: Final = node_state_key(b"heartbeat_sequence")
CONSENSUS_WAL_HEAD_KEY: Final = node_state_key(b"consensus_wal_head")
FINALITY_WAL_HEAD_KEY: Final = node_state_key(b"finality_wal_head")
MAX_FINAL_TX_BYTES: Final = 64_000_000
"""Cap when decoding one stored final transaction with its proof."""


class WalLog(SequentialLog[WalRecord]):
    """The consensus write-ahead log of one node (`consensus_wal`)."""

    def __init__(self, kv: KVStore, *, accept_damage: bool = False) -> None:
        """Open the log in `kv`; WalDamagedError on damage unless `accept_damage`."""
        super().__init__(
            kv,
            CONSENSUS_WAL_PREFIX,
            consensus_wal_key,
            encode_wal_record,
            decode_wal_record,
            "consensus WAL",
            CONSENSUS_WAL_HEAD_KEY,
            accept_damage=accept_damage,
        )

    def prune(self, below_height: int) -> int:
        """Delete the records of heights below `below_height`; return how many."""
        return self.prune_where(lambda record: get_record_height(record) < below_height)


def save_tip_certificate(kv: KVStore, certificate: Certificate) -> None:
    """Store the certificate of the tip (synced)."""
    batch = WriteBatch()
    batch.put(TIP_CERTIFICATE_KEY, encode(certificate))
    kv.write(batch, sync=True)


def load_tip_certificate(kv: KVStore) -> Certificate | None:
    """The stored certificate of the tip, or None."""
    data = kv.get(TIP_CERTIFICATE_KEY)
    if data is None:
        return None
    try:
        return decode(data, Certificate, MAX_CERTIFICATE_BYTES)
    except DecodeError as exc:
        raise StoreCorruptError(f"tip certificate: {exc}") from None


def get_certificate(chain: ChainStore, height: int) -> Certificate | None:
    """The certificate that committed block `height`: the next block's
    `prev_certificate`, or the stored tip certificate for the tip."""
    tip = chain.get_tip()
    if tip is None or not 1 <= height <= tip.height:
        return None
    if height == tip.height:
        certificate = load_tip_certificate(chain.kv)
        return certificate if certificate is not None and certificate.height == height else None
    next_hash = chain.get_block_hash(height + 1)
    block = None if next_hash is None else chain.get_block(next_hash)
    return None if block is None else block.prev_certificate


class StoreAddressBook:
    """The p2p `AddressStore` over the `peer` key space."""

    def __init__(self, kv: KVStore) -> None:
        """Addresses kept in `kv`."""
        self._kv = kv

    def load(self) -> list[AddressEntry]:
        """The saved entries (undecodable ones are skipped: the book is advisory)."""
        entries: list[AddressEntry] = []
        for _, value in self._kv.iter_prefix(PEER_PREFIX):
            try:
                entries.extend(decode_address_entries(value))
            except DecodeError:
                continue
        return entries

    def save(self, entries: list[AddressEntry]) -> None:
        """Replace the saved entries with `entries`, durably."""
        batch = WriteBatch()
        keep: set[bytes] = set()
        for entry in entries:
            address = f"{entry.host}:{entry.port}".encode()
            try:
                key = peer_key(address)
            except ValueError:
                continue
            keep.add(key)
            batch.put(key, encode_address_entries([entry]))
        for key, _ in self._kv.iter_prefix(PEER_PREFIX):
            if key not in keep:
                batch.delete(key)
        self._kv.write(batch, sync=True)


class StoredFinalTx(msgspec.Struct, array_like=True, frozen=True):
    """The value of a `final_tx` entry: a final transaction and its proof."""

    tx: Transaction
    proof: FinalityProof


class FinalityWalLog(SequentialLog[FinalityWalRecord]):
    """The finality machine's write-ahead log (`finality_wal`): vote locks and
    epoch reports, one synced write per group (the group commit of a vote batch)."""

    def __init__(self, kv: KVStore, *, accept_damage: bool = False) -> None:
        """Open the log in `kv`; WalDamagedError on damage unless `accept_damage`."""
        super().__init__(
            kv,
            FINALITY_WAL_PREFIX,
            finality_wal_key,
            encode_finality_wal_record,
            decode_finality_wal_record,
            "finality WAL",
            FINALITY_WAL_HEAD_KEY,
            accept_damage=accept_damage,
        )

    def prune(self, below_epoch: int) -> int:
        """Delete the records of epochs below `below_epoch`; return how many."""
        return self.prune_where(lambda record: _record_epoch(record) < below_epoch)


def _record_epoch(record: FinalityWalRecord) -> int:
    """The epoch of a finality WAL record."""
    return get_finality_wal_record_epoch(record)


class FinalTxStore:
    """Final transactions not yet in a block, with their proofs (`final_tx`,
    `final_txid`), so a restarted node still reports them final."""

    def __init__(self, kv: KVStore) -> None:
        """Open the store in `kv`."""
        self._kv = kv
        self._lock = threading.Lock()
        last = -1
        for key, _ in kv.iter_prefix(FINAL_TX_PREFIX):
            last = parse_sequence_key(FINAL_TX_PREFIX, key)
        self._next_sequence = last + 1

    def put(self, items: Sequence[tuple[Transaction, FinalityProof]]) -> None:
        """Store `items` durably (one synced write). Thread-safe."""
        if not items:
            return
        with self._lock:
            batch = WriteBatch()
            sequence = self._stage(batch, items)
            self._kv.write(batch, sync=True)
            self._next_sequence = sequence

    def put_with_wal(
        self,
        items: Sequence[tuple[Transaction, FinalityProof]],
        wal: FinalityWalLog,
        records: Sequence[FinalityWalRecord],
    ) -> None:
        """Append `records` to `wal` and store `items`, in ONE synced write
        (the finality worker's group commit: every lock and every final
        transaction of a group of inputs costs one fsync). Both must live in
        the same store. Thread-safe."""
        if wal._kv is not self._kv:
            raise ValueError("the finality WAL and the final transactions must share one store")
        if not items and not records:
            return
        with wal._lock, self._lock:
            batch = WriteBatch()
            wal_staged = wal._stage(batch, records) if records else None
            store_next = self._stage(batch, items)
            self._kv.write(batch, sync=True)
            if wal_staged is not None:
                wal._advance(wal_staged)
            self._next_sequence = store_next

    def _stage(self, batch: WriteBatch, items: Sequence[tuple[Transaction, FinalityProof]]) -> int:
        """Put `items` into `batch` after the last stored one; return the
        sequence number that follows them (hold `_lock`)."""
        sequence = self._next_sequence
        for tx, proof in items:
            batch.put(final_tx_key(sequence), encode(StoredFinalTx(tx, proof)))
            batch.put(final_txid_key(compute_txid(tx)), sequence.to_bytes(8, "big"))
            sequence += 1
        return sequence

    def delete(self, txids: Iterable[bytes]) -> int:
        """Forget the entries of `txids` (in a block, or conflicted); return how many."""
        with self._lock:
            batch = WriteBatch()
            for txid in txids:
                value = self._kv.get(final_txid_key(txid))
                if value is None:
                    continue
                batch.delete(final_txid_key(txid))
                batch.delete(final_tx_key(int.from_bytes(value, "big")))
            if len(batch):
                self._kv.write(batch, sync=False)
            return len(batch) // 2

    def load(self) -> list[tuple[Transaction, FinalityProof]]:
        """Every stored entry, in the order they became final."""
        items: list[tuple[Transaction, FinalityProof]] = []
        for key, value in self._kv.iter_prefix(FINAL_TX_PREFIX):
            try:
                stored = decode(value, StoredFinalTx, MAX_FINAL_TX_BYTES)
            except DecodeError as exc:
                raise StoreCorruptError(f"final transaction {key.hex()}: {exc}") from None
            items.append((stored.tx, stored.proof))
        return items


def load_heartbeat_sequence(kv: KVStore) -> int:
    """The last heartbeat sequence this node signed (0: none yet)."""
    value = kv.get(HEARTBEAT_SEQUENCE_KEY)
    return 0 if value is None else int.from_bytes(value, "big")


def save_heartbeat_sequence(kv: KVStore, sequence: int) -> None:
    """Record `sequence` as signed, durably, before its heartbeat leaves."""
    batch = WriteBatch()
    batch.put(HEARTBEAT_SEQUENCE_KEY, sequence.to_bytes(8, "big"))
    kv.write(batch, sync=True)

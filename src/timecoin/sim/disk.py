"""The simulated disk of one node: committed blocks, the consensus WAL, the
finality WAL and the final-but-unblocked transactions with their proofs.

What is on the disk survives a crash; everything else a node holds (its
chain state, UTXO set, pools, consensus machine) is rebuilt from it on
restart. Writes are durable at once (the simulator's fsync), so a crash
keeps every write made before it and nothing after.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from timecoin.consensus import WalRecord, decode_wal_record, encode_wal_record, get_record_height
from timecoin.consensus.finality_wal import (
    FinalityWalRecord,
    decode_finality_wal_record,
    encode_finality_wal_record,
    get_finality_wal_record_epoch,
)
from timecoin.encoding import decode, encode
from timecoin.types import Block, Certificate, FinalityProof, Transaction

MAX_FINAL_RECORD_BYTES = 16_000_000
"""Largest stored final transaction record (decoder limit)."""


@dataclass(slots=True)
class SimDisk:
    """Committed blocks with their certificates (heights 1, 2, ...), the
    consensus WAL, the finality WAL (locks and reports) and the final
    transactions not yet in a block (`final_tx`, txid -> encoded
    (transaction, proof)).

    Records are kept as the bytes their encoders give, and decoded again on
    restart, as a real log would be.
    """

    blocks: list[tuple[Block, Certificate]] = field(default_factory=list)
    wal: list[bytes] = field(default_factory=list)
    wal_appends: int = 0
    finality_wal: list[bytes] = field(default_factory=list)
    final_tx: dict[bytes, bytes] = field(default_factory=dict)
    last_append_finality: bool = False

    @property
    def height(self) -> int:
        """The height of the last committed block (0: genesis only)."""
        return len(self.blocks)

    def append_wal(self, record: WalRecord) -> None:
        """Append `record` to the log (durable at once)."""
        self.wal.append(encode_wal_record(record))
        self.wal_appends += 1
        self.last_append_finality = False

    def read_wal(self) -> list[WalRecord]:
        """Every record in the log, decoded, in append order.

        Raises `timecoin.encoding.DecodeError` when a record is corrupt.
        """
        return [decode_wal_record(data) for data in self.wal]

    def store_block(self, block: Block, certificate: Certificate) -> None:
        """Store the next committed block, then drop the WAL records of its
        height and below (they are no longer needed once the block is durable).

        Raises AssertionError when `block` is not the next height (a driver bug).
        """
        height = block.header.height
        if height != self.height + 1:
            raise AssertionError(f"disk holds height {self.height}, asked to store {height}")
        self.blocks.append((block, certificate))
        self.wal = [
            data for data in self.wal if get_record_height(decode_wal_record(data)) > height
        ]

    def get_block(self, height: int) -> tuple[Block, Certificate] | None:
        """The committed block at `height` with its certificate, or None."""
        if 1 <= height <= len(self.blocks):
            return self.blocks[height - 1]
        return None

    def append_finality_wal(self, record: FinalityWalRecord) -> None:
        """Append `record` to the finality log (durable at once)."""
        self.finality_wal.append(encode_finality_wal_record(record))
        self.wal_appends += 1
        self.last_append_finality = True

    def read_finality_wal(self) -> list[FinalityWalRecord]:
        """Every finality record, decoded, in append order (DecodeError when corrupt)."""
        return [decode_finality_wal_record(data) for data in self.finality_wal]

    def prune_finality_wal(self, epoch: int) -> None:
        """Drop the finality records of epochs before `epoch`."""
        kept = []
        for data in self.finality_wal:
            record = decode_finality_wal_record(data)
            if get_finality_wal_record_epoch(record) >= epoch:
                kept.append(data)
        self.finality_wal = kept

    def store_final(self, txid: bytes, tx: Transaction, proof: FinalityProof) -> None:
        """Store a final transaction with its proof (durable at once)."""
        self.final_tx[txid] = encode((tx, proof))

    def drop_final(self, txids: list[bytes]) -> None:
        """Forget final transactions that are now in a block (or conflicted)."""
        for txid in txids:
            self.final_tx.pop(txid, None)

    def read_final(self) -> list[tuple[Transaction, FinalityProof]]:
        """The stored final transactions with their proofs, in storing order."""
        return [
            decode(data, tuple[Transaction, FinalityProof], MAX_FINAL_RECORD_BYTES)
            for data in self.final_tx.values()
        ]

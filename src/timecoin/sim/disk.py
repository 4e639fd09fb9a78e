"""The simulated disk of one node: committed blocks and the consensus WAL.

What is on the disk survives a crash; everything else a node holds (its
chain state, UTXO set, pools, consensus machine) is rebuilt from it on
restart. Writes are durable at once (the simulator's fsync), so a crash
keeps every write made before it and nothing after.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from timecoin.consensus import WalRecord, decode_wal_record, encode_wal_record, get_record_height
from timecoin.types import Block, Certificate


@dataclass(slots=True)
class SimDisk:
    """Committed blocks with their certificates (heights 1, 2, ...) and the WAL.

    WAL records are kept as the bytes `encode_wal_record` gives, and decoded
    again on restart, as a real log would be.
    """

    blocks: list[tuple[Block, Certificate]] = field(default_factory=list)
    wal: list[bytes] = field(default_factory=list)
    wal_appends: int = 0

    @property
    def height(self) -> int:
        """The height of the last committed block (0: genesis only)."""
        return len(self.blocks)

    def append_wal(self, record: WalRecord) -> None:
        """Append `record` to the log (durable at once)."""
        self.wal.append(encode_wal_record(record))
        self.wal_appends += 1

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
